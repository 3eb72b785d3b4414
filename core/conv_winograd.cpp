// Winograd convolution, F(4x4, 3x3) and F(4x4, 5x5): see core/conv_winograd.h.
//
// One image goes through in bands of T tiles (an m x m block of outputs
// each), three steps per band, all in the core's L2:
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
#include "core/simd.h"

namespace ck {

namespace {

constexpr WinogradTransforms kF4x3 = winograd_transforms(4, 3);  // 6x6 tiles
constexpr WinogradTransforms kF4x5 = winograd_transforms(4, 5);  // 8x8 tiles
// The weight gradient is a correlation of x with dz whose output is the
// filter: F(3x3, 4x4) and F(5x5, 4x4), on the same tiles (the same n, and
// B^T, which depends only on the points, is the same).
constexpr WinogradTransforms kF3x4 = winograd_transforms(3, 4);
constexpr WinogradTransforms kF5x4 = winograd_transforms(5, 4);

#if defined(__AVX2__) && defined(__FMA__)
#if defined(__AVX512F__)
using V = simd::Lanes16;
#else
using V = simd::Lanes8;
#endif
using vec = V::vec;
constexpr int L = V::lanes;

// sum over k of c[k] * v[k], skipping the zero coefficients (constants here).
template <int K>
[[gnu::always_inline]] inline vec combine(const double* c, const vec* v, int stride) {
  vec sum = V::set1(0.0f);
#pragma GCC unroll 8
  for (int k = 0; k < K; ++k) {
    const float ck = static_cast<float>(c[k]);
    if (ck == 1.0f)
      sum = V::add(sum, v[k * stride]);
    else if (ck != 0.0f)
      sum = V::fma(V::set1(ck), v[k * stride], sum);
  }
  return sum;
}

// out (R,R) = T x T^T for one block of vectors, T (R,K) row-major: the one
// 2-D transform behind all four, B^T d B, A^T M A, G' dz G'^T and the
// weight gradient's A'^T P A'. T is known at compile time (a template
// argument's), so its zero entries cost nothing.
template <int R, int K>
[[gnu::always_inline]] inline void transform_block(const double* T, const vec (&x)[K][K],
                                                   vec (&out)[R][R]) {
  vec tx[R][K];  // T x
#pragma GCC unroll 8
  for (int a = 0; a < R; ++a)
#pragma GCC unroll 8
    for (int s = 0; s < K; ++s) tx[a][s] = combine<K>(T + a * K, &x[0][s], K);
#pragma GCC unroll 8
  for (int a = 0; a < R; ++a)
#pragma GCC unroll 8
    for (int b = 0; b < R; ++b) out[a][b] = combine<K>(T + b * K, tx[a], 1);
}

// The geometry of one image's tiling.
struct Tiling {
  int64_t th, tw;  // tiles down and across
  int64_t Hp, Wp;  // the padded input they read: (th*m + r-1, tw*m + r-1)
  int64_t T;       // tiles per band
};

template <const WinogradTransforms& Fwd>
Tiling tiling(const ConvGeometry& g) {
  Tiling t;
  t.th = (g.OH + Fwd.m - 1) / Fwd.m;
  t.tw = (g.OW + Fwd.m - 1) / Fwd.m;
  t.Hp = t.th * Fwd.m + Fwd.r - 1;
  t.Wp = t.tw * Fwd.m + Fwd.r - 1;
  // V and M of a band in about 1 MB (the L2 is 2 MB per core on Sapphire
  // Rapids, 1 MB on Zen 4), in whole register tiles of the products.
  const int64_t per_tile = int64_t{Fwd.n} * Fwd.n * (g.C + g.F), budget = int64_t{256} << 10;
  t.T = std::max<int64_t>(42, budget / per_tile / 42 * 42);
  return t;
}

// Tiles [first, first + count) of the padded image xp -> V (n*n, count, C).
template <const WinogradTransforms& Fwd>
void transform_input(const float* xp, const ConvGeometry& g, const Tiling& t, int64_t first,
                     int64_t count, float* vin) {
  constexpr int kN = Fwd.n;
  const int64_t C = g.C, plane = count * C;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t ti = (first + i) / t.tw, tj = (first + i) % t.tw;
    const float* corner = xp + (ti * Fwd.m * t.Wp + tj * Fwd.m) * C;
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
        for (int nu = 0; nu < kN; ++nu)
          V::store(vin + (xi * kN + nu) * plane + i * C + c, btdb[xi][nu]);
    }
  }
}

