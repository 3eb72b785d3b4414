// Register-tiled direct convolution: im2col + GEMM's arithmetic without col.
//
// The GEMM micro-kernel (core/gemm_simd.cpp) keeps a tile of C in registers,
// (P rows, two vectors of columns), and per step of the sum broadcasts P
// values of A against one row of B. For a convolution's forward pass the rows
// are P neighbouring output pixels of one row, the columns a sliver of S
// filters, and the sum runs over the patch (kh, kw, c). Pixel p's patch value
// (kh, kw, c) sits at xp[(oh + kh, ow + p + kw, c)] of a zero-padded copy of
// the image, so the kernel broadcasts it from there: no col is written, and
// nothing but the weights is packed (once per call, not once per image).
//
//   forward       y (OH*OW, F)  = patches(x) (OH*OW, K) * w (K, F)
//   data grad     dx (H*W, C)   = patches(dz padded) (H*W, K') * wflip (K', C)
//                 (a forward convolution of dz with the taps flipped, K' = KH*KW*F)
//   weight grad   dw (K, F)    += patches(x)^T (K, OH*OW) * dz (OH*OW, F)
//                 (rows: P neighbouring taps; the sum runs over the pixels)
//
// Each output is one in-order sum, whatever the tile it falls in.
#include "core/conv_tiled.h"

#include <algorithm>
#include <array>
#include <utility>

#include "core/conv_direct_common.h"
#include "core/simd.h"

