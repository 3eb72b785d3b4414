// The planar direct convolution: a first layer with fewer filters than a
// vector has lanes. The direct kernels (core/conv_direct.cpp) hold a pixel's
// filters in one vector, so LeNet's 6 filters fill 6 of 8 lanes, and every
// tap costs a broadcast of one input value. Here a vector holds L = kLanes
// neighbouring output pixels of one row, for one filter:
//
//   y[oh, ow .. ow+L-1, f] = sum over taps (kh, kw, c) of
//                            x[oh+kh, ow+kw .. ow+kw+L-1, c] * w[kh, kw, c, f]
//
// Each tap is then one unaligned load of L input values, shared by every
// filter, and one FMA per filter with the tap's weight broadcast.
//
// The image is copied first into `planes` (C, Hp, Wp): zero-padded by the
// layer's padding, and wide enough that every row of output vectors, the last
// one's unused lanes included, reads inside it. Sums over padding add 0 * w,
// which leaves them unchanged: the forward pass sums each output over the
// same taps in the same order as conv2d_forward_direct, bit for bit. The
// results come out in planar rows (F, OH, VPR*L) and are interleaved into y
// (OH,OW,F) 16 pixels at a time, with permutes in registers.
//
// The weight gradient runs the other way round: dz is deinterleaved into
// planar rows, zeros in the unused lanes, and a block of taps x filters
// accumulates in registers over the whole image; each tap and filter keeps
// L lane sums over the part's images, which are added up at the end.
#include "core/conv_planar.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/conv_direct_common.h"
#include "core/simd.h"