// M (n*n, count, F) of tiles [first, first + count) -> their blocks of y,
// + bias, ReLU when relu; the block's pixels past OH, OW are not stored.
template <const WinogradTransforms& Fwd>
void transform_output(const float* mt, const float* b, bool relu, bool stream,
                      const ConvGeometry& g, const Tiling& t, int64_t first, int64_t count,
                      float* y) {
  constexpr int m = Fwd.m, kN = Fwd.n;
  const int64_t F = g.F, plane = count * F;
  const vec zero = V::set1(0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t ti = (first + i) / t.tw, tj = (first + i) % t.tw;
    const int rows = static_cast<int>(std::min<int64_t>(m, g.OH - ti * m));
    const int cols = static_cast<int>(std::min<int64_t>(m, g.OW - tj * m));
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
          float* dst = y + ((ti * m + r) * g.OW + tj * m + s) * F + f;
          if (stream)
            V::stream(dst, out);
          else
            V::store(dst, out);
        }
    }
  }
}

// dz's blocks of tiles [first, first + count) (zeros past OH, OW) ->
// Z (n*n, count, F) = G' dz G'^T, G' = WGrad.G (n, m): WGrad is the
// weight gradient's F(r x r, m x m).
template <const WinogradTransforms& Fwd, const WinogradTransforms& WGrad>
void transform_dz(const float* dz, const ConvGeometry& g, const Tiling& t, int64_t first,
                  int64_t count, float* z) {
  constexpr int m = Fwd.m, kN = Fwd.n;
  static_assert(WGrad.r == m && WGrad.n == kN);
  const int64_t F = g.F, plane = count * F;
  const vec zero = V::set1(0.0f);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t ti = (first + i) / t.tw, tj = (first + i) % t.tw;
    const int rows = static_cast<int>(std::min<int64_t>(m, g.OH - ti * m));
    const int cols = static_cast<int>(std::min<int64_t>(m, g.OW - tj * m));
    for (int64_t f = 0; f < F; f += L) {
      vec d[m][m], gdg[kN][kN];
      for (int r = 0; r < m; ++r)
        for (int s = 0; s < m; ++s)
          d[r][s] = r < rows && s < cols ? V::load(dz + ((ti * m + r) * g.OW + tj * m + s) * F + f)
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
  const int64_t C = g.C, F = g.F, tiles = t.th * t.tw;
  float* vin = direct::thread_scratch(3, kN * kN * t.T * C);
  float* z = direct::thread_scratch(4, kN * kN * t.T * F);
  float* p = direct::thread_scratch(7, kN * kN * C * F);
  bool accumulate = false;
  for (int64_t n = 0; n < N; ++n) {
    const float* xp =
        direct::pad_image(x + n * g.in_size(), g.H, g.W, C, g.pad_top, g.pad_left, t.Hp, t.Wp);
    for (int64_t first = 0; first < tiles; first += t.T) {
      const int64_t count = std::min(t.T, tiles - first);
      transform_input<Fwd>(xp, g, t, first, count, vin);
      transform_dz<Fwd, WGrad>(dz + n * g.out_size(), g, t, first, count, z);
      const ConvGeometry products = conv_geometry(1, count, C, 1, 1, 1, 1, false, F);
      for (int k = 0; k < kN * kN; ++k)
        conv2d_backward_weights_tiled(vin + k * count * C, z + k * count * F, 1, p + k * C * F,
                                      products, accumulate);
      accumulate = true;
    }
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
void forward(const float* x, const float* packed, const float* b, bool relu, bool stream, float* y,
             const ConvGeometry& g) {
  constexpr int kN = Fwd.n;
  const Tiling t = tiling<Fwd>(g);
  const float* xp = direct::pad_image(x, g.H, g.W, g.C, g.pad_top, g.pad_left, t.Hp, t.Wp);
  float* vin = direct::thread_scratch(3, kN * kN * t.T * g.C);
  float* mt = direct::thread_scratch(4, kN * kN * t.T * g.F);
  const int64_t tiles = t.th * t.tw;
  for (int64_t first = 0; first < tiles; first += t.T) {
    const int64_t count = std::min(t.T, tiles - first);
    transform_input<Fwd>(xp, g, t, first, count, vin);
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

const WinogradTransforms& transforms_for(const ConvGeometry& g) {
  return g.KH == 3 ? kF4x3 : kF4x5;
}

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

int64_t conv_winograd_packed_size(const ConvGeometry& g) {
  const int n = transforms_for(g).n;
  return int64_t{n} * n * g.C * g.F;
}

void conv_winograd_pack(const float* w, const ConvGeometry& g, float* packed) {
  const WinogradTransforms& transforms = transforms_for(g);
  const double* G = transforms.G;
  const int r = transforms.r, kN = transforms.n, S = conv_tiled_sliver();
  const int64_t C = g.C, F = g.F;
  // U[xi,nu] (C,F) = (G g G^T)[xi,nu] for each filter g = w[.,.,c,f]: first
  // Gg (n,r) = G g, then U = Gg G^T, each over all F filters at once (w's
  // rows), each row of U stored straight into its plane's slivers, as a 1x1
  // convolution's weights are packed (conv_tiled_pack: (F/S, C, S)). Once
  // per batch, so it must stay small against the batch's convolution
  // (Fashion-MNIST's 32 -> 64, 5x5: 0.16 ms, from 2.4 as 36 sums of 25
  // products per filter).
  float* gg = direct::thread_scratch(5, (kN * r + 1) * F);
  float* u = gg + kN * r * F;  // one row of U: F filters
  for (int64_t c = 0; c < C; ++c) {
    std::fill(gg, gg + kN * r * F, 0.0f);
    for (int xi = 0; xi < kN; ++xi)
      for (int kh = 0; kh < r; ++kh) {
        const float coefficient = static_cast<float>(G[xi * r + kh]);
        if (coefficient == 0.0f) continue;
        for (int kw = 0; kw < r; ++kw) {
          const float* row = w + ((kh * r + kw) * C + c) * F;
          float* out = gg + (xi * r + kw) * F;
          for (int64_t f = 0; f < F; ++f) out[f] += coefficient * row[f];
        }
      }
    for (int xi = 0; xi < kN; ++xi)
      for (int nu = 0; nu < kN; ++nu) {
        std::fill(u, u + F, 0.0f);
        for (int kw = 0; kw < r; ++kw) {
          const float coefficient = static_cast<float>(G[nu * r + kw]);
          if (coefficient == 0.0f) continue;
          const float* in = gg + (xi * r + kw) * F;
          for (int64_t f = 0; f < F; ++f) u[f] += coefficient * in[f];
        }
        float* plane = packed + (xi * kN + nu) * C * F;
        for (int64_t s = 0; s < F / S; ++s)
          std::copy(u + s * S, u + (s + 1) * S, plane + (s * C + c) * S);
      }
  }
}

void conv2d_forward_winograd(const float* x, const float* packed, const float* b, Activation act,
                             float* y, const ConvGeometry& g, bool stream) {
#if defined(__AVX2__) && defined(__FMA__)
  // Bias and ReLU go in the output transform; sigmoid, tanh and softmax run
  // over the image afterwards (from the cache: not streamed).
  const bool in_transform = act == Activation::linear || act == Activation::relu;
  const bool relu = act == Activation::relu;
  const float* bias = in_transform ? b : nullptr;
  stream = stream && in_transform;
  if (g.KH == 3)
    forward<kF4x3>(x, packed, bias, relu, stream, y, g);
  else
    forward<kF4x5>(x, packed, bias, relu, stream, y, g);
  if (!in_transform) bias_activation(y, b, g.OH * g.OW, g.F, act);
#else
  (void)x, (void)packed, (void)b, (void)act, (void)y, (void)g, (void)stream;
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

void conv_winograd_pack_flipped(const float* w, const ConvGeometry& g, float* packed) {
  float* scratch = direct::thread_scratch(6, g.patch() * g.F);
  // wflip (KH,KW,F,C)[kh,kw,f,c] = w[KH-1-kh, KW-1-kw, c, f]
  for (int kh = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int64_t f = 0; f < g.F; ++f)
        for (int64_t c = 0; c < g.C; ++c)
          scratch[((kh * g.KW + kw) * g.F + f) * g.C + c] =
              w[(((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C + c) * g.F + f];
  conv_winograd_pack(scratch, data_gradient_geometry(g), packed);
}

}  // namespace ck
