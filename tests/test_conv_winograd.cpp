// Winograd convolution (core/conv_winograd.cpp): its transforms against the
// published ones and against direct correlation, the forward pass and the
// weight gradient against the seven-loop reference on their own and through
// conv2d_forward's and conv2d_backward's dispatch (partial tiles, same and
// valid, 3x3 and 5x5, threads, bands across images), the filter transform
// on several threads and for the data gradient, and the switch that turns
// it off.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "core/conv.h"
#include "core/conv_tiled.h"
#include "core/conv_winograd.h"
#include "core/simd.h"
#include "layers/conv2d.h"
#include "layers/gradcheck.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::scaled_diff;

namespace {

// The transforms round more than im2col + GEMM (1e-6..1e-5 of the sums'
// scale at these sizes, where the tiled kernel's is about 1e-7; more for
// longer sums, see core/conv_winograd.h); a wrong tap or tile is off by O(1).
constexpr double kWinogradTolerance = 2e-5;

struct WinogradCase {
  int64_t H, W;
  int K;
  bool same;
  int64_t C_vectors, F_slivers;
};

// Fashion-MNIST's second layer (14x14, 5x5, 32 -> 64); outputs that are not
// a multiple of the tile (partial tiles at the bottom and right), smaller
// than one tile, one pixel; several bands of tiles (64x64: 256 tiles);
// valid convolutions whose data gradient runs Winograd too (padded by KH-1,
// the most applies() takes); 128 channels, whose longer sums round more.
const WinogradCase kWinogradCases[] = {
    {14, 14, 5, true, 2, 2}, {11, 13, 3, false, 1, 1}, {9, 10, 3, true, 2, 1},
    {3, 3, 3, true, 1, 2},   {7, 9, 5, false, 1, 1},   {5, 5, 5, false, 1, 1},
    {64, 64, 3, true, 1, 1}, {1, 6, 3, true, 2, 1},    {11, 13, 3, false, 2, 1},
    {7, 9, 5, false, 2, 1},  {12, 12, 3, true, 8, 1},  {10, 10, 5, true, 8, 1},
};

ConvGeometry geometry(const WinogradCase& c) {
  return conv_geometry(c.H, c.W, c.C_vectors * simd::kLanes, c.K, c.K, 1, 1, c.same,
                       c.F_slivers * conv_tiled_sliver());
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.size(); ++i) m = std::max(m, std::fabs(double{t[i]}));
  return m;
}

std::string describe(const ConvGeometry& g) {
  return fmt::format("{}x{}x{} -> {}x{}x{}, {}x{}", g.H, g.W, g.C, g.OH, g.OW, g.F, g.KH, g.KW);
}

}  // namespace

