// The direct weight gradient of a layer with few input channels and filters
// (the first layer; LeNet's second): dw (KH,KW,C,F) from x and dz without
// im2col, a block of taps per pass over dz (as many kernel rows as the
// registers hold). Within a kernel row the taps are its KW*C (column,
// channel) pairs in x's order, contiguous in each pixel's window: a block of
// them reads consecutive floats of x, whatever C is.
// The reference is conv2d_backward_reference (core/conv.cpp);
// tests/test_conv_direct.cpp checks it.
#include <algorithm>
#include <type_traits>

#include "core/conv_direct.h"
#include "core/conv_direct_common.h"

namespace ck {

namespace {

using namespace direct;

// Output positions [lo, hi) along one axis whose tap k lands inside the
// image: 0 <= o * S - pad + k < size.
void tap_range(int64_t size, int64_t out, int S, int pad, int k, int64_t& lo, int64_t& hi) {
  lo = pad > k ? (pad - k + S - 1) / S : 0;
  const int64_t last = size - 1 + pad - k;  // o * S <= last
  hi = last < 0 ? 0 : std::min<int64_t>(out, last / S + 1);
}

// The columns of one block of taps j0 .. j0+T-1 in a kernel row (tap j:
// kernel column j / C, channel j % C): [lo[t], hi[t]) are the output columns
// whose window has tap j0 + t inside the image, [a, b) those where all T are.
template <int T>
struct TapColumns {
  int64_t lo[T], hi[T], a, b;
  int64_t offset;  // x float of tap j0 at output column ow, within its row: ow * SW * C + offset
};

// Output rows oh0 .. oh0+rows-1's contribution to tap rows [R0, R1) of an
// R x T block of taps, in the columns where all T taps are inside (each load
// of dz shared by every tap), the sums kept in registers over all the rows.
// xrow[r] points at x[ih, 0, 0] for tap row r and output row oh0; drow at
// dz[oh0, 0, 0].
template <class V, int FV, int T, int R, int R0, int R1>
[[gnu::always_inline]] inline void taps_rows(typename V::vec (&acc)[R][T][FV],
                                             const float* const (&xrow)[R], const float* drow,
                                             int64_t rows, const TapColumns<T>& cols,
                                             const ConvGeometry& g, const Filters& fo) {
  const int64_t F = fo.stride, step = g.SW * g.C;
  const int64_t x_down = g.SH * g.W * g.C, dz_down = g.OW * F;  // one output row down
  // The vector types may alias any float, so the loop runs on a private
  // copy of the accumulators that the compiler can keep in registers.
  typename V::vec sum[R1 - R0][T][FV];
  for (int r = R0; r < R1; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) sum[r - R0][t][v] = acc[r][t][v];
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr[R1 - R0];
    for (int r = R0; r < R1; ++r) xr[r - R0] = xrow[r] + i * x_down + cols.offset;
    const float* dr = drow + i * dz_down;
    for (int64_t ow = cols.a; ow < cols.b; ++ow) {
      typename V::vec d[FV];
      load_filters<V, FV>(d, dr + ow * F, fo);
      const int64_t iw = ow * step;
      for (int r = 0; r < R1 - R0; ++r)
        for (int t = 0; t < T; ++t) {
          const typename V::vec xv = V::set1(xr[r][iw + t]);
          for (int v = 0; v < FV; ++v) sum[r][t][v] = V::fma(xv, d[v], sum[r][t][v]);
        }
    }
  }
  for (int r = R0; r < R1; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) acc[r][t][v] = sum[r - R0][t][v];
}

// Tap row r's edge columns in output row oh (xr at x[ih, 0, 0], dr at
// dz[oh, 0, 0]): the columns where some of the block's taps are outside the
// image, tap by tap.
template <class V, int FV, int T>
void taps_edges(typename V::vec (&acc)[T][FV], const float* xr, const float* dr,
                const TapColumns<T>& cols, const ConvGeometry& g, const Filters& fo) {
  const int64_t F = fo.stride, step = g.SW * g.C;
  for (int t = 0; t < T; ++t) {
    auto one = [&](int64_t ow) {
      const typename V::vec xv = V::set1(xr[ow * step + cols.offset + t]);
      typename V::vec d[FV];
      load_filters<V, FV>(d, dr + ow * F, fo);
      for (int v = 0; v < FV; ++v) acc[t][v] = V::fma(xv, d[v], acc[t][v]);
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

// dw for an R x T block of taps (kernel rows kh0..kh0+R-1, taps j0..j0+T-1
// of each): dw[tap] (F) += the sum over the output pixels whose window has
// that tap inside the image of x[ih, iw, c] * dz[oh, ow, :]. The block's taps share
// each load of dz: one pass over dz per block, not per tap. Each tap sums the
// columns where the whole block is inside, row by row (rows where only some
// tap rows are inside, at the top and bottom edges, take those rows alone),
// then its edge columns, row by row: the same order whatever R is, so R is
// free to follow the registers; T sets which columns are edges.
template <class V, int FV, int T, int R>
void direct_taps_grad(const float* x, const float* dz, float* dw, const ConvGeometry& g, int kh0,
                      int64_t j0, const Filters& fo) {
  const int64_t F = g.F, C = g.C;
  int64_t top[R], bottom[R];
  for (int r = 0; r < R; ++r) tap_range(g.H, g.OH, g.SH, g.pad_top, kh0 + r, top[r], bottom[r]);
  TapColumns<T> cols;
  for (int t = 0; t < T; ++t)
    tap_range(g.W, g.OW, g.SW, g.pad_left, static_cast<int>((j0 + t) / C), cols.lo[t],
              cols.hi[t]);
  // lo and hi fall as the tap moves right (and top and bottom as it moves down).
  cols.a = cols.lo[0], cols.b = std::max(cols.a, cols.hi[T - 1]);
  cols.offset = j0 - g.pad_left * C;
  typename V::vec acc[R][T][FV];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < FV; ++v) acc[r][t][v] = V::set1(0.0f);
  for (int64_t oh = top[R - 1]; oh < bottom[0];) {
    const float* drow = dz + oh * g.OW * fo.stride;
    const float* xrow[R];
    for (int r = 0; r < R; ++r) {
      const int64_t ih = std::clamp<int64_t>(oh * g.SH - g.pad_top + kh0 + r, 0, g.H - 1);
      xrow[r] = x + ih * g.W * C;  // clamped rows are never read
    }
    if (oh >= top[0] && oh < bottom[R - 1]) {  // all R tap rows inside, to bottom[R - 1]
      taps_rows<V, FV, T, R, 0, R>(acc, xrow, drow, bottom[R - 1] - oh, cols, g, fo);
      oh = bottom[R - 1];
      continue;
    }
    static_for<0, R>([&](auto r) {
      if (oh >= top[r] && oh < bottom[r])
        taps_rows<V, FV, T, R, r, r + 1>(acc, xrow, drow, 1, cols, g, fo);
    });
    ++oh;
  }
  if (cols.a != cols.lo[T - 1] || cols.b != cols.hi[0])  // some taps have edge columns
    for (int64_t oh = top[R - 1]; oh < bottom[0]; ++oh)
      for (int r = 0; r < R; ++r) {
        if (oh < top[r] || oh >= bottom[r]) continue;
        const int64_t ih = oh * g.SH - g.pad_top + kh0 + r;
        taps_edges<V, FV, T>(acc[r], x + ih * g.W * C, dz + oh * g.OW * fo.stride, cols, g, fo);
      }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float* out = dw + ((kh0 + r) * g.KW * C + j0 + t) * F;
      for (int v = 0; v < FV; ++v)
        V::store(out + v * V::lanes, V::add(V::load(out + v * V::lanes), acc[r][t][v]));
    }
}

// Tap rows kh0.. in blocks as tall as the registers allow (R*T*FV
// accumulators, FV for dz, one for x), one column block of T taps at j0.
template <class V, int FV, int T>
void direct_taps_column(const float* x, const float* dz, float* dw, const ConvGeometry& g,
                        int64_t j0, const Filters& fo) {
  constexpr int most = std::max(1, (simd::kRegisters - FV - 1) / (T * FV));
  for (int kh = 0; kh < g.KH;) {
    const int rows = std::min(most, g.KH - kh);
    if (rows >= 5 && most >= 5) {
      direct_taps_grad<V, FV, T, (most >= 5 ? 5 : 1)>(x, dz, dw, g, kh, j0, fo);
      kh += 5;
    } else if (rows >= 3 && most >= 3) {
      direct_taps_grad<V, FV, T, (most >= 3 ? 3 : 1)>(x, dz, dw, g, kh, j0, fo);
      kh += 3;
    } else if (rows >= 2 && most >= 2) {
      direct_taps_grad<V, FV, T, (most >= 2 ? 2 : 1)>(x, dz, dw, g, kh, j0, fo);
      kh += 2;
    } else {
      direct_taps_grad<V, FV, T, 1>(x, dz, dw, g, kh, j0, fo);
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
  const int64_t taps = g.KW * g.C;  // per kernel row
  if (g.KW == 3) {  // the common 3x3 kernel: 3 consecutive (column, channel) taps a block
    for (int64_t j = 0; j < taps; j += 3) direct_taps_column<V, FV, 3>(x, dz, dw, g, j, fo);
    return;
  }
  int64_t j = 0;
  for (; j + T <= taps; j += T) direct_taps_column<V, FV, T>(x, dz, dw, g, j, fo);
  if constexpr (T > 2)
    for (; j + 2 <= taps; j += 2) direct_taps_column<V, FV, 2>(x, dz, dw, g, j, fo);
  for (; j < taps; ++j) direct_taps_column<V, FV, 1>(x, dz, dw, g, j, fo);
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

}  // namespace

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

}  // namespace ck
