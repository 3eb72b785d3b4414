// Direct convolution for layers with few input channels (the first layer:
// C = 1 grey, C = 3 RGB; LeNet's second: C = 6, F = 16). There im2col + GEMM
// is a poor fit: the patch is only KH*KW*C long (9..400), so the GEMM spends
// its time packing, and im2col writes KH*KW copies of every input.
// Here each output pixel's F filters live in vector registers and every
// input value is broadcast against one row of the kernel; windows that cross
// the image's edge read a zero-padded copy. F not a multiple of the vector
// width runs at 8 or 16 lanes, whichever pads it less. The first layer's
// weight gradient is in core/conv_direct_weights.cpp. The reference is
// conv2d_forward_reference (core/conv.cpp); tests/test_conv_direct.cpp checks
// both.
#include <algorithm>
#include <vector>

#include "core/conv.h"
#include "core/conv_direct_common.h"

namespace ck {

namespace direct {

float* thread_scratch(int which, int64_t size) {
  thread_local std::vector<float> buffers[7];
  std::vector<float>& b = buffers[which];
  if (static_cast<int64_t>(b.size()) < size) b.resize(size);
  return b.data();
}

// Only the border is zeroed; the rest is copied over: one pass over memory,
// not two (at 109x109x64 the copy is 3 MB).
const float* pad_image(const float* src, int64_t H, int64_t W, int64_t C, int64_t top, int64_t left,
                       int64_t Hp, int64_t Wp) {
  if (top == 0 && left == 0 && Wp == W && Hp <= H) return src;
  float* dst = thread_scratch(2, Hp * Wp * C);
  const int64_t rows = std::min(H, Hp - top), cols = std::min(W, Wp - left);
  std::fill(dst, dst + top * Wp * C, 0.0f);
  for (int64_t ih = 0; ih < rows; ++ih) {
    float* row = dst + (ih + top) * Wp * C;
    std::fill(row, row + left * C, 0.0f);
    std::copy(src + ih * W * C, src + (ih * W + cols) * C, row + left * C);
    std::fill(row + (left + cols) * C, row + Wp * C, 0.0f);
  }
  std::fill(dst + (top + rows) * Wp * C, dst + Hp * Wp * C, 0.0f);
  return dst;
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

}  // namespace direct

namespace {

using namespace direct;

// P output pixels of row oh starting at ow0, all of whose windows lie inside
// the image (direct_image pads it so that they do).
// x (H,W,C) one image, w (KH,KW,C,F), bias (FV vectors) or null ->
// y row (P pixels, F) = conv (+ bias) (then ReLU when `relu`).
template <class V, int FV, int P>
void direct_block(const float* x, const float* w, const typename V::vec* bias, bool relu, float* y,
                  const ConvGeometry& g, int64_t oh, int64_t ow0, const Filters& fo) {
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
  // The same add and max as bias_activation's, in registers: max(0, v)
  // with 0 first keeps NaN and -0 as it does.
  const typename V::vec zero = V::set1(0.0f);
  for (int p = 0; p < P; ++p) {
    if (bias)
      for (int v = 0; v < FV; ++v) acc[p][v] = V::add(acc[p][v], bias[v]);
    if (relu)
      for (int v = 0; v < FV; ++v) acc[p][v] = V::max(zero, acc[p][v]);
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
  // Bias and ReLU are applied in each block's registers before its store;
  // sigmoid and tanh run over the row just written, while it is in L1.
  const bool in_block = act == Activation::linear || act == Activation::relu;
  typename V::vec bias_vectors[FV];
  if (b) load_filters<V, FV>(bias_vectors, b, fo);
  const typename V::vec* bias = in_block && b ? bias_vectors : nullptr;
  const bool relu = act == Activation::relu;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* yrow = y + oh * g.OW * fo.stride;
    int64_t ow = 0;
    for (; ow + P <= g.OW; ow += P)
      direct_block<V, FV, P>(x, w, bias, relu, yrow + ow * fo.stride, gi, oh, ow, fo);
    // The rest of the row in blocks of 4 and 2: one pixel at a time would
    // leave FV accumulators waiting on each other's FMA latency.
    if constexpr (P > 4)
      for (; ow + 4 <= g.OW; ow += 4)
        direct_block<V, FV, 4>(x, w, bias, relu, yrow + ow * fo.stride, gi, oh, ow, fo);
    for (; ow + 2 <= g.OW; ow += 2)
      direct_block<V, FV, 2>(x, w, bias, relu, yrow + ow * fo.stride, gi, oh, ow, fo);
    for (; ow < g.OW; ++ow)
      direct_block<V, FV, 1>(x, w, bias, relu, yrow + ow * fo.stride, gi, oh, ow, fo);
    if (!in_block) bias_activation(yrow, b, g.OW, fo.stride, act);
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

// rows (rows, F) -> padded (rows, Fp), zeros in the extra columns.
void pad_columns(const float* rows, int64_t n, int64_t F, int64_t Fp, float* padded) {
  for (int64_t r = 0; r < n; ++r) {
    std::copy(rows + r * F, rows + (r + 1) * F, padded + r * Fp);
    std::fill(padded + r * Fp + F, padded + (r + 1) * Fp, 0.0f);
  }
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

}  // namespace

// Measured on LeNet's and similar shapes (1 thread, ms per batch, direct
// vs im2col + GEMM): 14x14x6 -> 16 5x5 0.33 vs 0.46, 56x56x16 -> 16 3x3
// 1.13 vs 1.82, but 28x28x16 -> 64 3x3 8.7 vs 5.5: with several vectors of
// filters the block holds only 4 pixels and the weights outgrow L1. The
// weight gradient, the same way (1 thread, 32 images, direct vs im2col +
// GEMM): 14x14x6 -> 16 5x5 0.16-0.26 vs 0.24-0.36 ms, 56x56x16 -> 16 3x3 6.1-7.0
// vs 12.5-14.9, 28x28x12 -> 6 3x3 stride 2 0.21-0.39 vs 0.27-0.44, 64x64x3 ->
// 64 3x3 7.9-10.2 vs 12.2-15.9.
bool conv_direct_applies(const ConvGeometry& g) {
#if defined(__AVX2__) && defined(__FMA__)
  if (g.F < 1) return false;
  return (g.C <= 4 && g.F <= 4 * simd::kLanes) || (g.C <= 16 && g.F <= simd::kLanes);
#else
  (void)g;
  return false;  // a build without FMA vectors: im2col + GEMM
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