namespace ck {

namespace {

#if defined(__AVX512F__)
using V = simd::Lanes16;
// 14 x 2 accumulators + 2 weight vectors + 1 broadcast = 31 of 32 registers.
constexpr int kTile = 14;
#elif defined(__AVX2__) && defined(__FMA__)
using V = simd::Lanes8;
// 6 x 2 accumulators + 2 weight vectors + 1 broadcast = 15 of 16 registers.
constexpr int kTile = 6;
#endif

#if defined(__AVX2__) && defined(__FMA__)
constexpr int L = V::lanes;
constexpr int S = 2 * L;  // filters per sliver
using vec = V::vec;

// A stride-1 'valid' convolution of an input whose windows all lie inside it
// (a zero-padded copy): xp (OH+KH-1, Wp, C) -> out (OH, OW, F), F % S == 0.
struct Valid {
  int64_t Wp, C;
  int KH, KW;
  int64_t OH, OW, F;
  int64_t row() const { return Wp * C; }  // floats from one input row to the next
  int64_t run() const { return KW * C; }  // taps of one kernel row, contiguous in xp
};

// P pixels of one output row, one sliver: xs points at the first pixel's
// window corner, ws at the sliver's packed taps (K, S). out (P pixels, row
// stride F) = the sums (+ bias) (then ReLU when relu).
template <int P>
void output_tile(const float* xs, const float* ws, const Valid& v, const float* bias, bool relu,
                 bool stream, float* out) {
  vec acc[P][2];
  for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = V::set1(0.0f);
  const int64_t run = v.run(), C = v.C;
  for (int kh = 0; kh < v.KH; ++kh, xs += v.row(), ws += run * S) {
    for (int64_t j = 0; j < run; ++j) {
      const vec w0 = V::load(ws + j * S), w1 = V::load(ws + j * S + L);
#pragma GCC unroll 14
      for (int p = 0; p < P; ++p) {
        const vec xv = V::set1(xs[p * C + j]);
        acc[p][0] = V::fma(xv, w0, acc[p][0]);
        acc[p][1] = V::fma(xv, w1, acc[p][1]);
      }
    }
  }
  // The same add and max as bias_activation's: max(0, v) with 0 first keeps
  // NaN and -0 as it does.
  const vec zero = V::set1(0.0f);
  for (int p = 0; p < P; ++p)
    for (int h = 0; h < 2; ++h) {
      vec r = acc[p][h];
      if (bias) r = V::add(r, V::load(bias + h * L));
      if (relu) r = V::max(zero, r);
      if (stream)
        V::stream(out + p * v.F + h * L, r);
      else
        V::store(out + p * v.F + h * L, r);
    }
}

// One table entry per tile height 1..kTile, for the rest of a row.
template <class Fn, std::size_t... I>
constexpr auto tile_table(std::index_sequence<I...>, Fn) {
  return std::array{&Fn::template run<I + 1>...};
}

struct OutputTiles {
  template <int P>
  static void run(const float* xs, const float* ws, const Valid& v, const float* bias, bool relu,
                  bool stream, float* out) {
    output_tile<P>(xs, ws, v, bias, relu, stream, out);
  }
};
constexpr auto kOutputTiles = tile_table(std::make_index_sequence<kTile>{}, OutputTiles{});

// Floats of weights or of image rows that one pass keeps in the core's L2
// (1 MB on Zen 4 and 5) alongside what streams through it: 512 KB.
constexpr int64_t kL2Floats = int64_t{128} << 10;

// xp padded as v describes, packed (F/S, K, S), b (F) or null -> out (OH,OW,F),
// streamed past the caches when `stream` (out aligned to a vector then: F is
// a multiple of S).
void convolve(const float* xp, const float* packed, const float* b, bool relu, bool stream,
              float* out, const Valid& v) {
  const int64_t K = v.KH * v.run(), slivers = v.F / S;
  // Row by row through as many slivers as fit in L2 (all of them up to 128
  // filters of a 3x3x64 patch): the image goes through the cache once per
  // group of slivers, not once per sliver (a 56x56x64 image is 860 KB).
  const int64_t group = std::clamp<int64_t>(kL2Floats / (K * S), 1, slivers);
  for (int64_t s0 = 0; s0 < slivers; s0 += group)
    for (int64_t oh = 0; oh < v.OH; ++oh)
      for (int64_t s = s0; s < std::min(slivers, s0 + group); ++s) {
        const float* ws = packed + s * K * S;
        const float* bias = b ? b + s * S : nullptr;
        for (int64_t ow = 0; ow < v.OW; ow += kTile) {
          const int P = static_cast<int>(std::min<int64_t>(kTile, v.OW - ow));
          kOutputTiles[P - 1](xp + (oh * v.Wp + ow) * v.C, ws, v, bias, relu, stream,
                              out + (oh * v.OW + ow) * v.F + s * S);
        }
      }
  // Streaming stores are weakly ordered: make them visible before the
  // caller's threads read out.
  if (stream) _mm_sfence();
}

// P neighbouring taps of kernel row kh (xs: the first tap's value for output
// pixel (0, 0)), one sliver of dz (ds: pixel (0, 0)'s first filter):
// dws (P taps, row stride F) += sum over the image's pixels of x * dz,
// or = when `first`.
template <int P>
void weight_tile(const float* xs, const float* ds, const Valid& v, int64_t rows, bool first,
                 float* dws) {
  vec acc[P][2];
  for (int p = 0; p < P; ++p)
    for (int h = 0; h < 2; ++h) acc[p][h] = first ? V::set1(0.0f) : V::load(dws + p * v.F + h * L);
  for (int64_t oh = 0; oh < rows; ++oh, xs += v.row(), ds += v.OW * v.F) {
    for (int64_t ow = 0; ow < v.OW; ++ow) {
      const vec d0 = V::load(ds + ow * v.F), d1 = V::load(ds + ow * v.F + L);
      const float* xw = xs + ow * v.C;
#pragma GCC unroll 14
      for (int p = 0; p < P; ++p) {
        const vec xv = V::set1(xw[p]);
        acc[p][0] = V::fma(xv, d0, acc[p][0]);
        acc[p][1] = V::fma(xv, d1, acc[p][1]);
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int h = 0; h < 2; ++h) V::store(dws + p * v.F + h * L, acc[p][h]);
}

struct WeightTiles {
  template <int P>
  static void run(const float* xs, const float* ds, const Valid& v, int64_t rows, bool first,
                  float* dws) {
    weight_tile<P>(xs, ds, v, rows, first, dws);
  }
};
constexpr auto kWeightTiles = tile_table(std::make_index_sequence<kTile>{}, WeightTiles{});

// The forward geometry as a Valid convolution of the padded image.
Valid forward_valid(const ConvGeometry& g) {
  return {g.OW - 1 + g.KW, g.C, g.KH, g.KW, g.OH, g.OW, g.F};
}

const float* padded_input(const float* x, const ConvGeometry& g, const Valid& v) {
  return direct::pad_image(x, g.H, g.W, g.C, g.pad_top, g.pad_left, v.OH - 1 + v.KH, v.Wp);
}
#endif

}  // namespace

int conv_tiled_sliver() {
#if defined(__AVX2__) && defined(__FMA__)
  return S;
#else
  return 0;
#endif
}

bool conv_tiled_applies(const ConvGeometry& g, bool with_dx) {
#if defined(__AVX2__) && defined(__FMA__)
  // Padding of at most KH-1 (KW-1) before: conv_geometry's valid and same;
  // the data gradient pads dz by KH-1-pad_top.
  return g.SH == 1 && g.SW == 1 && g.F >= S && g.F % S == 0 && g.OH > 0 && g.OW > 0 &&
         g.pad_top < g.KH && g.pad_left < g.KW && (!with_dx || g.C % S == 0);
#else
  (void)g, (void)with_dx;
  return false;  // a build without FMA vectors: im2col + GEMM
#endif
}

void conv_tiled_pack(const float* w, const ConvGeometry& g, float* packed) {
  const int64_t K = g.patch(), Sw = conv_tiled_sliver();
  for (int64_t s = 0; s < g.F / Sw; ++s)
    for (int64_t k = 0; k < K; ++k)
      std::copy(w + k * g.F + s * Sw, w + k * g.F + (s + 1) * Sw, packed + (s * K + k) * Sw);
}

void conv_tiled_pack_flipped(const float* w, const ConvGeometry& g, float* packed) {
  const int64_t K = int64_t{g.KH} * g.KW * g.F, Sw = conv_tiled_sliver();  // taps of wflip
  // Sliver s holds channels [s*Sw, (s+1)*Sw) of wflip (KH,KW,F,C), tap (kh,kw,f).
  for (int64_t s = 0; s < g.C / Sw; ++s)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw)
        for (int64_t f = 0; f < g.F; ++f) {
          float* dst = packed + (s * K + (kh * g.KW + kw) * g.F + f) * Sw;
          const float* src = w + ((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C * g.F + f;
          for (int64_t c = 0; c < Sw; ++c) dst[c] = src[(s * Sw + c) * g.F];
        }
}

void conv2d_forward_tiled(const float* x, const float* packed, const float* b, Activation act,
                          float* y, const ConvGeometry& g, bool stream) {
#if defined(__AVX2__) && defined(__FMA__)
  const Valid v = forward_valid(g);
  // Bias and ReLU go in the tile's registers before its store; sigmoid, tanh
  // and softmax run over the image afterwards (from the cache: not streamed).
  const bool in_tile = act == Activation::linear || act == Activation::relu;
  convolve(padded_input(x, g, v), packed, in_tile ? b : nullptr, act == Activation::relu,
           stream && in_tile, y, v);
  if (!in_tile) bias_activation(y, b, g.OH * g.OW, g.F, act);
#else
  (void)x, (void)packed, (void)b, (void)act, (void)y, (void)g, (void)stream;
#endif
}

void conv2d_backward_data_tiled(const float* dz, const float* packed, float* dx,
                                const ConvGeometry& g, bool stream) {
#if defined(__AVX2__) && defined(__FMA__)
  // dx (ih, iw) sums dz (ih + pad_top - kh, iw + pad_left - kw) * w (kh, kw):
  // a valid convolution of dz padded by KH-1-pad_top rows above (KW-1-pad_left
  // columns left) with the kernel turned around.
  const Valid v{g.W + g.KW - 1, g.F, g.KH, g.KW, g.H, g.W, g.C};
  const float* dzp = direct::pad_image(dz, g.OH, g.OW, g.F, g.KH - 1 - g.pad_top,
                                       g.KW - 1 - g.pad_left, g.H + g.KH - 1, v.Wp);
  convolve(dzp, packed, nullptr, false, stream, dx, v);
#else
  (void)dz, (void)packed, (void)dx, (void)g, (void)stream;
#endif
}

void conv2d_backward_weights_tiled(const float* x, const float* dz, int64_t N, float* dw,
                                   const ConvGeometry& g, bool accumulate) {
#if defined(__AVX2__) && defined(__FMA__)
  const Valid v = forward_valid(g);
  const int64_t run = v.run();
  // Bands of output rows whose dz and input rows fit in L2 together: every
  // tile of taps reads the whole band (a 56x56 image's dz is 1.6 MB at 128
  // filters). Fashion-MNIST's 14x14 images are one band.
  const int64_t band = std::clamp<int64_t>(
      (kL2Floats - (v.KH - 1) * v.row()) / (v.OW * v.F + v.row()), 1, v.OH);
  for (int64_t n = 0; n < N; ++n) {
    const float* xp = padded_input(x + n * g.in_size(), g, v);
    const float* dzn = dz + n * g.out_size();
    for (int64_t oh = 0; oh < v.OH; oh += band) {
      const int64_t rows = std::min(band, v.OH - oh);
      for (int64_t s = 0; s < g.F / S; ++s)
        for (int kh = 0; kh < g.KH; ++kh)
          for (int64_t t = 0; t < run; t += kTile) {
            const int P = static_cast<int>(std::min<int64_t>(kTile, run - t));
            kWeightTiles[P - 1](xp + (oh + kh) * v.row() + t, dzn + oh * v.OW * g.F + s * S, v,
                                rows, !accumulate && n == 0 && oh == 0,
                                dw + (kh * run + t) * g.F + s * S);
          }
    }
  }
#else
  (void)x, (void)dz, (void)N, (void)dw, (void)g, (void)accumulate;
#endif
}

}  // namespace ck
