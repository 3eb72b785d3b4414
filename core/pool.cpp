#include "core/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/parallel.h"

namespace ck {

namespace {
// Index of the first maximal input of window (oh, ow), channel c, within one
// image; NaN wins (so it propagates like TensorFlow's max pooling).
int32_t window_argmax(const float* xn, const ConvGeometry& g, int64_t oh, int64_t ow, int64_t c) {
  int32_t best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int kh = 0; kh < g.KH; ++kh) {
    int64_t ih = oh * g.SH - g.pad_top + kh;
    if (ih < 0 || ih >= g.H) continue;
    for (int kw = 0; kw < g.KW; ++kw) {
      int64_t iw = ow * g.SW - g.pad_left + kw;
      if (iw < 0 || iw >= g.W) continue;
      int32_t i = static_cast<int32_t>((ih * g.W + iw) * g.C + c);
      if (best < 0 || xn[i] > best_value || std::isnan(xn[i])) {
        best = i;
        best_value = xn[i];
        if (std::isnan(best_value)) return best;
      }
    }
  }
  return best;
}
#if defined(__AVX512F__)
// The max of a window fully inside the image for channels [0, C - C % 16),
// 16 at a time, by the scalar loop's rule: a later cell wins only when
// greater ("first max wins"), or when it is NaN and the best so far is not.
// xn (H,W,C) one image -> yo (C) and ao (C) at one output pixel. The last
// C % 16 channels (all of them when C < 16, as in LeNet's 6) use masked loads
// and stores. Returns the channels done (all).
// KH_, KW_ fix the window at compile time (0: g's, at run time), so that the
// common 2x2 and 3x3 windows' steps unroll (a batch of 64 at 28x28, 1 thread:
// 6 channels 0.22-0.25 -> 0.19-0.20 ms, 32 channels 0.48-0.55 -> 0.32-0.36).
// Without kArgmax (inference) the winners are neither tracked nor stored.
template <int KH_, int KW_, bool kArgmax>
int64_t window_max_avx512(const float* xn, float* yo, int32_t* ao, const ConvGeometry& g,
                          int64_t ih0, int64_t iw0) {
  const int KH = KH_ ? KH_ : g.KH, KW = KW_ ? KW_ : g.KW;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t c = 0; c < g.C; c += 16) {
    const __mmask16 lanes =
        g.C - c >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (g.C - c)) - 1);
    const int32_t base0 = static_cast<int32_t>((ih0 * g.W + iw0) * g.C + c);
    __m512 best = _mm512_maskz_loadu_ps(lanes, xn + base0);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(base0), iota);
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        if (kh == 0 && kw == 0) continue;
        const int32_t base = static_cast<int32_t>(((ih0 + kh) * g.W + iw0 + kw) * g.C + c);
        const __m512 v = _mm512_maskz_loadu_ps(lanes, xn + base);
        const __mmask16 wins =
            _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
            (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
        best = _mm512_mask_mov_ps(best, wins, v);
        if constexpr (kArgmax)
          idx = _mm512_mask_mov_epi32(idx, wins, _mm512_add_epi32(_mm512_set1_epi32(base), iota));
      }
    _mm512_mask_storeu_ps(yo + c, lanes, best);
    if constexpr (kArgmax) _mm512_mask_storeu_epi32(ao + c, lanes, idx);
  }
  return g.C;
}
#endif

}  // namespace

