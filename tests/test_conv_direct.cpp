// The direct convolutions for few input channels (core/conv_direct.cpp,
// core/conv_planar.cpp) against the seven-loop reference, through
// conv2d_forward's dispatch and called on their own: strides, padding, edges
// and activations.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "core/conv.h"
#include "core/conv_direct.h"
#include "core/conv_planar.h"
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
      if (!conv_direct_applies(g)) continue;  // no SIMD, or (AVX2) F over one vector
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

TEST_CASE("the direct weight gradient matches the reference, with and without dx") {
  Rng rng(22);
  for (const Case& k : kCases)
    for (int threads : {1, 2})
      for (bool with_dx : {false, true}) {
        ck::test::ThreadScope t(threads);
        const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.K, k.K, k.S, k.S, k.same, k.F);
        CAPTURE(fmt::format("{}x{}x{} k{} s{} {} F{} threads {} dx {}", k.H, k.W, k.C, k.K, k.S,
                            k.same ? "same" : "valid", k.F, threads, with_dx));
        if (!conv_direct_applies(g)) continue;  // no SIMD, or (AVX2) F over one vector
        const int64_t N = 5;
        Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
        Tensor w = ck::test::random_tensor({k.K, k.K, k.C, k.F}, rng);
        Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, k.F}, rng);
        Tensor dw(w.shape()), db({k.F}), dx(x.shape()), dw1(w.shape());
        Tensor dwr(w.shape()), dbr({k.F}), dxr(x.shape());
        dw.fill(NAN), db.fill(NAN), dx.fill(NAN);  // overwritten, not accumulated
        ConvWorkspace ws;
        conv2d_backward(x.data(), w.data(), dz.data(), with_dx ? dx.data() : nullptr, dw.data(),
                        db.data(), N, g, ws);
        conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(),
                                  dbr.data(), N, g);
        CHECK(max_scaled_diff(dw, dwr) < 1e-4);
        CHECK(max_scaled_diff(db, dbr) < 1e-4);
        if (with_dx) CHECK(max_scaled_diff(dx, dxr) < 1e-4);
        // The kernel itself, image by image (conv2d_backward may route a
        // layer with filters in slivers of 32 to the tiled kernel instead).
        dw1.fill(0.0f);
        for (int64_t n = 0; n < N; ++n)
          conv2d_backward_weights_direct(x.data() + n * g.in_size(), dz.data() + n * g.out_size(),
                                         dw1.data(), g);
        CHECK(max_scaled_diff(dw1, dwr) < 1e-4);
      }
}

namespace {

// Where the planar kernels apply (stride 1, C <= 4, F below the lanes, rows
// a vector wide): one vector per row exactly, a masked-off tail (OW = 33, 25),
// one and two blocks of filters (F = 1..8, 9, 12, 15), kernels 1 to 7 wide,
// even ones with same padding's extra row and column at the end.
const Case kPlanarCases[] = {
    {28, 28, 1, 5, 1, true, 6},   {7, 33, 3, 3, 1, true, 6},    {9, 30, 2, 4, 1, true, 1},
    {20, 18, 3, 3, 1, false, 8},  {17, 40, 4, 5, 1, true, 15},  {24, 31, 2, 7, 1, false, 9},
    {5, 64, 1, 3, 1, true, 12},   {30, 20, 3, 1, 1, false, 3},  {3, 16, 1, 2, 1, true, 5},
    {32, 32, 3, 3, 1, true, 7},   {12, 17, 4, 6, 1, true, 2},   {6, 19, 3, 3, 1, true, 4},
};

}  // namespace