TEST_CASE("winograd_transforms(4, 3) are Lavin and Gray's F(4, 3)") {
  const WinogradTransforms t = winograd_transforms(4, 3);
  REQUIRE(t.n == 6);
  const double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                           {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  const double G[6][3] = {{1.0 / 4, 0, 0},
                          {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                          {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6},
                          {1.0 / 24, -1.0 / 12, 1.0 / 6},
                          {0, 0, 1}};
  const double AT[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    for (int j = 0; j < 6; ++j) CHECK(t.BT[i * 6 + j] == doctest::Approx(BT[i][j]));
    for (int j = 0; j < 3; ++j) CHECK(t.G[i * 3 + j] == doctest::Approx(G[i][j]));
    for (int j = 0; j < 4; ++j) CHECK(t.AT[j * 6 + i] == doctest::Approx(AT[j][i]));
  }
}

TEST_CASE("A^T [(G g) . (B^T d)] is the correlation of d and g, for each m and r") {
  Rng rng(41);
  for (auto [m, r] : {std::pair{2, 3}, {4, 3}, {2, 5}, {3, 3}, {6, 3}, {4, 5}}) {
    CAPTURE(m);
    CAPTURE(r);
    const WinogradTransforms t = winograd_transforms(m, r);
    const int n = t.n;
    double d[8], g[8], u[8], v[8];
    for (int i = 0; i < n; ++i) d[i] = rng.uniform(-1.0f, 1.0f);
    for (int k = 0; k < r; ++k) g[k] = rng.uniform(-1.0f, 1.0f);
    for (int j = 0; j < n; ++j) {
      u[j] = v[j] = 0;
      for (int k = 0; k < r; ++k) u[j] += t.G[j * r + k] * g[k];
      for (int i = 0; i < n; ++i) v[j] += t.BT[j * n + i] * d[i];
    }
    for (int i = 0; i < m; ++i) {
      double y = 0, direct = 0;
      for (int j = 0; j < n; ++j) y += t.AT[i * n + j] * u[j] * v[j];
      for (int k = 0; k < r; ++k) direct += d[i + k] * g[k];
      CHECK(y == doctest::Approx(direct).epsilon(1e-12));
    }
  }
}

TEST_CASE("conv_winograd_applies: stride 1, 3x3 or 5x5, C in vectors, F in slivers") {
  const int S = conv_tiled_sliver(), L = simd::kLanes;
  if (S == 0) {  // a build without FMA vectors
    CHECK(!conv_winograd_applies(conv_geometry(14, 14, 32, 5, 5, 1, 1, true, 64)));
    return;
  }
  CHECK(conv_winograd_applies(conv_geometry(14, 14, L, 5, 5, 1, 1, true, S)));
  CHECK(conv_winograd_applies(conv_geometry(14, 14, 2 * L, 3, 3, 1, 1, false, 2 * S)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(14, 14, 3, 3, 3, 1, 1, true, S)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(14, 14, L, 3, 3, 2, 2, true, S)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(14, 14, L, 4, 4, 1, 1, true, S)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(14, 14, L, 3, 5, 1, 1, true, S)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(14, 14, L, 3, 3, 1, 1, true, S + 8)));
  CHECK_FALSE(conv_winograd_applies(conv_geometry(2, 2, L, 3, 3, 1, 1, false, S)));
  // 6x6 tiles for 3x3 filters, 8x8 for 5x5: n*n planes of (C, F).
  CHECK(conv_winograd_packed_size(conv_geometry(14, 14, L, 3, 3, 1, 1, true, S)) == 36 * L * S);
  CHECK(conv_winograd_packed_size(conv_geometry(14, 14, L, 5, 5, 1, 1, true, S)) == 64 * L * S);
  // Any channel count: VGG16's 512 -> 512 too.
  CHECK(conv_uses_winograd(conv_geometry(28, 28, 256, 3, 3, 1, 1, true, 256)));
  CHECK(conv_uses_winograd(conv_geometry(14, 14, 512, 3, 3, 1, 1, true, 512)));
  ck::test::WinogradScope off(false);
  CHECK_FALSE(conv_uses_winograd(conv_geometry(28, 28, 256, 3, 3, 1, 1, true, 256)));
}

TEST_CASE("conv2d_forward_winograd matches the reference, with each activation") {
  if (conv_tiled_sliver() == 0) return;
  Rng rng(42);
  for (const WinogradCase& c : kWinogradCases) {
    const ConvGeometry g = geometry(c);
    CAPTURE(describe(g));
    REQUIRE(conv_winograd_applies(g));
    const int64_t N = 2;
    Tensor x = ck::test::random_tensor({N, g.H, g.W, g.C}, rng);
    Tensor w = ck::test::random_tensor({g.KH, g.KW, g.C, g.F}, rng);
    Tensor b = ck::test::random_tensor({g.F}, rng);
    Tensor packed({conv_winograd_packed_size(g)});
    conv_winograd_pack(w.data(), g, packed.data());
    for (Activation act : {Activation::linear, Activation::relu, Activation::tanh})
      for (const float* bias : std::initializer_list<const float*>{b.data(), nullptr}) {
        CAPTURE(activation_name(act));
        CAPTURE(bias != nullptr);
        Tensor y({N, g.OH, g.OW, g.F}), yr(y.shape());
        y.fill(NAN);  // every output must be written
        conv2d_forward_winograd(x.data(), N, packed.data(), bias, act, y.data(), g);
        conv2d_forward_reference(x.data(), w.data(), bias, yr.data(), N, g);
        // Measured against the sums' scale: tanh's outputs are under 1, but
        // an error in a sum near 0 passes through it unchanged.
        const double scale = std::max(1.0, max_abs(yr));
        bias_activation_reference(yr.data(), nullptr, N * g.OH * g.OW, g.F, act);
        CHECK(scaled_diff(y, yr) * std::max(1.0, max_abs(yr)) / scale < kWinogradTolerance);
        // Streamed past the caches: the same bits.
        Tensor ys(y.shape());
        ys.fill(NAN);
        conv2d_forward_winograd(x.data(), N, packed.data(), bias, act, ys.data(), g, true);
        CHECK(std::memcmp(ys.data(), y.data(), y.size() * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("conv2d_backward_weights_winograd matches the reference, summed over the images") {
  if (conv_tiled_sliver() == 0) return;
  Rng rng(44);
  for (const WinogradCase& c : kWinogradCases)
    for (int64_t N : {1, 3}) {
      const ConvGeometry g = geometry(c);
      CAPTURE(describe(g));
      CAPTURE(N);
      Tensor x = ck::test::random_tensor({N, g.H, g.W, g.C}, rng);
      Tensor w = ck::test::random_tensor({g.KH, g.KW, g.C, g.F}, rng);
      Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, g.F}, rng);
      Tensor dw(w.shape()), dwr(w.shape());
      dw.fill(NAN);  // overwritten, not accumulated
      conv2d_backward_weights_winograd(x.data(), dz.data(), N, dw.data(), g);
      conv2d_backward_reference(x.data(), w.data(), dz.data(), nullptr, dwr.data(), nullptr, N, g);
      CHECK(scaled_diff(dw, dwr) < kWinogradTolerance);
    }
}

TEST_CASE("conv2d_forward and conv2d_backward run Winograd where it applies, on 1 to 3 threads") {
  if (conv_tiled_sliver() == 0) return;
  Rng rng(43);
  for (const WinogradCase& c : kWinogradCases)
    for (int threads : {1, 2, 3}) {
      ck::test::ThreadScope t(threads);
      const ConvGeometry g = geometry(c);
      CAPTURE(describe(g));
      CAPTURE(threads);
      const int64_t N = 5;
      Tensor x = ck::test::random_tensor({N, g.H, g.W, g.C}, rng);
      Tensor w = ck::test::random_tensor({g.KH, g.KW, g.C, g.F}, rng);
      Tensor b = ck::test::random_tensor({g.F}, rng);
      Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, g.F}, rng);
      ConvWorkspace ws;
      Tensor y({N, g.OH, g.OW, g.F}), yr(y.shape()), y_tiled(y.shape());
      y.fill(NAN);
      conv2d_forward(x.data(), w.data(), b.data(), Activation::linear, y.data(), N, g, ws);
      conv2d_forward_reference(x.data(), w.data(), b.data(), yr.data(), N, g);
      CHECK(scaled_diff(y, yr) < kWinogradTolerance);
      {
        // Off, the same layer runs the tiled kernel: other bits, same values.
        ck::test::WinogradScope off(false);
        conv2d_forward(x.data(), w.data(), b.data(), Activation::linear, y_tiled.data(), N, g, ws);
      }
      CHECK(std::memcmp(y.data(), y_tiled.data(), y.size() * sizeof(float)) != 0);
      CHECK(scaled_diff(y_tiled, yr) < 1e-5);

      const bool dx_winograd = conv_winograd_applies(data_gradient_geometry(g));
      CHECK(dx_winograd == (g.C % conv_tiled_sliver() == 0));
      Tensor dx(x.shape()), dw(w.shape()), db({g.F}), dxr(x.shape()), dwr(w.shape()), dbr({g.F});
      dx.fill(NAN), dw.fill(NAN), db.fill(NAN);  // overwritten, not accumulated
      conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), db.data(), N, g, ws);
      conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), dbr.data(),
                                N, g);
      CHECK(scaled_diff(dx, dxr) < kWinogradTolerance);
      CHECK(scaled_diff(dw, dwr) < kWinogradTolerance);
      CHECK(scaled_diff(db, dbr) < 1e-5);
      if (!dx_winograd) continue;  // then the whole backward pass is im2col + GEMM
      // Both gradients took Winograd's transforms: other bits than without.
      Tensor dx_tiled(x.shape()), dw_tiled(w.shape());
      {
        ck::test::WinogradScope off(false);
        conv2d_backward(x.data(), w.data(), dz.data(), dx_tiled.data(), dw_tiled.data(), nullptr, N,
                        g, ws);
      }
      CHECK(std::memcmp(dx.data(), dx_tiled.data(), dx.size() * sizeof(float)) != 0);
      CHECK(std::memcmp(dw.data(), dw_tiled.data(), dw.size() * sizeof(float)) != 0);
      CHECK(scaled_diff(dx_tiled, dxr) < 1e-5);
      CHECK(scaled_diff(dw_tiled, dwr) < 1e-5);
    }
}