namespace ck {

#if defined(__AVX2__) && defined(__FMA__)

namespace {

constexpr int L = simd::kLanes;

// Between L planar vectors (filter f's values for L neighbouring pixels, in
// `src` at f * plane) and the same L pixels pixel-major (F floats each, the
// layout of y and dz), for the first n pixels; deinterleave zeroes the rest.
// AVX-512 permutes within registers: output vector k takes, for each filter,
// the lanes whose element (16k + l) belongs to it (F x F masked permutes for
// 16 pixels). Without AVX-512, scalar copies.
#if defined(__AVX512F__)
struct Interleaving {
  __m512i pixel[16];        // pixel[k] lane l: (16k + l) / F
  __mmask16 filter[16][16];  // filter[k][f]: lanes l with (16k + l) % F == f
  __m512i element[16];      // element[f] lane p: where p * F + f falls within its vector
  __mmask16 vector[16][16];  // vector[f][k]: lanes p whose p * F + f is in vector k
  Interleaving() = default;
  explicit Interleaving(int64_t F) {
    alignas(64) int32_t pix[16][16], elem[16][16];
    for (int k = 0; k < 16; ++k)
      for (int f = 0; f < 16; ++f) filter[k][f] = vector[f][k] = 0;
    for (int64_t i = 0; i < 16 * F; ++i) {
      const int k = static_cast<int>(i / 16), l = static_cast<int>(i % 16);
      const int p = static_cast<int>(i / F), f = static_cast<int>(i % F);
      pix[k][l] = p;
      filter[k][f] |= static_cast<__mmask16>(1u << l);
      elem[f][p] = l;
      vector[f][k] |= static_cast<__mmask16>(1u << p);
    }
    for (int64_t k = 0; k < F; ++k) {
      pixel[k] = _mm512_load_si512(pix[k]);
      element[k] = _mm512_load_si512(elem[k]);
    }
  }
};
#else
struct Interleaving {
  Interleaving() = default;
  explicit Interleaving(int64_t) {}
};
#endif

// This thread's tables for F filters, built when F changes.
const Interleaving& interleaving(int64_t F) {
  thread_local Interleaving tables;
  thread_local int64_t built_for = 0;
  if (built_for != F) tables = Interleaving(F), built_for = F;
  return tables;
}

#if defined(__AVX512F__)
// The lanes each of F registers gives one output: F permutes that do not
// wait on each other, then ORed (each lane comes from exactly one of them).
template <int F>
[[gnu::always_inline]] inline __m512 merge(const __m512 (&in)[16], const __mmask16* masks,
                                           __m512i index) {
  __m512i out = _mm512_castps_si512(_mm512_maskz_permutexvar_ps(masks[0], index, in[0]));
#pragma GCC unroll 16
  for (int f = 1; f < F; ++f)
    out = _mm512_or_si512(
        out, _mm512_castps_si512(_mm512_maskz_permutexvar_ps(masks[f], index, in[f])));
  return _mm512_castsi512_ps(out);
}

template <int F>
void interleave_f(const Interleaving& il, const float* src, int64_t plane, int n, float* dst) {
  __m512 in[16];
#pragma GCC unroll 16
  for (int f = 0; f < F; ++f) in[f] = _mm512_loadu_ps(src + f * plane);
  const int total = n * F;
#pragma GCC unroll 16
  for (int k = 0; k * 16 < total; ++k) {
    const __m512 out = merge<F>(in, il.filter[k], il.pixel[k]);
    const int left = total - k * 16;
    _mm512_mask_storeu_ps(dst + k * 16, left >= 16 ? 0xffff : (1u << left) - 1, out);
  }
}

template <int F>
void deinterleave_f(const Interleaving& il, const float* src, int n, float* dst, int64_t plane) {
  __m512 in[16];
  const int total = n * F;
#pragma GCC unroll 16
  for (int k = 0; k < F; ++k) {
    const int left = std::max(0, total - k * 16);
    in[k] = _mm512_maskz_loadu_ps(left >= 16 ? 0xffff : (1u << left) - 1, src + k * 16);
  }
#pragma GCC unroll 16
  for (int f = 0; f < F; ++f)
    _mm512_storeu_ps(dst + f * plane, merge<F>(in, il.vector[f], il.element[f]));
}

// Calls fn(std::integral_constant<int, F>) for F in 1..15.
template <class Fn>
void with_filters(int64_t F, Fn&& fn) {
  switch (F) {
#define CK_CASE(n) \
  case n:          \
    return fn(std::integral_constant<int, n>{});
    CK_CASE(1) CK_CASE(2) CK_CASE(3) CK_CASE(4) CK_CASE(5) CK_CASE(6) CK_CASE(7) CK_CASE(8)
    CK_CASE(9) CK_CASE(10) CK_CASE(11) CK_CASE(12) CK_CASE(13) CK_CASE(14) CK_CASE(15)
#undef CK_CASE
  }
}
#endif

void interleave(const Interleaving& il, const float* src, int64_t plane, int64_t F, int n,
                float* dst) {
#if defined(__AVX512F__)
  with_filters(F, [&](auto f) { interleave_f<decltype(f)::value>(il, src, plane, n, dst); });
#else
  (void)il;
  for (int p = 0; p < n; ++p)
    for (int64_t f = 0; f < F; ++f) dst[p * F + f] = src[f * plane + p];
#endif
}

void deinterleave(const Interleaving& il, const float* src, int64_t F, int n, float* dst,
                  int64_t plane) {
#if defined(__AVX512F__)
  with_filters(F, [&](auto f) { deinterleave_f<decltype(f)::value>(il, src, n, dst, plane); });
#else
  (void)il;
  for (int64_t f = 0; f < F; ++f)
    for (int p = 0; p < L; ++p) dst[f * plane + p] = p < n ? src[p * F + f] : 0.0f;
#endif
}

// How the planar copy of one image is laid out.
struct Planes {
  int64_t VPR;      // output vectors per row: ceil(OW / L)
  int64_t vectors;  // output vectors: OH * VPR
  int64_t rows;     // output rows readable: OH, and phantom rows for whole groups
  int64_t Hp, Wp;
  const float* data;
  const int64_t* taps;  // offset of tap (kh, kw, c) in (kh, kw, c) order
  // The first input value output vector j reads (tap 0).
  const float* at(int64_t j) const { return data + (j / VPR) * Wp + (j % VPR) * L; }
};

// Output vectors per group in the forward pass: at most this many.
constexpr int kMaxGroup = 8;

// x (H,W,C) -> planes (C, Hp, Wp) zero-padded. With `groups`, phantom rows
// below the image let the last group of output vectors read past the last
// real one.
Planes make_planes(const float* x, const ConvGeometry& g, bool groups) {
  Planes p;
  p.VPR = (g.OW + L - 1) / L;
  p.vectors = g.OH * p.VPR;
  p.rows = g.OH + (groups ? (kMaxGroup + p.VPR - 1) / p.VPR : 0);
  p.Hp = p.rows + g.KH - 1;
  p.Wp = p.VPR * L + g.KW - 1;
  float* data = direct::thread_scratch(2, g.C * p.Hp * p.Wp);
  std::fill(data, data + g.C * p.Hp * p.Wp, 0.0f);
  const int64_t H = std::min(g.H, p.Hp - g.pad_top), W = std::min(g.W, p.Wp - g.pad_left);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < H; ++ih) {
      float* dst = data + (c * p.Hp + ih + g.pad_top) * p.Wp + g.pad_left;
      const float* src = x + ih * g.W * g.C + c;
      for (int64_t iw = 0; iw < W; ++iw) dst[iw] = src[iw * g.C];
    }
  p.data = data;
  thread_local std::vector<int64_t> taps;
  taps.resize(g.patch());  // grows once: no allocation in the steady state
  for (int kh = 0, t = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int64_t c = 0; c < g.C; ++c) taps[t++] = (c * p.Hp + kh) * p.Wp + kw;
  p.taps = taps.data();
  return p;
}

// Output vectors [j0, j0 + P) for filters [f0, f0 + FB): planar rows
// yp (F, vectors * L), filter f at f * plane, = conv (+ bias) (then ReLU
// when `relu`). w (KH,KW,C,F), bias (F) or null.
template <int FB, int P>
void forward_group(const Planes& p, const ConvGeometry& g, const float* w, int64_t f0,
                   const float* bias, bool relu, float* yp, int64_t plane, int64_t j0) {
  const int64_t taps = g.patch(), F = g.F;
  simd::vec acc[FB][P];
  for (int f = 0; f < FB; ++f)
    for (int q = 0; q < P; ++q) acc[f][q] = simd::set1(0.0f);
  const float* base[P];
  for (int q = 0; q < P; ++q) base[q] = p.at(j0 + q);
  for (int64_t t = 0; t < taps; ++t) {
    simd::vec xv[P];
    for (int q = 0; q < P; ++q) xv[q] = simd::load(base[q] + p.taps[t]);
    const float* wt = w + t * F + f0;
    for (int f = 0; f < FB; ++f) {
      const simd::vec wv = simd::set1(wt[f]);
      for (int q = 0; q < P; ++q) acc[f][q] = simd::fma(xv[q], wv, acc[f][q]);
    }
  }
  // The same add and max as the direct kernel's (and bias_activation's).
  const simd::vec zero = simd::set1(0.0f);
  for (int f = 0; f < FB; ++f)
    for (int q = 0; q < P; ++q) {
      simd::vec v = acc[f][q];
      if (bias) v = simd::add(v, simd::set1(bias[f0 + f]));
      if (relu) v = simd::max(zero, v);
      simd::store(yp + (f0 + f) * plane + (j0 + q) * L, v);
    }
}

// P*FB accumulators, P input vectors and one weight: within the registers.
template <int FB>
constexpr int kForwardGroup = std::max(1, std::min(kMaxGroup, (simd::kRegisters - 2) / (FB + 1)));

template <int FB>
void forward_filters(const Planes& p, const ConvGeometry& g, const float* w, int64_t f0,
                     const float* bias, bool relu, float* yp, int64_t plane) {
  constexpr int P = kForwardGroup<FB>;
  for (int64_t j = 0; j < p.vectors; j += P)
    forward_group<FB, P>(p, g, w, f0, bias, relu, yp, plane, j);
}

// Calls fn(std::integral_constant<int, FB>, f0) for filters [f0, f0 + FB)
// in blocks of at most 8: F <= 8 in one, 9..15 in two near-equal ones.
template <class Fn>
void for_filter_blocks(int64_t F, Fn&& fn) {
  auto block = [&](int64_t f0, int64_t n) {
    switch (n) {
      case 1: return fn(std::integral_constant<int, 1>{}, f0);
      case 2: return fn(std::integral_constant<int, 2>{}, f0);
      case 3: return fn(std::integral_constant<int, 3>{}, f0);
      case 4: return fn(std::integral_constant<int, 4>{}, f0);
      case 5: return fn(std::integral_constant<int, 5>{}, f0);
      case 6: return fn(std::integral_constant<int, 6>{}, f0);
      case 7: return fn(std::integral_constant<int, 7>{}, f0);
      default: return fn(std::integral_constant<int, 8>{}, f0);
    }
  };
  const int64_t first = F <= 8 ? F : (F + 1) / 2;
  block(0, first);
  if (first < F) block(first, F - first);
}

// T taps [t0, t0 + T) x filters [f0, f0 + FB) summed over every output
// vector, lane by lane, into sums (taps, F) of vectors. Taps past the last (a
// short final block) repeat tap t0 and are dropped.
template <int FB, int T>
void weight_block(const Planes& p, int64_t taps, const float* dzp, int64_t plane, int64_t t0,
                  int64_t f0, int64_t F, float* sums) {
  int64_t offset[T];
  for (int t = 0; t < T; ++t) offset[t] = p.taps[t0 + t < taps ? t0 + t : t0];
  simd::vec acc[T][FB];
  for (int t = 0; t < T; ++t)
    for (int f = 0; f < FB; ++f) acc[t][f] = simd::set1(0.0f);
  const float* dzf = dzp + f0 * plane;
  for (int64_t j = 0; j < p.vectors; ++j) {
    simd::vec d[FB];
    for (int f = 0; f < FB; ++f) d[f] = simd::load(dzf + f * plane + j * L);
    const float* xj = p.at(j);
    for (int t = 0; t < T; ++t) {
      const simd::vec xv = simd::load(xj + offset[t]);
      for (int f = 0; f < FB; ++f) acc[t][f] = simd::fma(xv, d[f], acc[t][f]);
    }
  }
  for (int t = 0; t < T && t0 + t < taps; ++t)
    for (int f = 0; f < FB; ++f) {
      float* sum = sums + ((t0 + t) * F + f0 + f) * L;
      simd::store(sum, simd::add(simd::load(sum), acc[t][f]));
    }
}

// T*FB accumulators, FB vectors of dz and one input vector.
template <int FB>
constexpr int kTapBlock = std::max(1, std::min(8, (simd::kRegisters - FB - 1) / FB));

}  // namespace

