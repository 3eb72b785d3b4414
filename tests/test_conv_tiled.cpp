// The register-tiled direct convolution (core/conv_tiled.cpp) against the
// seven-loop reference, called on its own and through conv2d_forward's and
// conv2d_backward's dispatch: rows that are not a multiple of the tile, same
// and valid padding, even kernels, several slivers of filters, threads.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "core/conv.h"
#include "core/conv_tiled.h"
#include "core/kernels.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::scaled_diff;

namespace {

struct TiledCase {
  int64_t H, W, C;
  int KH, KW;
  bool same;
  int64_t F;  // in slivers: F = slivers * conv_tiled_sliver()
  int64_t C_slivers;  // C = C_slivers * sliver when nonzero (the data gradient runs tiled)
};

// Fashion-MNIST's second layer (14x14, 5x5, 32 -> 64), rows of 1 to 30
// pixels (one tile, a tile and a rest, several tiles), 1x1 and 3x3 kernels,
// an even kernel (same pads after), kernels wider than the image, valid
// padding, and channels that are and are not a multiple of the sliver.
const TiledCase kTiledCases[] = {
    {14, 14, 0, 5, 5, true, 2, 1},
    {7, 30, 0, 3, 3, true, 1, 2},
    {5, 1, 0, 3, 3, true, 1, 1},
    {9, 17, 5, 3, 3, false, 3, 0},
    {6, 9, 0, 4, 4, true, 1, 1},
    {3, 4, 0, 5, 5, true, 2, 1},
    {8, 15, 0, 1, 1, false, 1, 1},
    {10, 6, 0, 2, 3, false, 2, 1},
    {12, 29, 9, 5, 3, true, 1, 0},
    // Several bands of rows in the weight gradient (later bands add to dw),
    // a 2x1 kernel whose padding is all after (the image cannot be read in
    // place), and more slivers than one group of the forward pass holds.
    {60, 60, 0, 3, 3, true, 2, 1},
    {8, 9, 0, 2, 1, true, 1, 1},
    {6, 5, 0, 3, 3, true, 3, 6},
};

TiledCase sized(TiledCase k) {
  if (k.C_slivers > 0) k.C = k.C_slivers * conv_tiled_sliver();
  k.F *= conv_tiled_sliver();
  return k;
}

std::string describe(const TiledCase& k) {
  return fmt::format("{}x{}x{} k{}x{} {} F{}", k.H, k.W, k.C, k.KH, k.KW, k.same ? "same" : "valid",
                     k.F);
}

// Sums up to 1600 products long, in float against the reference's double.
constexpr double kTolerance = 1e-4;

}  // namespace

TEST_CASE("conv_tiled_applies: stride 1, F in whole slivers, C too for the data gradient") {
  const int S = conv_tiled_sliver();
  if (S == 0) {  // a build without FMA vectors
    CHECK(!conv_tiled_applies(conv_geometry(14, 14, 32, 5, 5, 1, 1, true, 64), false));
    return;
  }
  CHECK(conv_tiled_applies(conv_geometry(14, 14, 2 * S, 5, 5, 1, 1, true, 2 * S), true));
  CHECK(conv_tiled_applies(conv_geometry(14, 14, 3, 5, 5, 1, 1, true, S), false));
  CHECK_FALSE(conv_tiled_applies(conv_geometry(14, 14, 3, 5, 5, 1, 1, true, S), true));
  CHECK_FALSE(conv_tiled_applies(conv_geometry(14, 14, S, 3, 3, 2, 2, true, S), false));
  CHECK_FALSE(conv_tiled_applies(conv_geometry(14, 14, S, 3, 3, 1, 1, true, S + 8), false));
  CHECK_FALSE(conv_tiled_applies(conv_geometry(2, 2, S, 3, 3, 1, 1, false, S), false));
  // Padding beyond KH-1 rows (never from conv_geometry, but a hand-built one).
  ConvGeometry wide = conv_geometry(14, 14, S, 3, 3, 1, 1, true, S);
  wide.pad_top = 3, wide.OH += 4;
  CHECK_FALSE(conv_tiled_applies(wide, false));
  ConvGeometry wide_left = conv_geometry(14, 14, S, 3, 3, 1, 1, true, S);
  wide_left.pad_left = 3, wide_left.OW += 4;
  CHECK_FALSE(conv_tiled_applies(wide_left, false));
}

