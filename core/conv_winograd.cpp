// Winograd convolution, F(4x4, 3x3) and F(4x4, 5x5): see core/conv_winograd.h.
//
// A thread's images go through in bands of T tiles (an m x m block of
// outputs each; a band can span images), three steps per band, in the
// core's L2 where the layer is small enough (tiling()):
//
//   input transform   V[xi,nu] (T, C) = (B^T d B)[xi,nu] for each tile's d (n,n,C)
//   products          M[xi,nu] (T, F) = V[xi,nu] (T, C) * U[xi,nu] (C, F)   n*n GEMMs
//   output transform  y block (m,m,F) = A^T M A (+ bias, ReLU) for each tile
//
// The transforms run on vectors of channels (filters), so each is n*n small
// matrix products of vectors; with the matrices known at compile time, their
// zero entries cost nothing. The products are 1x1 convolutions of T pixels
// on the tiled kernel (core/conv_tiled.h).
//
// The weight gradient (Lavin and Gray, section 4.3) is the same on the same
// tiles, with dz's blocks in the filter's place: P[xi,nu] (C,F) sums
// V[xi,nu]^T Z[xi,nu] over every tile of the images, and one output
// transform per filter at the end gives dw.
#include "core/conv_winograd.h"

#include <algorithm>

#include "core/conv_direct_common.h"
#include "core/conv_tiled.h"
#include "core/conv_winograd_block.h"

