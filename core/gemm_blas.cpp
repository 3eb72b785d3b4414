// OpenBLAS backend: cblas_sgemm, kept single-threaded.
#include <cblas.h>

#include "core/gemm.h"

namespace ck {

void gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void blas_use_one_thread() { openblas_set_num_threads(1); }

std::string blas_kernels() { return openblas_get_corename(); }

}  // namespace ck
