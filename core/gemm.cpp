#include "core/gemm.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>

#include "core/error.h"
#include "core/parallel.h"

namespace ck {

namespace {
std::atomic<GemmBackend> g_backend{GemmBackend::blas};
}

void set_gemm_backend(GemmBackend backend) { g_backend = backend; }
GemmBackend gemm_backend() { return g_backend; }

std::string gemm_backend_name(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::naive: return "naive";
    case GemmBackend::simd: return "simd";
    case GemmBackend::blas: return "blas";
  }
  return "?";
}

std::string gemm_description() {
  switch (gemm_backend()) {
    case GemmBackend::naive: return "naive";
    case GemmBackend::simd: return fmt::format("simd ({})", gemm_simd_isa());
    case GemmBackend::blas:
      // A kernel set forced by the environment is named as such: it can be
      // slower than OpenBLAS's own pick (Haswell's AVX2 kernels on a CPU
      // with AVX-512).
      return fmt::format("blas (OpenBLAS, {} kernels{})", blas_kernels(),
                         std::getenv("OPENBLAS_CORETYPE") ? " from OPENBLAS_CORETYPE" : "");
  }
  return "?";
}

GemmBackend parse_gemm_backend(const std::string& name) {
  if (name == "naive") return GemmBackend::naive;
  if (name == "simd") return GemmBackend::simd;
  if (name == "blas") return GemmBackend::blas;
  fail("unknown GEMM backend \"{}\": choose naive, simd or blas", name);
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  switch (g_backend.load(std::memory_order_relaxed)) {
    case GemmBackend::naive:
      return gemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    case GemmBackend::simd:
      return gemm_simd(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    case GemmBackend::blas:
      return gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

void gemm_parallel(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  int parts = threads();
  // Small products are not worth splitting: one thread finishes before the
  // others would have started.
  if (parts == 1 || static_cast<double>(M) * N * K < 64.0 * 64 * 64) {
    gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (M >= N) {
    // Rows i of C need rows i of op(A).
    parallel_parts(M, parts, [&](int, int64_t begin, int64_t end) {
      const float* a = trans_a ? A + begin : A + begin * lda;
      gemm(trans_a, trans_b, static_cast<int>(end - begin), N, K, alpha, a, lda, B, ldb, beta,
           C + begin * ldc, ldc);
    });
  } else {
    // Columns j of C need columns j of op(B).
    parallel_parts(N, parts, [&](int, int64_t begin, int64_t end) {
      const float* b = trans_b ? B + begin * ldb : B + begin;
      gemm(trans_a, trans_b, M, static_cast<int>(end - begin), K, alpha, A, lda, b, ldb, beta,
           C + begin, ldc);
    });
  }
}

}  // namespace ck
