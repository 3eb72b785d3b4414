#pragma once
// Internal to the Winograd kernels (core/conv_winograd.cpp, the convolution;
// core/conv_winograd_pack.cpp, the filter transform): the transforms convkit
// runs, and the one 2-D block transform on vectors of channels.
#include <cstdint>

#include "core/conv_winograd.h"
#include "core/simd.h"

namespace ck::winograd {

inline constexpr WinogradTransforms kF4x3 = winograd_transforms(4, 3);  // 6x6 tiles
inline constexpr WinogradTransforms kF4x5 = winograd_transforms(4, 5);  // 8x8 tiles
// The weight gradient is a correlation of x with dz whose output is the
// filter: F(3x3, 4x4) and F(5x5, 4x4), on the same tiles (the same n, and
// B^T, which depends only on the points, is the same).
inline constexpr WinogradTransforms kF3x4 = winograd_transforms(3, 4);
inline constexpr WinogradTransforms kF5x4 = winograd_transforms(5, 4);

// The forward transforms for g's filters: F(4x4, 3x3) or F(4x4, 5x5).
inline const WinogradTransforms& transforms_for(const ConvGeometry& g) {
  return g.KH == 3 ? kF4x3 : kF4x5;
}

#if defined(__AVX2__) && defined(__FMA__)
#if defined(__AVX512F__)
using V = simd::Lanes16;
#else
using V = simd::Lanes8;
#endif
using vec = V::vec;
inline constexpr int L = V::lanes;

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
#endif

}  // namespace ck::winograd
