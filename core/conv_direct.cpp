// Direct convolution for layers with very few input channels (the first
// layer: C = 1 grey, C = 3 RGB). There im2col + GEMM is a poor fit: the
// patch is only KH*KW*C long (9..75), so the GEMM spends its time packing.
// Here each output pixel's F filters live in vector registers and every
// input value is broadcast against one row of the kernel; windows that cross
// the image's edge read a zero-padded copy. F not a multiple of the vector
// width runs at 8 or 16 lanes, whichever pads it less. The first layer's
// weight gradient sums a block of taps (as many kernel rows as the registers
// hold) per pass over dz. The references are conv2d_forward_reference and
// conv2d_backward_reference (core/conv.cpp); tests/test_conv_direct.cpp
// checks both.
#include "core/conv_direct.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/simd.h"

namespace ck {

namespace {

using simd::kLanes;

// Per-thread scratch, grown once and reused (no allocation in the steady
// state): 0 holds zero-padded weights, 1 a padded weight gradient, 2 the
// zero-padded image.
float* thread_scratch(int which, int64_t size) {
  thread_local std::vector<float> buffers[3];
  std::vector<float>& b = buffers[which];
  if (static_cast<int64_t>(b.size()) < size) b.resize(size);
  return b.data();
}

// Where y and dz hold F filters per pixel that is not a multiple of the
// vector width, the kernels run on weights zero-padded to g.F (a multiple of
// it) and read and write y and dz in place: pixels `stride` floats apart, the
// last vector of each holding `tail` real filters (masked loads and stores).
struct Filters {
  int64_t stride;
  int tail;
};

template <class V, int FV>
[[gnu::always_inline]] inline void load_filters(typename V::vec (&d)[FV], const float* p,
                                                const Filters& fo) {
  for (int v = 0; v < FV - 1; ++v) d[v] = V::load(p + v * V::lanes);
  const float* last = p + (FV - 1) * V::lanes;
  d[FV - 1] = fo.tail == V::lanes ? V::load(last) : V::load_first(last, fo.tail);
}

// P output pixels of row oh starting at ow0, all of whose windows lie inside
// the image (direct_image pads it so that they do).
// x (H,W,C) one image, w (KH,KW,C,F) -> y row (P pixels, F) = conv, no bias.
template <class V, int FV, int P>
void direct_block(const float* x, const float* w, float* y, const ConvGeometry& g, int64_t oh,
                  int64_t ow0, const Filters& fo) {
  typename V::vec acc[P][FV];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < FV; ++v) acc[p][v] = V::set1(0.0f);
  const int64_t C = g.C, F = g.F, run = g.KW * C, step = g.SW * C;
  for (int kh = 0; kh < g.KH; ++kh) {
    // Tap (kw, c) of pixel p reads xs[p * step + kw * C + c] and its weights
    // at ws[(kw * C + c) * F]: one run of KW*C taps, in (kw, c) order.
    const float* xs = x + ((oh * g.SH + kh) * g.W + ow0 * g.SW) * C;
    const float* ws = w + kh * run * F;
    for (int64_t j = 0; j < run; ++j) {
      typename V::vec wv[FV];
      for (int v = 0; v < FV; ++v) wv[v] = V::load(ws + j * F + v * V::lanes);
      for (int p = 0; p < P; ++p) {
        const typename V::vec xv = V::set1(xs[p * step + j]);
        for (int v = 0; v < FV; ++v) acc[p][v] = V::fma(xv, wv[v], acc[p][v]);
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    float* out = y + p * fo.stride;
    for (int v = 0; v < FV - 1; ++v) V::store(out + v * V::lanes, acc[p][v]);
    float* last = out + (FV - 1) * V::lanes;
    if (fo.tail == V::lanes)
      V::store(last, acc[p][FV - 1]);
    else
      V::store_first(last, acc[p][FV - 1], fo.tail);
  }
}

// x (H,W,C) one image, w (KH,KW,C,F), b (F) or null -> y (OH,OW,F).
template <class V, int FV>
void direct_image(const float* x, const float* w, const float* b, Activation act, float* y,
                  const ConvGeometry& g, const Filters& fo) {
  constexpr int P = FV <= 2 ? 8 : 4;  // P*FV accumulators: at most 16 registers
  // Windows that cross the image's edge (padding same) read a zero-padded
  // copy instead, so every pixel takes the block path. A padded tap adds
  // 0 * w to a sum that is never -0: the same value as skipping the tap.
  ConvGeometry gi = g;
  gi.H = (g.OH - 1) * g.SH + g.KH, gi.W = (g.OW - 1) * g.SW + g.KW;
  gi.pad_top = gi.pad_left = 0;
  if (g.pad_top > 0 || g.pad_left > 0 || gi.H > g.H || gi.W > g.W) {
    float* xp = thread_scratch(2, gi.H * gi.W * g.C);
    std::fill(xp, xp + gi.H * gi.W * g.C, 0.0f);
    const int64_t rows = std::min(g.H, gi.H - g.pad_top), cols = std::min(g.W, gi.W - g.pad_left);
    for (int64_t ih = 0; ih < rows; ++ih)
      std::copy(x + ih * g.W * g.C, x + (ih * g.W + cols) * g.C,
                xp + ((ih + g.pad_top) * gi.W + g.pad_left) * g.C);
    x = xp;
  } else {
    gi = g;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yrow = y + oh * g.OW * fo.stride;
    int64_t ow = 0;
    for (; ow + P <= g.OW; ow += P)
      direct_block<V, FV, P>(x, w, yrow + ow * fo.stride, gi, oh, ow, fo);
    // The rest of the row in blocks of 4 and 2: one pixel at a time would
    // leave FV accumulators waiting on each other's FMA latency.
    if constexpr (P > 4)
      for (; ow + 4 <= g.OW; ow += 4)
        direct_block<V, FV, 4>(x, w, yrow + ow * fo.stride, gi, oh, ow, fo);
    for (; ow + 2 <= g.OW; ow += 2)
      direct_block<V, FV, 2>(x, w, yrow + ow * fo.stride, gi, oh, ow, fo);
    for (; ow < g.OW; ++ow) direct_block<V, FV, 1>(x, w, yrow + ow * fo.stride, gi, oh, ow, fo);
    // Bias and activation on the row just written, while it is in L1.
    bias_activation(yrow, b, g.OW, fo.stride, act);
  }
}

// Output positions [lo, hi) along one axis whose tap k lands inside the
// image: 0 <= o * S - pad + k < size.
void tap_range(int64_t size, int64_t out, int S, int pad, int k, int64_t& lo, int64_t& hi) {
  lo = pad > k ? (pad - k + S - 1) / S : 0;
  const int64_t last = size - 1 + pad - k;  // o * S <= last
  hi = last < 0 ? 0 : std::min<int64_t>(out, last / S + 1);
}

// The columns of one block of taps: [lo[t], hi[t]) are the output columns
// whose window has tap kw0 + t inside the image, [a, b) those where all T are.
template <int T>
struct TapColumns {
  int64_t lo[T], hi[T], a, b;
  int64_t offset;  // x column of tap kw0 at output column ow: ow * SW + offset
};

// One output row's contribution to tap rows [R0, R1) of an R x T block of
// taps: the columns where all T taps are inside together (each load of dz
// shared by every tap), then each tap's edge columns alone. xrow[r] points at
// x[ih, 0, c] for tap row r; drow at dz[oh, 0, 0].
template <class V, int FV, int T, int R, int R0, int R1>
[[gnu::always_inline]] inline void taps_row(typename V::vec (&acc)[R][T][FV],
                                            const float* const (&xrow)[R], const float* drow,
                                            const TapColumns<T>& cols, const ConvGeometry& g,
                                            const Filters& fo) {
  const int64_t F = fo.stride, C = g.C, SW = g.SW;
  // The vector types may alias any float, so the loop runs on a private
  // copy of the accumulators that the compiler can keep in registers.
  typename V::vec sum[R1 - R0][T][FV];
  for (int r = R0; r < R1; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) sum[r - R0][t][v] = acc[r][t][v];
  const float* xr[R1 - R0];
  for (int r = R0; r < R1; ++r) xr[r - R0] = xrow[r] + cols.offset * C;
  for (int64_t ow = cols.a; ow < cols.b; ++ow) {
    typename V::vec d[FV];
    load_filters<V, FV>(d, drow + ow * F, fo);
    const int64_t iw = ow * SW * C;
    for (int r = 0; r < R1 - R0; ++r)
      for (int t = 0; t < T; ++t) {
        const typename V::vec xv = V::set1(xr[r][iw + t * C]);
        for (int v = 0; v < FV; ++v) sum[r][t][v] = V::fma(xv, d[v], sum[r][t][v]);
      }
  }
  for (int r = R0; r < R1; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) acc[r][t][v] = sum[r - R0][t][v];
  for (int r = R0; r < R1; ++r)
    for (int t = 0; t < T; ++t) {
      auto one = [&](int64_t ow) {
        const typename V::vec xv = V::set1(xrow[r][(ow * SW + cols.offset + t) * C]);
        typename V::vec d[FV];
        load_filters<V, FV>(d, drow + ow * F, fo);
        for (int v = 0; v < FV; ++v) acc[r][t][v] = V::fma(xv, d[v], acc[r][t][v]);
      };
      for (int64_t ow = cols.lo[t]; ow < std::min(cols.a, cols.hi[t]); ++ow) one(ow);
      for (int64_t ow = std::max(cols.b, cols.lo[t]); ow < cols.hi[t]; ++ow) one(ow);
    }
}

// Calls fn(std::integral_constant<int, r>) for r = R0 .. R1-1.
template <int R0, int R1, class Fn>
[[gnu::always_inline]] inline void static_for(Fn&& fn) {
  if constexpr (R0 < R1) {
    fn(std::integral_constant<int, R0>{});
    static_for<R0 + 1, R1>(fn);
  }
}

// dw for an R x T block of taps (kh0..kh0+R-1, kw0..kw0+T-1, channel c):
// dw[tap] (F) += the sum over the output pixels whose window has that tap
// inside the image of x[ih, iw, c] * dz[oh, ow, :]. The block's taps share
// each load of dz: one pass over dz per block, not per tap. Each tap sums its
// pixels row by row, in the same order whatever R is (rows where only some
// tap rows are inside, at the top and bottom edges, take those rows alone),
// so R is free to follow the registers; T sets the order at the left and
// right edges.
template <class V, int FV, int T, int R>
void direct_taps_grad(const float* x, const float* dz, float* dw, const ConvGeometry& g, int kh0,
                      int kw0, int64_t c, const Filters& fo) {
  int64_t top[R], bottom[R];
  for (int r = 0; r < R; ++r) tap_range(g.H, g.OH, g.SH, g.pad_top, kh0 + r, top[r], bottom[r]);
  TapColumns<T> cols;
  for (int t = 0; t < T; ++t)
    tap_range(g.W, g.OW, g.SW, g.pad_left, kw0 + t, cols.lo[t], cols.hi[t]);
  // lo and hi fall as the tap moves right (and top and bottom as it moves down).
  cols.a = cols.lo[0], cols.b = std::max(cols.a, cols.hi[T - 1]);
  cols.offset = kw0 - g.pad_left;
  typename V::vec acc[R][T][FV];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) acc[r][t][v] = V::set1(0.0f);
  const int64_t F = g.F, C = g.C;
  for (int64_t oh = top[R - 1]; oh < bottom[0]; ++oh) {
    const float* drow = dz + oh * g.OW * fo.stride;
    const float* xrow[R];
    for (int r = 0; r < R; ++r) {
      const int64_t ih = std::clamp<int64_t>(oh * g.SH - g.pad_top + kh0 + r, 0, g.H - 1);
      xrow[r] = x + ih * g.W * C + c;  // clamped rows are never read
    }
    if (oh >= top[0] && oh < bottom[R - 1]) {
      taps_row<V, FV, T, R, 0, R>(acc, xrow, drow, cols, g, fo);
      continue;
    }
    static_for<0, R>([&](auto r) {
      if (oh >= top[r] && oh < bottom[r])
        taps_row<V, FV, T, R, r, r + 1>(acc, xrow, drow, cols, g, fo);
    });
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float* out = dw + (((kh0 + r) * g.KW + kw0 + t) * C + c) * F;
      for (int v = 0; v < FV; ++v)
        V::store(out + v * V::lanes, V::add(V::load(out + v * V::lanes), acc[r][t][v]));
    }
}

// Tap rows kh0.. in blocks as tall as the registers allow (R*T*FV
// accumulators, FV for dz, one for x), one column block of T taps at kw0.
template <class V, int FV, int T>
void direct_taps_column(const float* x, const float* dz, float* dw, const ConvGeometry& g, int kw0,
                        int64_t c, const Filters& fo) {
  constexpr int most = std::max(1, (simd::kRegisters - FV - 1) / (T * FV));
  for (int kh = 0; kh < g.KH;) {
    const int rows = std::min(most, g.KH - kh);
    if (rows >= 5 && most >= 5) {
      direct_taps_grad<V, FV, T, (most >= 5 ? 5 : 1)>(x, dz, dw, g, kh, kw0, c, fo);
      kh += 5;
    } else if (rows >= 3 && most >= 3) {
      direct_taps_grad<V, FV, T, (most >= 3 ? 3 : 1)>(x, dz, dw, g, kh, kw0, c, fo);
      kh += 3;
    } else if (rows >= 2 && most >= 2) {
      direct_taps_grad<V, FV, T, (most >= 2 ? 2 : 1)>(x, dz, dw, g, kh, kw0, c, fo);
      kh += 2;
    } else {
      direct_taps_grad<V, FV, T, 1>(x, dz, dw, g, kh, kw0, c, fo);
      kh += 1;
    }
  }
}

template <class V, int FV>
void direct_weights(const float* x, const float* dz, float* dw, const ConvGeometry& g,
                    const Filters& fo) {
  // Taps per row of a block. The choice sets the order of the sums at the
  // image's left and right edges, so it depends on the padded filter count,
  // not on the vector width: F = 24 sums the same at 8 lanes as at 16.
  constexpr int T = FV * V::lanes <= 32 && 5 * FV <= simd::kRegisters ? 4 : 2;
  for (int64_t c = 0; c < g.C; ++c) {
    if (g.KW == 3) {  // the common 3x3 kernel: a row of taps in one block
      direct_taps_column<V, FV, 3>(x, dz, dw, g, 0, c, fo);
      continue;
    }
    int kw = 0;
    for (; kw + T <= g.KW; kw += T) direct_taps_column<V, FV, T>(x, dz, dw, g, kw, c, fo);
    for (; kw < g.KW; ++kw) direct_taps_column<V, FV, 1>(x, dz, dw, g, kw, c, fo);
  }
}

template <class V>
void backward_weights_dispatch(const float* x, const float* dz, float* dw, const ConvGeometry& g,
                               const Filters& fo) {
  switch (g.F / V::lanes) {
    case 1:
      return direct_weights<V, 1>(x, dz, dw, g, fo);
    case 2:
      return direct_weights<V, 2>(x, dz, dw, g, fo);
    case 3:
      return direct_weights<V, 3>(x, dz, dw, g, fo);
    default:
      return direct_weights<V, 4>(x, dz, dw, g, fo);
  }
}

template <class V>
void forward_dispatch(const float* x, const float* w, const float* b, Activation act, float* y,
                      const ConvGeometry& g, const Filters& fo) {
  switch (g.F / V::lanes) {
    case 1:
      return direct_image<V, 1>(x, w, b, act, y, g, fo);
    case 2:
      return direct_image<V, 2>(x, w, b, act, y, g, fo);
    case 3:
      return direct_image<V, 3>(x, w, b, act, y, g, fo);
    default:
      return direct_image<V, 4>(x, w, b, act, y, g, fo);
  }
}

// F not a multiple of the vector width (LeNet's 6 filters): the kernels run
// on weights padded with zero filters to Fp, a multiple of it, and read and
// write y and dz in place (Filters). The padded filters' outputs are never
// stored; their weight gradients are summed and dropped.
int64_t padded_filters(int64_t F, int lanes) { return (F + lanes - 1) / lanes * lanes; }

// rows (rows, F) -> padded (rows, Fp), zeros in the extra columns.
void pad_columns(const float* rows, int64_t n, int64_t F, int64_t Fp, float* padded) {
  for (int64_t r = 0; r < n; ++r) {
    std::copy(rows + r * F, rows + (r + 1) * F, padded + r * Fp);
    std::fill(padded + r * Fp + F, padded + (r + 1) * Fp, 0.0f);
  }
}

// The real filters of y and dz: F per pixel, F % lanes of them in the last vector.
template <class V>
Filters real_filters(int64_t F) {
  const int tail = static_cast<int>(F % V::lanes);
  return {F, tail == 0 ? V::lanes : tail};
}

template <class V>
void backward_weights(const float* x, const float* dz, float* dw, const ConvGeometry& g) {
  const Filters fo = real_filters<V>(g.F);
  if (g.F % V::lanes == 0) return backward_weights_dispatch<V>(x, dz, dw, g, fo);
  // dz is read in place; dw is summed in a padded copy, then added.
  ConvGeometry gp = g;
  gp.F = padded_filters(g.F, V::lanes);
  const int64_t taps = g.patch();
  float* dwp = thread_scratch(1, taps * gp.F);
  std::fill(dwp, dwp + taps * gp.F, 0.0f);
  backward_weights_dispatch<V>(x, dz, dwp, gp, fo);
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t f = 0; f < g.F; ++f) dw[t * g.F + f] += dwp[t * gp.F + f];
}

template <class V>
void forward(const float* x, const float* w, const float* b, Activation act, float* y,
             const ConvGeometry& g) {
  const Filters fo = real_filters<V>(g.F);
  if (g.F % V::lanes == 0) return forward_dispatch<V>(x, w, b, act, y, g, fo);
  // The weights are padded with zero filters; y is written in place.
  ConvGeometry gp = g;
  gp.F = padded_filters(g.F, V::lanes);
  const int64_t taps = g.patch();
  float* wp = thread_scratch(0, taps * gp.F);
  pad_columns(w, taps, g.F, gp.F, wp);
  forward_dispatch<V>(x, wp, b, act, y, gp, fo);
}

// The vector width that pads F to the fewest filters (the wider on a tie):
// F = 6 runs at 8 lanes (8 filters, not 16), F = 24 at 8 (24, not 32). The
// kernels take at most 4 vectors of filters, so 8 lanes serve F <= 32 only.
bool use_narrow(int64_t F) {
#if defined(__AVX512F__)
  return padded_filters(F, 8) < padded_filters(F, 16) && F <= 32;
#else
  (void)F;
  return true;
#endif
}

}  // namespace