bool conv_planar_applies(const ConvGeometry& g) {
  return g.SH == 1 && g.SW == 1 && g.C <= 4 && g.F >= 1 && g.F < L && g.OW >= L;
}

void conv2d_forward_planar(const float* x, const float* w, const float* b, Activation act,
                           float* y, const ConvGeometry& g) {
  const Planes p = make_planes(x, g, true);
  const int64_t row = p.VPR * L, plane = p.rows * row;
  float* yp = direct::thread_scratch(1, g.F * plane);
  // Bias and ReLU in registers; sigmoid, tanh and softmax afterwards over y.
  const bool in_block = act == Activation::linear || act == Activation::relu;
  const float* bias = in_block ? b : nullptr;
  const bool relu = act == Activation::relu;
  for_filter_blocks(g.F, [&](auto fb, int64_t f0) {
    forward_filters<decltype(fb)::value>(p, g, w, f0, bias, relu, yp, plane);
  });
  const Interleaving& il = interleaving(g.F);
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ow += L)
      interleave(il, yp + oh * row + ow, plane, g.F, static_cast<int>(std::min<int64_t>(L, g.OW - ow)),
                 y + (oh * g.OW + ow) * g.F);
  if (!in_block) bias_activation(y, b, g.OH * g.OW, g.F, act);
}

