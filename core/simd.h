#pragma once
// A thin wrapper over the widest float vector this build targets, so each
// SIMD kernel is written once: AVX-512 (16 lanes), AVX2 (8 lanes), or plain
// floats (1 lane) when built with PORTABLE=ON.
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_ps(),
// which -Wmaybe-uninitialized reports at every caller (GCC bug 105593). The
// kernels that include this header are written against the intrinsics'
// documented semantics; silence that one false alarm for them.
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ck::simd {

// While in scope, this thread's float arithmetic flushes subnormal results
// (below 1.18e-38) to zero and reads subnormal inputs as zero: MXCSR's FTZ
// and DAZ bits, as TensorFlow (Keras) sets them for its CPU kernels. The
// optimizers run under it: a weight whose gradient is 0 (a unit that never
// fires) has its momentum decay by beta_1 every step, into subnormals after
// about 850 steps at 0.9, and x86 computes on those 10-100x slower (Adam on
// Fashion-MNIST's 3.2M dense weights: 82 ms a step instead of 9). An update
// from a subnormal moment is itself below 1e-33, too small to change a
// weight unless the weight is as tiny.
class FlushSubnormals {
 public:
#if defined(__SSE__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }
#endif
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
#if defined(__SSE__)
  static constexpr unsigned kFtzDaz = 0x8040;  // flush-to-zero (bit 15), denormals-are-zero (6)
  unsigned saved_;
#endif
};

#if defined(__AVX512F__)
using vec = __m512;
inline constexpr int kLanes = 16;
inline constexpr int kRegisters = 32;  // zmm0..31
inline vec load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec set1(float x) { return _mm512_set1_ps(x); }
inline vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
inline vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
inline vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
inline vec div(vec a, vec b) { return _mm512_div_ps(a, b); }
inline vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
inline vec sqrt(vec a) { return _mm512_sqrt_ps(a); }
// a * b + c
inline vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
// x where mask (y > 0) else 0: the ReLU gradient gate.
inline vec gate_positive(vec x, vec y) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), x);
}
#elif defined(__AVX2__)
using vec = __m256;
inline constexpr int kLanes = 8;
inline constexpr int kRegisters = 16;  // ymm0..15
inline vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec set1(float x) { return _mm256_set1_ps(x); }
inline vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
inline vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
inline vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
inline vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
inline vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
inline vec sqrt(vec a) { return _mm256_sqrt_ps(a); }
#if defined(__FMA__)
inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
#else
inline vec fma(vec a, vec b, vec c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
#endif
inline vec gate_positive(vec x, vec y) {
  return _mm256_and_ps(x, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
}
#else
using vec = float;
inline constexpr int kLanes = 1;
inline constexpr int kRegisters = 16;
inline vec load(const float* p) { return *p; }
inline void store(float* p, vec v) { *p = v; }
inline vec set1(float x) { return x; }
inline vec add(vec a, vec b) { return a + b; }
inline vec sub(vec a, vec b) { return a - b; }
inline vec mul(vec a, vec b) { return a * b; }
inline vec div(vec a, vec b) { return a / b; }
inline vec max(vec a, vec b) { return a > b ? a : b; }
inline vec sqrt(vec a) { return __builtin_sqrtf(a); }
inline vec fma(vec a, vec b, vec c) { return a * b + c; }
inline vec gate_positive(vec x, vec y) { return y > 0.0f ? x : 0.0f; }
#endif

// The same operations at a fixed width, for kernels that choose their vector
// width per call (the direct convolution pads F up to a multiple of it, so
// F = 6 wastes less at 8 lanes than at 16). Each lane's arithmetic is the same
// at either width.
#if defined(__AVX512F__)
struct Lanes16 {
  using vec = __m512;
  static constexpr int lanes = 16;
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  // A non-temporal store, past the caches. Requires: p 64-byte aligned.
  static void stream(float* p, vec v) { _mm512_stream_ps(p, v); }
  static vec set1(float x) { return _mm512_set1_ps(x); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  // b when either is NaN, as simd::max.
  static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
  // The first n lanes (0 < n <= 16); load_first zeroes the others.
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static vec load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, vec v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  // p[0], p[stride], ..., p[15 * stride]: a gather.
  static vec load_strided(const float* p, int stride) {
    const __m512i index = _mm512_mullo_epi32(
        _mm512_set1_epi32(stride),
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return _mm512_i32gather_ps(index, p, 4);
  }
};
#endif
#if defined(__AVX2__) && defined(__FMA__)
struct Lanes8 {
  using vec = __m256;
  static constexpr int lanes = 8;
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  // A non-temporal store, past the caches. Requires: p 32-byte aligned.
  static void stream(float* p, vec v) { _mm256_stream_ps(p, v); }
  static vec set1(float x) { return _mm256_set1_ps(x); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
  // The first n lanes (0 < n <= 8); load_first zeroes the others.
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static vec load_first(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  // p[0], p[stride], ..., p[7 * stride]: a gather.
  static vec load_strided(const float* p, int stride) {
    const __m256i index =
        _mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_i32gather_ps(p, index, 4);
  }
#if defined(__AVX512VL__)
  // AVX2's vmaskmovps store is microcoded on AMD Zen 4 (LeNet's first-layer
  // forward, 6 filters of 8: 0.46 ms per batch of 64 with it, 0.30 with a
  // k-mask). The masked load stays: as a k-mask load the first layer's
  // weight gradient took 0.52 ms instead of 0.41.
  static void store_first(float* p, vec v, int n) {
    _mm256_mask_storeu_ps(p, static_cast<__mmask8>((1u << n) - 1), v);
  }
#else
  static void store_first(float* p, vec v, int n) { _mm256_maskstore_ps(p, first(n), v); }
#endif
};
#endif

// The first n lanes (0 < n <= kLanes) at the build's width; load_first zeroes
// the others.
#if defined(__AVX512F__)
inline vec load_first(const float* p, int n) { return Lanes16::load_first(p, n); }
inline void store_first(float* p, vec v, int n) { Lanes16::store_first(p, v, n); }
#elif defined(__AVX2__) && defined(__FMA__)
inline vec load_first(const float* p, int n) { return Lanes8::load_first(p, n); }
inline void store_first(float* p, vec v, int n) { Lanes8::store_first(p, v, n); }
#else
inline vec load_first(const float* p, int n) { return n > 0 ? *p : 0.0f; }
inline void store_first(float* p, vec v, int n) {
  if (n > 0) *p = v;
}
#endif

}  // namespace ck::simd