bool conv_direct_applies(const ConvGeometry& g) {
#if defined(__AVX2__) && defined(__FMA__)
  return g.C <= 4 && g.F >= 1 && g.F <= 4 * kLanes;
#else
  (void)g;
  return false;  // a build without FMA vectors: im2col + GEMM
#endif
}

// x (H,W,C), dz (OH,OW,F) -> dw (KH,KW,C,F) +=.
void conv2d_backward_weights_direct(const float* x, const float* dz, float* dw,
                                    const ConvGeometry& g) {
#if defined(__AVX512F__)
  if (!use_narrow(g.F)) return backward_weights<simd::Lanes16>(x, dz, dw, g);
#endif
#if defined(__AVX2__) && defined(__FMA__)
  backward_weights<simd::Lanes8>(x, dz, dw, g);
#endif
}

// x (H,W,C), w (KH,KW,C,F), b (F) or null -> y (OH,OW,F).
void conv2d_forward_direct(const float* x, const float* w, const float* b, Activation act, float* y,
                           const ConvGeometry& g) {
#if defined(__AVX512F__)
  if (!use_narrow(g.F)) return forward<simd::Lanes16>(x, w, b, act, y, g);
#endif
#if defined(__AVX2__) && defined(__FMA__)
  forward<simd::Lanes8>(x, w, b, act, y, g);
#endif
}

}  // namespace ck