TEST_CASE("conv2d_backward of no images zeroes the gradients, with and without Winograd") {
  const int S = conv_tiled_sliver();
  for (int64_t C : {int64_t{3}, int64_t{2} * std::max(S, 1)}) {
    CAPTURE(C);
    const ConvGeometry g = conv_geometry(6, 6, C, 3, 3, 1, 1, true, std::max(S, 8));
    Tensor x({1, g.H, g.W, C}), w({3, 3, C, g.F}), dz({1, g.OH, g.OW, g.F});
    Tensor dw(w.shape()), db({g.F});
    dw.fill(NAN), db.fill(NAN);
    ConvWorkspace ws;
    conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dw.data(), db.data(), 0, g, ws);
    CHECK(scaled_diff(dw, Tensor(w.shape())) == 0.0);
    CHECK(scaled_diff(db, Tensor({g.F})) == 0.0);
  }
}

TEST_CASE("the gradient check runs convolutions without Winograd, and turns it back on") {
  if (conv_tiled_sliver() == 0) return;
  const int S = conv_tiled_sliver();
  REQUIRE(conv_winograd_enabled());
  Conv2DOptions o;
  o.filters = S, o.kh = o.kw = 3, o.same = true, o.activation = Activation::tanh;
  Conv2D conv(o);
  REQUIRE(conv_winograd_applies(conv_geometry(6, 5, S, 3, 3, 1, 1, true, S)));
  const LayerCheck check = ck::test::check_fresh(conv, {6, 5, S}, 2);
  // With the transforms' rounding, about half the input's entries looked
  // like kinks and were skipped.
  ck::test::require_gradients_ok(check);
  CHECK(conv_winograd_enabled());
}