void conv2d_backward_weights_planar(const float* x, const float* dz, int64_t N, float* dw,
                                    const ConvGeometry& g) {
  const int64_t taps = g.patch();
  // Each tap and filter sums in L lanes over all N images, then across them.
  float* sums = direct::thread_scratch(0, taps * g.F * L);
  std::fill(sums, sums + taps * g.F * L, 0.0f);
  const Interleaving& il = interleaving(g.F);
  for (int64_t n = 0; n < N; ++n) {
    const Planes p = make_planes(x + n * g.in_size(), g, false);
    const int64_t row = p.VPR * L, plane = g.OH * row;
    float* dzp = direct::thread_scratch(1, g.F * plane);
    const float* dzn = dz + n * g.out_size();
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < row; ow += L)
        deinterleave(il, dzn + (oh * g.OW + ow) * g.F, g.F,
                     static_cast<int>(std::min<int64_t>(L, g.OW - ow)), dzp + oh * row + ow, plane);
    for_filter_blocks(g.F, [&](auto fb, int64_t f0) {
      constexpr int FB = decltype(fb)::value, T = kTapBlock<FB>;
      for (int64_t t0 = 0; t0 < taps; t0 += T)
        weight_block<FB, T>(p, taps, dzp, plane, t0, f0, g.F, sums);
    });
  }
  for (int64_t i = 0; i < taps * g.F; ++i) {
    float sum = 0.0f;
    for (int l = 0; l < L; ++l) sum += sums[i * L + l];
    dw[i] += sum;
  }
}

#else  // no FMA vectors: never applies

bool conv_planar_applies(const ConvGeometry&) { return false; }
void conv2d_forward_planar(const float*, const float*, const float*, Activation, float*,
                           const ConvGeometry&) {}
void conv2d_backward_weights_planar(const float*, const float*, int64_t, float*,
                                    const ConvGeometry&) {}

#endif

}  // namespace ck