namespace {

template <bool kArgmax>
void maxpool_forward_impl(const float* x, float* y, int32_t* argmax, int64_t N,
                          const ConvGeometry& g) {
  const int64_t in = g.in_size(), out = g.OH * g.OW * g.C;
#if defined(__AVX512F__)
  const auto window_max = g.KH == 2 && g.KW == 2   ? window_max_avx512<2, 2, kArgmax>
                          : g.KH == 3 && g.KW == 3 ? window_max_avx512<3, 3, kArgmax>
                                                   : window_max_avx512<0, 0, kArgmax>;
#endif
  parallel_for(N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * in;
      float* yn = y + n * out;
      int32_t* an = kArgmax ? argmax + n * out : nullptr;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t o = (oh * g.OW + ow) * g.C;
          // Common case, a window fully inside: a channel-vectorizable max.
          const int64_t ih0 = oh * g.SH - g.pad_top, iw0 = ow * g.SW - g.pad_left;
          if (ih0 >= 0 && iw0 >= 0 && ih0 + g.KH <= g.H && iw0 + g.KW <= g.W) {
            int64_t c0 = 0;
#if defined(__AVX512F__)
            c0 = window_max(xn, yn + o, kArgmax ? an + o : nullptr, g, ih0, iw0);
            if (c0 == g.C) continue;
#endif
            for (int64_t c = c0; c < g.C; ++c) {
              int32_t i = static_cast<int32_t>((ih0 * g.W + iw0) * g.C + c);
              if constexpr (kArgmax) an[o + c] = i;
              yn[o + c] = xn[i];
            }
            for (int kh = 0; kh < g.KH; ++kh)
              for (int kw = 0; kw < g.KW; ++kw) {
                if (kh == 0 && kw == 0) continue;
                const int32_t base = static_cast<int32_t>(((ih0 + kh) * g.W + iw0 + kw) * g.C);
                for (int64_t c = c0; c < g.C; ++c) {
                  float v = xn[base + c];
                  // "v > best" keeps the first max; the NaN test lets NaN win.
                  if (v > yn[o + c] || (v != v && yn[o + c] == yn[o + c])) {
                    yn[o + c] = v;
                    if constexpr (kArgmax) an[o + c] = base + static_cast<int32_t>(c);
                  }
                }
              }
            continue;
          }
          for (int64_t c = 0; c < g.C; ++c) {
            int32_t i = window_argmax(xn, g, oh, ow, c);
            if constexpr (kArgmax) an[o + c] = i;
            yn[o + c] = xn[i];
          }
        }
    }
  });
}

}  // namespace

void maxpool_forward(const float* x, float* y, int32_t* argmax, int64_t N, const ConvGeometry& g) {
  if (argmax)
    maxpool_forward_impl<true>(x, y, argmax, N, g);
  else
    maxpool_forward_impl<false>(x, y, nullptr, N, g);
}

void maxpool_backward(const float* dy, const int32_t* argmax, float* dx, int64_t N,
                      const ConvGeometry& g, const float* relu_y) {
  const int64_t in = g.in_size(), out = g.OH * g.OW * g.C, out_row = g.OW * g.C,
                in_row = g.W * g.C;
  parallel_for(N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* dxn = dx + n * in;
      const float* dyn = dy + n * out;
      const int32_t* an = argmax + n * out;
      // dx is zeroed row by row just ahead of the winners that land in it, not
      // the whole image first: the rows are still in cache when the winners
      // are added (learning-rate-10's first pooling input is 6.3 MB per image,
      // and zeroing it all first sent it to memory and back). Input rows
      // [0, zeroed) are zero or hold their sums so far.
      int64_t zeroed = 0;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t reach = std::min(g.H, oh * g.SH - g.pad_top + g.KH);  // rows its windows touch
        if (reach > zeroed) {
          std::fill(dxn + zeroed * in_row, dxn + reach * in_row, 0.0f);
          zeroed = reach;
        }
        if (!relu_y) {
          for (int64_t o = oh * out_row; o < (oh + 1) * out_row; ++o) dxn[an[o]] += dyn[o];
          continue;
        }
        const float* yn = relu_y + n * out;
        for (int64_t o = oh * out_row; o < (oh + 1) * out_row; ++o)
          if (yn[o] > 0.0f) dxn[an[o]] += dyn[o];
      }
      std::fill(dxn + zeroed * in_row, dxn + in, 0.0f);  // rows no window reaches
    }
  });
}

void maxpool_forward_reference(const float* x, float* y, int64_t N, const ConvGeometry& g) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          const float* xn = x + n * g.in_size();
          y[((n * g.OH + oh) * g.OW + ow) * g.C + c] = xn[window_argmax(xn, g, oh, ow, c)];
        }
}

void maxpool_backward_reference(const float* x, const float* dy, float* dx, int64_t N,
                                const ConvGeometry& g) {
  std::fill(dx, dx + N * g.in_size(), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          const float* xn = x + n * g.in_size();
          dx[n * g.in_size() + window_argmax(xn, g, oh, ow, c)] +=
              dy[((n * g.OH + oh) * g.OW + ow) * g.C + c];
        }
}

void global_avgpool_forward(const float* x, float* y, int64_t N, int64_t HW, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    float* yn = y + n * C;
    std::fill(yn, yn + C, 0.0f);
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) yn[c] += x[(n * HW + p) * C + c];
    for (int64_t c = 0; c < C; ++c) yn[c] /= static_cast<float>(HW);
  }
}

void global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t HW, int64_t C) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c)
        dx[(n * HW + p) * C + c] = dy[n * C + c] / static_cast<float>(HW);
}

}  // namespace ck