namespace ck {

using namespace winograd;

namespace {

// A band of tiles takes at least C*F / kTilesPerFilterPair tiles (tiling()).
constexpr int64_t kTilesPerFilterPair = 2048;

#if defined(__AVX2__) && defined(__FMA__)

// The tiling of a batch: each image's tiles, numbered across the images
// (tile t is image t / per_image's tile t % per_image), in bands of T.
struct Tiling {
  int64_t th, tw;       // tiles down and across an image
  int64_t per_image;    // th * tw
  int64_t Hp, Wp;       // the padded input they read: (th*m + r-1, tw*m + r-1)
  int64_t T;            // tiles per band
};

template <const WinogradTransforms& Fwd>
Tiling tiling(const ConvGeometry& g) {
  constexpr int n = Fwd.n;
  Tiling t;
  t.th = (g.OH + Fwd.m - 1) / Fwd.m;
  t.tw = (g.OW + Fwd.m - 1) / Fwd.m;
  t.per_image = t.th * t.tw;
  t.Hp = t.th * Fwd.m + Fwd.r - 1;
  t.Wp = t.tw * Fwd.m + Fwd.r - 1;
  // V and M of a band in about 1 MB (the L2 is 2 MB per core on Sapphire
  // Rapids, 1 MB on Zen 4), in whole register tiles of the products...
  const int64_t per_tile = int64_t{n} * n * (g.C + g.F), budget = int64_t{256} << 10;
  const int64_t in_cache = budget / per_tile / 42 * 42;
  // ...but a band reads all n*n transformed filter planes (n*n*C*F floats),
  // so it takes at least C*F/kTilesPerFilterPair tiles, however many images
  // that spans, for the planes' reads to be small against the products.
  // Then V and M go past the L2, read once per plane, while each plane of
  // filters (C*F floats: 1 MB for 512 -> 512) stays in it for all the band.
  // At most 32 MB of them per thread, in whole register tiles (1024 ->
  // 1024 would otherwise take 546 tiles, 161 MB).
  const int64_t amortize = (g.C * g.F / kTilesPerFilterPair + 41) / 42 * 42;
  const int64_t most = std::max<int64_t>(42, (int64_t{8} << 20) / per_tile / 42 * 42);
  t.T = std::max<int64_t>({42, in_cache, std::min(amortize, most)});
  return t;
}

// Calls fn(n, local_first, count, row) for each image n that tiles
// [first, first + count) reach: its tiles [local_first, local_first + count)
// are the band's rows [row, row + count).
template <class Fn>
void for_each_image(const Tiling& t, int64_t first, int64_t count, Fn fn) {
  for (int64_t tile = first; tile < first + count;) {
    const int64_t n = tile / t.per_image, local = tile % t.per_image;
    const int64_t k = std::min(t.per_image - local, first + count - tile);
    fn(n, local, k, tile - first);
    tile += k;
  }
}

// Tiles [first, first + count) of the padded image xp -> rows [row, row +
// count) of V (n*n, band, C).
template <const WinogradTransforms& Fwd>
void transform_input(const float* xp, const ConvGeometry& g, const Tiling& t, int64_t first,
                     int64_t count, int64_t row, int64_t band, float* vin) {
  constexpr int kN = Fwd.n;
  const int64_t C = g.C, plane = band * C;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t ti = (first + i) / t.tw, tj = (first + i) % t.tw;
    const float* corner = xp + (ti * Fwd.m * t.Wp + tj * Fwd.m) * C;
    float* out = vin + (row + i) * C;
    for (int64_t c = 0; c < C; c += L) {
      vec d[kN][kN], btdb[kN][kN];
#pragma GCC unroll 8
      for (int r = 0; r < kN; ++r)
#pragma GCC unroll 8
        for (int s = 0; s < kN; ++s) d[r][s] = V::load(corner + (r * t.Wp + s) * C + c);
      transform_block<kN, kN>(Fwd.BT, d, btdb);
#pragma GCC unroll 8
      for (int xi = 0; xi < kN; ++xi)
#pragma GCC unroll 8
        for (int nu = 0; nu < kN; ++nu) V::store(out + (xi * kN + nu) * plane + c, btdb[xi][nu]);
    }
  }
}

// The padded copy of the image the last band ended in, kept for the next
// band: a 224x224 image has 75 bands of 42 tiles.
struct PaddedImage {
  int64_t n = -1;
  const float* xp = nullptr;
};

// x (images, H, W, C) -> V (n*n, count, C) of the batch's tiles [first,
// first + count), each image padded once.
template <const WinogradTransforms& Fwd>
void transform_band(const float* x, const ConvGeometry& g, const Tiling& t, int64_t first,
                    int64_t count, PaddedImage& padded, float* vin) {
  for_each_image(t, first, count, [&](int64_t n, int64_t local, int64_t k, int64_t row) {
    if (padded.n != n)
      padded = {n, direct::pad_image(x + n * g.in_size(), g.H, g.W, g.C, g.pad_top, g.pad_left,
                                     t.Hp, t.Wp)};
    transform_input<Fwd>(padded.xp, g, t, local, k, row, count, vin);
  });
}

// M (n*n, count, F) of the batch's tiles [first, first + count) -> their
// blocks of y (images, OH, OW, F), + bias, ReLU when relu; the block's
// pixels past OH, OW are not stored.
template <const WinogradTransforms& Fwd>
void transform_output(const float* mt, const float* b, bool relu, bool stream,
                      const ConvGeometry& g, const Tiling& t, int64_t first, int64_t count,
                      float* y) {
  constexpr int m = Fwd.m, kN = Fwd.n;
  const int64_t F = g.F, plane = count * F;
  const vec zero = V::set1(0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = (first + i) / t.per_image, local = (first + i) % t.per_image;
    const int64_t ti = local / t.tw, tj = local % t.tw;
    const int rows = static_cast<int>(std::min<int64_t>(m, g.OH - ti * m));
    const int cols = static_cast<int>(std::min<int64_t>(m, g.OW - tj * m));
    float* yn = y + n * g.out_size();
    for (int64_t f = 0; f < F; f += L) {
      vec p[kN][kN], block[m][m];
#pragma GCC unroll 8
      for (int xi = 0; xi < kN; ++xi)
#pragma GCC unroll 8
        for (int nu = 0; nu < kN; ++nu)
          p[xi][nu] = V::load(mt + (xi * kN + nu) * plane + i * F + f);
      transform_block<m, kN>(Fwd.AT, p, block);
      const vec bias = b ? V::load(b + f) : zero;
      for (int r = 0; r < rows; ++r)
        for (int s = 0; s < cols; ++s) {
          vec out = V::add(block[r][s], bias);
          // As bias_activation's: max(0, v) with 0 first keeps NaN and -0.
          if (relu) out = V::max(zero, out);
          float* dst = yn + ((ti * m + r) * g.OW + tj * m + s) * F + f;
          if (stream)
            V::stream(dst, out);
          else
            V::store(dst, out);
        }
    }
  }
}

// dz's blocks of the batch's tiles [first, first + count) (zeros past OH,
// OW) -> Z (n*n, count, F) = G' dz G'^T, G' = WGrad.G (n, m): WGrad is the
// weight gradient's F(r x r, m x m).
template <const WinogradTransforms& Fwd, const WinogradTransforms& WGrad>
void transform_dz(const float* dz, const ConvGeometry& g, const Tiling& t, int64_t first,
                  int64_t count, float* z) {
  constexpr int m = Fwd.m, kN = Fwd.n;
  static_assert(WGrad.r == m && WGrad.n == kN);
  const int64_t F = g.F, plane = count * F;
  const vec zero = V::set1(0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = (first + i) / t.per_image, local = (first + i) % t.per_image;
    const int64_t ti = local / t.tw, tj = local % t.tw;
    const int rows = static_cast<int>(std::min<int64_t>(m, g.OH - ti * m));
    const int cols = static_cast<int>(std::min<int64_t>(m, g.OW - tj * m));
    const float* dzn = dz + n * g.out_size();
    for (int64_t f = 0; f < F; f += L) {
      vec d[m][m], gdg[kN][kN];
      for (int r = 0; r < m; ++r)
        for (int s = 0; s < m; ++s)
          d[r][s] = r < rows && s < cols ? V::load(dzn + ((ti * m + r) * g.OW + tj * m + s) * F + f)
                                         : zero;
      transform_block<kN, m>(WGrad.G, d, gdg);
#pragma GCC unroll 8
      for (int xi = 0; xi < kN; ++xi)
#pragma GCC unroll 8
        for (int nu = 0; nu < kN; ++nu)
          V::store(z + (xi * kN + nu) * plane + i * F + f, gdg[xi][nu]);
    }
  }
}

// x (N,H,W,C), dz (N,OH,OW,F) -> dw (KH,KW,C,F) overwritten:
//   P[xi,nu] (C,F) = sum over tiles of V[xi,nu]^T Z[xi,nu]   (on the tiled
//                    kernel's weight-gradient tile, as 1x1 convolutions)
//   dw (r,r) = WGrad.AT P WGrad.AT^T for each (c, f)
template <const WinogradTransforms& Fwd, const WinogradTransforms& WGrad>
void weights(const float* x, const float* dz, int64_t N, float* dw, const ConvGeometry& g) {
  constexpr int kN = Fwd.n;
  const Tiling t = tiling<Fwd>(g);
  const int64_t C = g.C, F = g.F, tiles = N * t.per_image;
  float* vin = direct::thread_scratch(3, kN * kN * t.T * C);
  float* z = direct::thread_scratch(4, kN * kN * t.T * F);
  float* p = direct::thread_scratch(5, kN * kN * C * F);
  PaddedImage padded;
  for (int64_t first = 0; first < tiles; first += t.T) {
    const int64_t count = std::min(t.T, tiles - first);
    transform_band<Fwd>(x, g, t, first, count, padded, vin);
    transform_dz<Fwd, WGrad>(dz, g, t, first, count, z);
    const ConvGeometry products = conv_geometry(1, count, C, 1, 1, 1, 1, false, F);
    for (int k = 0; k < kN * kN; ++k)
      conv2d_backward_weights_tiled(vin + k * count * C, z + k * count * F, 1, p + k * C * F,
                                    products, first > 0);
  }
  constexpr int r = WGrad.m;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t f = 0; f < F; f += L) {
      vec pv[kN][kN], taps[r][r];
      for (int xi = 0; xi < kN; ++xi)
        for (int nu = 0; nu < kN; ++nu) pv[xi][nu] = V::load(p + ((xi * kN + nu) * C + c) * F + f);
      transform_block<r, kN>(WGrad.AT, pv, taps);
      for (int kh = 0; kh < r; ++kh)
        for (int kw = 0; kw < r; ++kw) V::store(dw + ((kh * r + kw) * C + c) * F + f, taps[kh][kw]);
    }
}