TEST_CASE("conv2d_forward_tiled matches the reference, with each activation") {
  if (conv_tiled_sliver() == 0) return;
  Rng rng(31);
  for (const TiledCase& c : kTiledCases) {
    const TiledCase k = sized(c);
    const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.KH, k.KW, 1, 1, k.same, k.F);
    CAPTURE(describe(k));
    REQUIRE(conv_tiled_applies(g, false));
    const int64_t N = 2;
    Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
    Tensor w = ck::test::random_tensor({k.KH, k.KW, k.C, k.F}, rng);
    Tensor b = ck::test::random_tensor({k.F}, rng);
    Tensor packed(w.shape());
    conv_tiled_pack(w.data(), g, packed.data());
    for (Activation act : {Activation::linear, Activation::relu, Activation::tanh})
      for (const float* bias : std::initializer_list<const float*>{b.data(), nullptr}) {
        CAPTURE(activation_name(act));
        CAPTURE(bias != nullptr);
        Tensor y({N, g.OH, g.OW, k.F}), yr(y.shape());
        y.fill(NAN);  // every output must be written
        for (int64_t n = 0; n < N; ++n)
          conv2d_forward_tiled(x.data() + n * g.in_size(), packed.data(), bias, act,
                               y.data() + n * g.out_size(), g);
        conv2d_forward_reference(x.data(), w.data(), bias, yr.data(), N, g);
        bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, k.F, act);
        CHECK(scaled_diff(y, yr) < kTolerance);
        // Streamed past the caches: the same bits.
        Tensor ys(y.shape());
        ys.fill(NAN);
        for (int64_t n = 0; n < N; ++n)
          conv2d_forward_tiled(x.data() + n * g.in_size(), packed.data(), bias, act,
                               ys.data() + n * g.out_size(), g, true);
        CHECK(std::memcmp(ys.data(), y.data(), y.size() * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("a batch too large for the caches is streamed, with the same values image by image") {
  if (conv_tiled_sliver() == 0) return;
  Rng rng(33);
  const int S = conv_tiled_sliver();
  // A first layer with 3 channels (tiled rather than direct once streamed)
  // and a layer whose data gradient is streamed too.
  struct Big {
    int64_t H, C, F;
    int K;
  };
  for (Big big : {Big{96, 3, S, 3}, Big{48, S, S, 2}}) {
    const ConvGeometry g = conv_geometry(big.H, big.H, big.C, big.K, big.K, 1, 1, true, big.F);
    const int64_t per_image = std::min(g.in_size(), g.out_size());
    const int64_t N = (int64_t{16} << 20) / (4 * per_image) + 1;
    CAPTURE(fmt::format("{} images of {}x{}x{} -> {}", N, big.H, big.H, big.C, big.F));
    Tensor x = ck::test::random_tensor({N, big.H, big.H, big.C}, rng);
    Tensor w = ck::test::random_tensor({big.K, big.K, big.C, big.F}, rng);
    Tensor b = ck::test::random_tensor({big.F}, rng);
    Tensor y({N, g.OH, g.OW, big.F}), one({1, g.OH, g.OW, big.F});
    REQUIRE(conv_streams_output(N, g.out_size(), y.data()));
    REQUIRE(!conv_streams_output(1, g.out_size(), one.data()));
    // Streaming stores need a 64-byte aligned start: one float further on, no streaming.
    REQUIRE(!conv_streams_output(N - 1, g.out_size(), y.data() + 1));
    ConvWorkspace ws;
    y.fill(NAN);
    conv2d_forward(x.data(), w.data(), b.data(), Activation::relu, y.data(), N, g, ws);
    for (int64_t n : {int64_t{0}, N / 2, N - 1}) {
      CAPTURE(n);
      conv2d_forward(x.data() + n * g.in_size(), w.data(), b.data(), Activation::relu, one.data(),
                     1, g, ws);
      CHECK(std::memcmp(one.data(), y.data() + n * g.out_size(), one.size() * sizeof(float)) == 0);
    }
    if (big.C % S != 0) continue;
    Tensor dz = ck::test::random_tensor(y.shape(), rng);
    Tensor dx(x.shape()), dw(w.shape()), dx1({1, big.H, big.H, big.C}), dw1(w.shape());
    REQUIRE(conv_streams_output(N, g.in_size(), dx.data()));
    dx.fill(NAN);
    conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), nullptr, N, g, ws);
    for (int64_t n : {int64_t{0}, N - 1}) {
      conv2d_backward(x.data() + n * g.in_size(), w.data(), dz.data() + n * g.out_size(),
                      dx1.data(), dw1.data(), nullptr, 1, g, ws);
      CHECK(std::memcmp(dx1.data(), dx.data() + n * g.in_size(), dx1.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("conv2d_backward's tiled gradients match the reference, on 1 to 3 threads") {
  if (conv_tiled_sliver() == 0) return;
  // The 3x3 and 5x5 data gradients would otherwise run Winograd's transforms
  // (tests/test_conv_winograd.cpp).
  ck::test::WinogradScope tiled_only(false);
  Rng rng(32);
  for (const TiledCase& c : kTiledCases)
    for (int threads : {1, 2, 3}) {
      ck::test::ThreadScope t(threads);
      const TiledCase k = sized(c);
      const ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.KH, k.KW, 1, 1, k.same, k.F);
      CAPTURE(describe(k));
      CAPTURE(threads);
      const int64_t N = 5;
      Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
      Tensor w = ck::test::random_tensor({k.KH, k.KW, k.C, k.F}, rng);
      Tensor b = ck::test::random_tensor({k.F}, rng);
      Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, k.F}, rng);
      Tensor dwr(w.shape()), dbr({k.F}), dxr(x.shape());
      conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), dbr.data(),
                                N, g);
      ConvWorkspace ws;
      // With dx: tiled when C is whole slivers, im2col + GEMM otherwise.
      Tensor dx(x.shape()), dw(w.shape()), db({k.F});
      dx.fill(NAN), dw.fill(NAN), db.fill(NAN);  // overwritten, not accumulated
      conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), db.data(), N, g, ws);
      CHECK(scaled_diff(dx, dxr) < kTolerance);
      CHECK(scaled_diff(dw, dwr) < kTolerance);
      CHECK(scaled_diff(db, dbr) < kTolerance);
      // Without (the first layer): the weight gradient is tiled either way.
      Tensor dw1(w.shape());
      dw1.fill(NAN);
      conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dw1.data(), nullptr, N, g, ws);
      CHECK(scaled_diff(dw1, dwr) < kTolerance);
      // And the forward pass through conv2d_forward.
      Tensor y({N, g.OH, g.OW, k.F}), yr(y.shape());
      y.fill(NAN);
      conv2d_forward(x.data(), w.data(), b.data(), Activation::relu, y.data(), N, g, ws);
      conv2d_forward_reference(x.data(), w.data(), b.data(), yr.data(), N, g);
      bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, k.F, Activation::relu);
      CHECK(scaled_diff(y, yr) < kTolerance);
    }
}