TEST_CASE("conv2d_forward_planar sums as conv2d_forward_direct does, bit for bit") {
  Rng rng(23);
  int ran = 0;
  for (const Case& k : kPlanarCases)
    for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid}) {
      const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.K, k.K, k.S, k.S, k.same, k.F);
      CAPTURE(fmt::format("{}x{}x{} k{} {} F{} {}", k.H, k.W, k.C, k.K,
                          k.same ? "same" : "valid", k.F, activation_name(act)));
      if (!conv_planar_applies(g)) continue;  // no SIMD, or (AVX2) F >= 8
      ++ran;
      CHECK(conv_direct_applies(g));
      const int64_t N = 2;
      Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
      Tensor w = ck::test::random_tensor({k.K, k.K, k.C, k.F}, rng);
      Tensor b = ck::test::random_tensor({k.F}, rng);
      for (const float* bias : std::initializer_list<const float*>{b.data(), nullptr}) {
        Tensor yp({N, g.OH, g.OW, k.F}), yd(yp.shape()), yr(yp.shape()), yc(yp.shape());
        yp.fill(NAN), yc.fill(NAN);  // every output must be written
        for (int64_t n = 0; n < N; ++n) {
          conv2d_forward_planar(x.data() + n * g.in_size(), w.data(), bias, act,
                                yp.data() + n * g.out_size(), g);
          conv2d_forward_direct(x.data() + n * g.in_size(), w.data(), bias, act,
                                yd.data() + n * g.out_size(), g);
        }
        for (int64_t i = 0; i < yp.size(); ++i)
          if (yp[i] != yd[i]) {
            FAIL_CHECK(fmt::format("output {}: planar {} direct {}", i, yp[i], yd[i]));
            break;
          }
        conv2d_forward_reference(x.data(), w.data(), bias, yr.data(), N, g);
        bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, k.F, act);
        CHECK(max_scaled_diff(yp, yr) < 1e-5);
        // conv2d_forward dispatches to it.
        ConvWorkspace ws;
        conv2d_forward(x.data(), w.data(), bias, act, yc.data(), N, g, ws);
        CHECK(std::equal(yc.data(), yc.data() + yc.size(), yp.data()));
      }
    }
#if defined(__AVX2__) && defined(__FMA__)
  CHECK(ran >= 8);  // (AVX2: the cases with F < 8)
#endif
}

TEST_CASE("conv2d_backward_weights_planar adds the reference's weight gradient") {
  Rng rng(24);
  int ran = 0;
  for (const Case& k : kPlanarCases) {
    const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.K, k.K, k.S, k.S, k.same, k.F);
    CAPTURE(fmt::format("{}x{}x{} k{} {} F{}", k.H, k.W, k.C, k.K, k.same ? "same" : "valid",
                        k.F));
    if (!conv_planar_applies(g)) continue;
    ++ran;
    const int64_t N = 3;
    Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
    Tensor w = ck::test::random_tensor({k.K, k.K, k.C, k.F}, rng);
    Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, k.F}, rng);
    Tensor dwr(w.shape()), dbr({k.F}), dxr(x.shape());
    conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), dbr.data(),
                              N, g);
    // On its own it adds to dw: start from 1.
    Tensor dw(w.shape());
    dw.fill(1.0f);
    conv2d_backward_weights_planar(x.data(), dz.data(), N, dw.data(), g);
    for (int64_t i = 0; i < dw.size(); ++i) dw[i] -= 1.0f;
    CHECK(max_scaled_diff(dw, dwr) < 1e-4);
    // Through conv2d_backward (no dx: the first layer), on 1 and 2 threads.
    for (int threads : {1, 2}) {
      ck::test::ThreadScope t(threads);
      Tensor dwc(w.shape()), dbc({k.F});
      dwc.fill(NAN);
      ConvWorkspace ws;
      conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dwc.data(), dbc.data(), N, g, ws);
      CHECK(max_scaled_diff(dwc, dwr) < 1e-4);
      CHECK(max_scaled_diff(dbc, dbr) < 1e-4);
    }
  }
#if defined(__AVX2__) && defined(__FMA__)
  CHECK(ran >= 8);  // (AVX2: the cases with F < 8)
#endif
}
