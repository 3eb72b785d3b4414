#pragma once
// GEMM: the one matrix-multiply entry point everything heavy goes through
// (convolution via im2col, dense layers, their gradients).
//
//   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
//
// Row-major. op(A) = A when trans_a is false (A stored (M,K), leading dimension
// lda >= K), or A^T when true (A stored (K,M), lda >= M). Likewise for B.
// When beta == 0, C is written without being read (it may hold garbage or NaN).
//
// Three backends compute the same thing, switchable at run time (--gemm):
//   naive  a plain triple loop: the reference, easy to read, slow
//   simd   a hand-written, cache-blocked AVX-512/AVX2 kernel (scalar fallback)
//   blas   OpenBLAS cblas_sgemm (the default)
#include <string>

namespace ck {

enum class GemmBackend { naive, simd, blas };

void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend();
// "naive", "simd", "blas"; parse throws ck::Error listing the choices.
std::string gemm_backend_name(GemmBackend backend);
GemmBackend parse_gemm_backend(const std::string& name);
// The current backend with what it runs on, for headers and benchmarks:
// "blas (OpenBLAS, Cooperlake kernels)", "simd (AVX-512)", "naive".
std::string gemm_description();

// Single-threaded GEMM with the current backend. Callers parallelize around it.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);

// The same product split across threads() by blocks of C (rows or columns,
// whichever is longer); each block is one single-threaded gemm call, so the
// result is deterministic for a given thread count.
void gemm_parallel(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc);

// The backends themselves, for tests and `convkit bench gemm`.
void gemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc);
void gemm_simd(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc);
void gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc);
// The instruction set gemm_simd was compiled for: "AVX-512", "AVX2" or "scalar".
const char* gemm_simd_isa();

// Keeps OpenBLAS single-threaded (see core/parallel.h for why).
void blas_use_one_thread();

// The kernel set OpenBLAS runs ("Cooperlake", "Haswell", ...): its own pick
// for this CPU when it loaded, unless OPENBLAS_CORETYPE named one.
std::string blas_kernels();

}  // namespace ck