TEST_CASE("conv2d_backward_data_tiled and _weights_tiled on their own: one image, hand-checked") {
  if (conv_tiled_sliver() == 0) return;
  const int S = conv_tiled_sliver();
  // A 1x3 image of S channels, a 1x2 kernel of S -> S, valid: OW = 2.
  // With x[iw][c] = iw + 1, w[kw][c][f] = (kw + 1) when c == f else 0, and
  // dz[ow][f] = 1: dw[kw][c][f] = sum over ow of x[ow + kw][c] * dz[ow][f]
  // = (1 + kw) + (2 + kw) for every c, f; dx[iw][c] = sum over the taps that
  // read it of w[kw][c][c] = 1 (iw 0), 1 + 2 (iw 1), 2 (iw 2).
  const ConvGeometry g = conv_geometry(1, 3, S, 1, 2, 1, 1, false, S);
  REQUIRE(conv_tiled_applies(g, true));
  Tensor x({1, 1, 3, S}), w({1, 2, S, S}), dz({1, 1, 2, S}), dw(w.shape()), dx(x.shape());
  for (int iw = 0; iw < 3; ++iw)
    for (int c = 0; c < S; ++c) x[iw * S + c] = static_cast<float>(iw + 1);
  for (int kw = 0; kw < 2; ++kw)
    for (int c = 0; c < S; ++c) w[(kw * S + c) * S + c] = static_cast<float>(kw + 1);
  dz.fill(1.0f), dw.fill(NAN), dx.fill(NAN);
  conv2d_backward_weights_tiled(x.data(), dz.data(), 1, dw.data(), g);
  for (int kw = 0; kw < 2; ++kw)
    for (int i = 0; i < S * S; ++i) CHECK(dw[kw * S * S + i] == static_cast<float>(3 + 2 * kw));
  Tensor flipped(w.shape());
  conv_tiled_pack_flipped(w.data(), g, flipped.data());
  conv2d_backward_data_tiled(dz.data(), flipped.data(), dx.data(), g);
  const float expected[3] = {1, 3, 2};
  for (int iw = 0; iw < 3; ++iw)
    for (int c = 0; c < S; ++c) CHECK(dx[iw * S + c] == expected[iw]);
}
