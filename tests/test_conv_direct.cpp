// The direct convolution for few input channels (core/conv_direct.cpp)
// against the seven-loop reference, through conv2d_forward's dispatch and
// called on its own: strides, padding, edges and activations.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/conv.h"
#include "core/kernels.h"
#include "tests/helpers.h"

using namespace ck;

namespace {

double max_scaled_diff(const Tensor& a, const Tensor& b) {
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double{a[i]} - b[i]) / (1.0 + std::abs(double{b[i]}));
    if (std::isnan(d)) return INFINITY;  // an output left unwritten
    worst = std::max(worst, d);
  }
  return worst;
}

struct Case {
  int64_t H, W, C;
  int K, S;
  bool same;
  int64_t F;
};

// Strides, padding, edges, kernels larger than the image, and every filter
// layout: multiples of 16, 8-lane widths (F = 8, 24, 6), padded at 16 lanes
// with a masked tail (F = 10, 21, 40, 11), a single filter; C from 1 to 16.
const Case kCases[] = {
    {28, 28, 1, 5, 1, true, 32}, {32, 32, 3, 3, 1, false, 32}, {13, 21, 3, 3, 2, true, 16},
    {9, 30, 2, 4, 1, true, 48},  {11, 19, 4, 3, 3, false, 64}, {5, 3, 1, 5, 1, true, 16},
    {1, 6, 3, 5, 2, true, 16},   {20, 37, 3, 7, 2, true, 64},  {8, 8, 3, 1, 1, false, 32},
    {28, 28, 1, 5, 1, true, 6},  {13, 21, 3, 3, 2, true, 21},  {9, 30, 2, 4, 1, true, 1},
    {10, 12, 1, 3, 1, true, 8},  {14, 15, 3, 3, 1, true, 24},  {7, 33, 3, 3, 1, true, 6},
    {12, 9, 2, 5, 1, false, 40}, {11, 10, 2, 3, 1, true, 10},
    // More channels with one vector of filters: LeNet's second layer, C = 16.
    {14, 14, 6, 5, 1, false, 16}, {9, 11, 16, 3, 1, true, 16},  {10, 13, 7, 3, 2, true, 6},
    {8, 8, 12, 3, 1, false, 11},  {12, 12, 16, 5, 1, true, 8},
};

}  // namespace

TEST_CASE("conv2d_forward_direct matches the reference (C <= 4, or C <= 16 with F <= 16)") {
  Rng rng(21);
  for (const Case& k : kCases)
    for (Activation act :
         {Activation::linear, Activation::relu, Activation::tanh, Activation::softmax}) {
      const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.K, k.K, k.S, k.S, k.same, k.F);
      CAPTURE(fmt::format("{}x{}x{} k{} s{} {} F{} {}", k.H, k.W, k.C, k.K, k.S,
                          k.same ? "same" : "valid", k.F, activation_name(act)));
      if (!conv_direct_applies(g)) {
        // No SIMD, or (AVX2) more filters than one vector: neither pass is direct.
        CHECK(!conv_direct_weights_applies(g));
        continue;
      }
      const int64_t N = 3;
      Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
      Tensor w = ck::test::random_tensor({k.K, k.K, k.C, k.F}, rng);
      Tensor b = ck::test::random_tensor({k.F}, rng);
      Tensor y({N, g.OH, g.OW, k.F}), yr(y.shape()), y1(y.shape());
      y.fill(NAN), y1.fill(NAN);  // every output must be written
      ConvWorkspace ws;
      conv2d_forward(x.data(), w.data(), b.data(), act, y.data(), N, g, ws);
      for (int64_t n = 0; n < N; ++n)
        conv2d_forward_direct(x.data() + n * g.in_size(), w.data(), b.data(), act,
                              y1.data() + n * g.out_size(), g);
      conv2d_forward_reference(x.data(), w.data(), b.data(), yr.data(), N, g);
      bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, k.F, act);
      CHECK(max_scaled_diff(y, yr) < 1e-5);
      CHECK(max_scaled_diff(y1, yr) < 1e-5);
      // Without a bias (bias and ReLU are applied in the kernel's registers).
      y1.fill(NAN);
      for (int64_t n = 0; n < N; ++n)
        conv2d_forward_direct(x.data() + n * g.in_size(), w.data(), nullptr, act,
                              y1.data() + n * g.out_size(), g);
      conv2d_forward_reference(x.data(), w.data(), nullptr, yr.data(), N, g);
      bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, k.F, act);
      CHECK(max_scaled_diff(y1, yr) < 1e-5);
    }
}

TEST_CASE("conv2d_backward's direct weight gradient (no dx, C <= 4) matches the reference") {
  Rng rng(22);
  for (const Case& k : kCases)
    for (int threads : {1, 2}) {
      ck::test::ThreadScope t(threads);
      const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.K, k.K, k.S, k.S, k.same, k.F);
      CAPTURE(fmt::format("{}x{}x{} k{} s{} {} F{} threads {}", k.H, k.W, k.C, k.K, k.S,
                          k.same ? "same" : "valid", k.F, threads));
      if (!conv_direct_weights_applies(g)) continue;  // C > 4, or no SIMD
      const int64_t N = 5;
      Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
      Tensor w = ck::test::random_tensor({k.K, k.K, k.C, k.F}, rng);
      Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, k.F}, rng);
      Tensor dw(w.shape()), db({k.F}), dwr(w.shape()), dbr({k.F}), dxr(x.shape());
      dw.fill(NAN), db.fill(NAN);  // overwritten, not accumulated
      ConvWorkspace ws;
      conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dw.data(), db.data(), N, g, ws);
      conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), dbr.data(),
                                N, g);
      CHECK(max_scaled_diff(dw, dwr) < 1e-4);
      CHECK(max_scaled_diff(db, dbr) < 1e-4);
    }
}