TEST_CASE("a many-channel layer: bands of 84 tiles across 90 images, the filter transform on 1 and 2 threads") {
  const int S = conv_tiled_sliver();
  if (S == 0) return;
  // 128 -> 768 (C*F / 2048 = 48 tiles: bands of 84, the first one 84 images
  // of one tile each, the second 6); the pack splits its slivers between
  // threads from 128*128 filter pairs.
  const ConvGeometry g = conv_geometry(4, 4, 128, 3, 3, 1, 1, true, 24 * S);
  REQUIRE(conv_winograd_applies(g));
  const int64_t N = 90;
  Rng rng(47);
  Tensor x = ck::test::random_tensor({N, g.H, g.W, g.C}, rng);
  Tensor w = ck::test::random_tensor({g.KH, g.KW, g.C, g.F}, rng);
  Tensor dz = ck::test::random_tensor({N, g.OH, g.OW, g.F}, rng);
  Tensor one({conv_winograd_packed_size(g)}), two(one.shape());
  {
    ck::test::ThreadScope t(1);
    conv_winograd_pack(w.data(), g, one.data());
  }
  {
    ck::test::ThreadScope t(2);
    conv_winograd_pack(w.data(), g, two.data());
  }
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);

  // Against the tiled kernel (itself checked against the reference in
  // tests/test_conv_tiled.cpp), 100x faster than the reference here.
  Tensor y({N, g.OH, g.OW, g.F}), yt(y.shape()), tiled({g.patch() * g.F});
  conv_tiled_pack(w.data(), g, tiled.data());
  conv2d_forward_winograd(x.data(), N, one.data(), nullptr, Activation::linear, y.data(), g);
  for (int64_t n = 0; n < N; ++n)
    conv2d_forward_tiled(x.data() + n * g.in_size(), tiled.data(), nullptr, Activation::linear,
                         yt.data() + n * g.out_size(), g);
  CHECK(scaled_diff(y, yt) < kWinogradTolerance);

  Tensor dw(w.shape()), dwt(w.shape());
  conv2d_backward_weights_winograd(x.data(), dz.data(), N, dw.data(), g);
  conv2d_backward_weights_tiled(x.data(), dz.data(), N, dwt.data(), g);
  CHECK(scaled_diff(dw, dwt) < kWinogradTolerance);

  // The data gradient's filters, gathered from w, are the same bits as
  // turning each filter's taps around, swapping C and F, and packing that.
  const ConvGeometry gd = data_gradient_geometry(g);
  Tensor wflip({g.KH, g.KW, g.F, g.C});
  for (int kh = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t f = 0; f < g.F; ++f)
          wflip[((kh * g.KW + kw) * g.F + f) * g.C + c] =
              w[(((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C + c) * g.F + f];
  Tensor gathered({conv_winograd_packed_size(gd)}), packed(gathered.shape());
  ck::test::ThreadScope t(2);
  conv_winograd_pack_flipped(w.data(), g, gathered.data());
  conv_winograd_pack(wflip.data(), gd, packed.data());
  CHECK(std::memcmp(gathered.data(), packed.data(), packed.size() * sizeof(float)) == 0);
}