template <const WinogradTransforms& Fwd>
void forward(const float* x, int64_t N, const float* packed, const float* b, bool relu,
             bool stream, float* y, const ConvGeometry& g) {
  constexpr int kN = Fwd.n;
  const Tiling t = tiling<Fwd>(g);
  float* vin = direct::thread_scratch(3, kN * kN * t.T * g.C);
  float* mt = direct::thread_scratch(4, kN * kN * t.T * g.F);
  const int64_t tiles = N * t.per_image;
  PaddedImage padded;
  for (int64_t first = 0; first < tiles; first += t.T) {
    const int64_t count = std::min(t.T, tiles - first);
    transform_band<Fwd>(x, g, t, first, count, padded, vin);
    // M[xi,nu] (count, F) = V[xi,nu] (count, C) * U[xi,nu]: a 1x1 convolution of count pixels.
    const ConvGeometry products = conv_geometry(1, count, g.C, 1, 1, 1, 1, false, g.F);
    for (int k = 0; k < kN * kN; ++k)
      conv2d_forward_tiled(vin + k * count * g.C, packed + k * g.C * g.F, nullptr,
                           Activation::linear, mt + k * count * g.F, products);
    transform_output<Fwd>(mt, b, relu, stream, g, t, first, count, y);
  }
  if (stream) _mm_sfence();
}

#endif

}  // namespace

bool conv_winograd_applies(const ConvGeometry& g) {
#if defined(__AVX2__) && defined(__FMA__)
  return g.SH == 1 && g.SW == 1 && g.KH == g.KW && (g.KH == 3 || g.KH == 5) && g.C % L == 0 &&
         g.C > 0 && g.F % conv_tiled_sliver() == 0 && g.F > 0 && g.OH > 0 && g.OW > 0 &&
         g.pad_top >= 0 && g.pad_left >= 0 && g.pad_top < g.KH && g.pad_left < g.KW;
#else
  (void)g;
  return false;
#endif
}

void conv2d_forward_winograd(const float* x, int64_t N, const float* packed, const float* b,
                             Activation act, float* y, const ConvGeometry& g, bool stream) {
#if defined(__AVX2__) && defined(__FMA__)
  // Bias and ReLU go in the output transform; sigmoid, tanh and softmax run
  // over the image afterwards (from the cache: not streamed).
  const bool in_transform = act == Activation::linear || act == Activation::relu;
  const bool relu = act == Activation::relu;
  const float* bias = in_transform ? b : nullptr;
  stream = stream && in_transform;
  if (g.KH == 3)
    forward<kF4x3>(x, N, packed, bias, relu, stream, y, g);
  else
    forward<kF4x5>(x, N, packed, bias, relu, stream, y, g);
  if (!in_transform) bias_activation(y, b, N * g.OH * g.OW, g.F, act);
#else
  (void)x, (void)N, (void)packed, (void)b, (void)act, (void)y, (void)g, (void)stream;
#endif
}

void conv2d_backward_weights_winograd(const float* x, const float* dz, int64_t N, float* dw,
                                      const ConvGeometry& g) {
#if defined(__AVX2__) && defined(__FMA__)
  if (N <= 0) return std::fill(dw, dw + g.patch() * g.F, 0.0f);
  if (g.KH == 3)
    weights<kF4x3, kF3x4>(x, dz, N, dw, g);
  else
    weights<kF4x5, kF5x4>(x, dz, N, dw, g);
#else
  (void)x, (void)dz, (void)N, (void)dw, (void)g;
#endif
}

ConvGeometry data_gradient_geometry(const ConvGeometry& g) {
  ConvGeometry d = g;
  d.H = g.OH, d.W = g.OW, d.C = g.F;
  d.OH = g.H, d.OW = g.W, d.F = g.C;
  d.pad_top = g.KH - 1 - g.pad_top;
  d.pad_left = g.KW - 1 - g.pad_left;
  return d;
}

}  // namespace ck
