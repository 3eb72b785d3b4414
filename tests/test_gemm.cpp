// The three GEMM backends compute the same product: odd shapes, transposes,
// submatrices (leading dimensions beyond the row), alpha/beta, and the
// parallel split.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/peak.h"
#include "core/rng.h"
#include "tests/helpers.h"

using namespace ck;

namespace {

using GemmFn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int,
                        float, float*, int);

const float kFloatNaN = std::numeric_limits<float>::quiet_NaN();
const float kSentinel = 12345.0f;  // fills C's padding, which must stay untouched

// One GEMM problem with its operands stored as the flags say, each row padded
// by `pad` extra elements (NaN in A and B, so reading padding shows up).
struct Problem {
  bool ta, tb;
  int M, N, K, pad;
  float alpha, beta;
  int lda, ldb, ldc;
  std::vector<float> A, B, C0;  // C0: C before the call

  Problem(bool ta_, bool tb_, int M_, int N_, int K_, float alpha_, float beta_, int pad_ = 0,
          uint64_t seed = 1)
      : ta(ta_), tb(tb_), M(M_), N(N_), K(K_), pad(pad_), alpha(alpha_), beta(beta_) {
    Rng rng(seed);
    const int a_rows = ta ? K : M, a_cols = ta ? M : K;
    const int b_rows = tb ? N : K, b_cols = tb ? K : N;
    lda = a_cols + pad;
    ldb = b_cols + pad;
    ldc = N + pad;
    A = filled(a_rows, a_cols, lda, rng, kFloatNaN);
    B = filled(b_rows, b_cols, ldb, rng, kFloatNaN);
    C0 = filled(M, N, ldc, rng, kSentinel);
    // With beta == 0, C must be written without being read.
    if (beta == 0.0f)
      for (int i = 0; i < M; ++i)
        std::fill_n(C0.begin() + static_cast<size_t>(i) * ldc, N, kFloatNaN);
  }

  static std::vector<float> filled(int rows, int cols, int ld, Rng& rng, float padding) {
    std::vector<float> m(static_cast<size_t>(std::max(rows, 1)) * ld, padding);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) m[static_cast<size_t>(i) * ld + j] = rng.uniform(-1.0f, 1.0f);
    return m;
  }

  std::vector<float> run(GemmFn fn) const {
    std::vector<float> C = C0;
    fn(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    return C;
  }

  // Same, through gemm() or gemm_parallel() with the global backend.
  std::vector<float> run_dispatch(bool parallel) const {
    std::vector<float> C = C0;
    if (parallel)
      gemm_parallel(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    else
      gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    return C;
  }

  std::string describe() const {
    return "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
           " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " alpha=" +
           std::to_string(alpha) + " beta=" + std::to_string(beta) + " pad=" + std::to_string(pad);
  }
};

// Checks `got` against the reference: every element finite and within a
// float-accumulation tolerance, padding of C untouched.
void check_close(const Problem& p, const std::vector<float>& want, const std::vector<float>& got,
                 const char* backend) {
  INFO(backend, ": ", p.describe());
  double max_ref = 0.0, max_diff = 0.0;
  bool finite = true, padding_kept = true;
  for (int i = 0; i < p.M; ++i) {
    for (int j = 0; j < p.ldc; ++j) {
      size_t at = static_cast<size_t>(i) * p.ldc + j;
      if (j >= p.N) {
        padding_kept = padding_kept && got[at] == kSentinel;
        continue;
      }
      finite = finite && std::isfinite(got[at]);
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[at])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(want[at]) - got[at]));
    }
  }
  CHECK(finite);
  CHECK(padding_kept);
  CHECK(max_diff <= 1e-4 * std::sqrt(std::max(p.K, 1)) * std::max(max_ref, 1e-6));
}

// All backends against the naive reference.
void check_backends(const Problem& p) {
  std::vector<float> want = p.run(gemm_naive);
  check_close(p, want, p.run(gemm_simd), "simd");
  check_close(p, want, p.run(gemm_blas), "blas");
}

struct Shape3 {
  int M, N, K;
};
const Shape3 kOddShapes[] = {{1, 1, 1},   {7, 5, 3},    {17, 33, 65}, {129, 67, 250},
                             {1, 40, 19}, {40, 1, 19},  {1, 1, 300},  {15, 31, 17},
                             {33, 48, 16}, {200, 70, 513}};

// Restores the global backend and thread count at the end of a test.
struct RestoreGlobals {
  GemmBackend backend = gemm_backend();
  int thread_count = threads();
  ~RestoreGlobals() {
    set_gemm_backend(backend);
    set_threads(thread_count);
  }
};

}  // namespace

TEST_CASE("gemm: a hand-computed 2x3 * 3x2 product, exactly, in every backend") {
  // [1 2 3]   [ 7  8]   [ 58  64]
  // [4 5 6] * [ 9 10] = [139 154]
  //           [11 12]
  const float A[] = {1, 2, 3, 4, 5, 6}, At[] = {1, 4, 2, 5, 3, 6};
  const float B[] = {7, 8, 9, 10, 11, 12}, Bt[] = {7, 9, 11, 8, 10, 12};
  const float want[] = {58, 64, 139, 154};
  for (GemmFn fn : {gemm_naive, gemm_simd, gemm_blas}) {
    float C[4] = {kFloatNaN, kFloatNaN, kFloatNaN, kFloatNaN};
    fn(false, false, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    for (int i = 0; i < 4; ++i) CHECK(C[i] == want[i]);
    float Ct[4] = {kFloatNaN, kFloatNaN, kFloatNaN, kFloatNaN};
    fn(true, true, 2, 2, 3, 1.0f, At, 2, Bt, 3, 0.0f, Ct, 2);
    for (int i = 0; i < 4; ++i) CHECK(Ct[i] == want[i]);
    // C = 2*A*B + 1*C doubles and adds.
    fn(false, false, 2, 2, 3, 2.0f, A, 3, B, 2, 1.0f, C, 2);
    for (int i = 0; i < 4; ++i) CHECK(C[i] == 3 * want[i]);
  }
}

TEST_CASE("gemm: backends agree on odd shapes and all four transposes") {
  for (const Shape3& s : kOddShapes)
    for (int t = 0; t < 4; ++t) check_backends(Problem(t & 1, t & 2, s.M, s.N, s.K, 1.0f, 0.0f));
}

TEST_CASE("gemm: alpha and beta, including beta = 0 over NaN and beta = 1 accumulation") {
  const float alphas[] = {1.0f, -0.5f, 2.0f, 0.0f};
  const float betas[] = {0.0f, 1.0f, 0.5f, -2.0f};
  for (const Shape3& s : {Shape3{7, 5, 3}, Shape3{129, 67, 250}, Shape3{30, 65, 600}})
    for (float alpha : alphas)
      for (float beta : betas)
        for (int t = 0; t < 4; ++t) check_backends(Problem(t & 1, t & 2, s.M, s.N, s.K, alpha, beta));
}

TEST_CASE("gemm: submatrices (leading dimensions beyond the row)") {
  for (const Shape3& s : kOddShapes)
    for (int t = 0; t < 4; ++t)
      for (int pad : {1, 5, 16})
        check_backends(Problem(t & 1, t & 2, s.M, s.N, s.K, 0.75f, pad == 5 ? 0.0f : 1.5f, pad));
}

TEST_CASE("gemm: K = 0 leaves C = beta * C") {
  for (GemmFn fn : {gemm_naive, gemm_simd, gemm_blas}) {
    for (float beta : {0.0f, 1.0f, 0.5f}) {
      Problem p(false, false, 9, 21, 0, 1.0f, beta, 3);
      std::vector<float> C = p.run(fn);
      for (int i = 0; i < p.M; ++i)
        for (int j = 0; j < p.N; ++j) {
          size_t at = static_cast<size_t>(i) * p.ldc + j;
          CHECK(C[at] == (beta == 0.0f ? 0.0f : beta * p.C0[at]));
        }
    }
  }
}

TEST_CASE("gemm: dispatch follows the selected backend") {
  RestoreGlobals restore;
  Problem p(true, false, 33, 17, 40, 1.0f, 0.0f);
  for (auto [backend, fn] : {std::pair{GemmBackend::naive, GemmFn(gemm_naive)},
                             std::pair{GemmBackend::simd, GemmFn(gemm_simd)},
                             std::pair{GemmBackend::blas, GemmFn(gemm_blas)}}) {
    set_gemm_backend(backend);
    std::vector<float> direct = p.run(fn), dispatched = p.run_dispatch(false);
    CHECK(std::memcmp(direct.data(), dispatched.data(), sizeof(float) * direct.size()) == 0);
  }
}

TEST_CASE("gemm_parallel: agrees with gemm and is deterministic per thread count") {
  RestoreGlobals restore;
  // Tall (split by rows) and wide (split by columns), both large enough to be split.
  const Problem problems[] = {Problem(false, false, 150, 90, 70, 1.0f, 0.0f, 0, 7),
                              Problem(true, true, 45, 301, 50, 0.5f, 1.0f, 3, 8),
                              Problem(true, false, 131, 77, 129, -1.0f, 0.25f, 2, 9)};
  for (GemmBackend backend : {GemmBackend::naive, GemmBackend::simd, GemmBackend::blas}) {
    set_gemm_backend(backend);
    for (const Problem& p : problems) {
      set_threads(1);
      std::vector<float> serial = p.run_dispatch(false);
      for (int t : {1, 2, 3}) {
        INFO(gemm_backend_name(backend), " threads=", t);
        set_threads(t);
        std::vector<float> first = p.run_dispatch(true);
        check_close(p, serial, first, "gemm_parallel");
        for (int repeat = 0; repeat < 3; ++repeat) {
          std::vector<float> again = p.run_dispatch(true);
          CHECK(std::memcmp(first.data(), again.data(), sizeof(float) * first.size()) == 0);
        }
      }
    }
  }
}

TEST_CASE("gemm_parallel: splitting C does not change a bit of the simd result") {
  // gemm_simd gives every element the same arithmetic wherever its tile falls.
  RestoreGlobals restore;
  set_gemm_backend(GemmBackend::simd);
  const Problem problems[] = {Problem(false, true, 157, 93, 300, 1.5f, 0.5f, 1, 10),
                              Problem(true, false, 61, 211, 77, 1.0f, 0.0f, 0, 11)};
  for (const Problem& p : problems) {
    std::vector<float> serial = p.run(gemm_simd);
    for (int t : {2, 3}) {
      INFO(p.describe(), " threads=", t);
      set_threads(t);
      std::vector<float> split = p.run_dispatch(true);
      CHECK(std::memcmp(serial.data(), split.data(), sizeof(float) * serial.size()) == 0);
    }
  }
}

TEST_CASE("gemm_simd: reports the instruction set it was compiled for") {
  std::string isa = gemm_simd_isa();
#if defined(__AVX512F__)
  CHECK(isa == "AVX-512");
#elif defined(__AVX2__) && defined(__FMA__)
  CHECK(isa == "AVX2");
#else
  CHECK(isa == "scalar");
#endif
}

TEST_CASE("peak: FMA peak and GEMM timing give positive rates and restore the globals") {
  RestoreGlobals restore;
  set_threads(2);
  set_gemm_backend(GemmBackend::naive);
  double peak = measure_fma_peak_gflops(1);
  CHECK(std::isfinite(peak));
  CHECK(peak > 0.1);
  double rate = time_gemm_gflops(GemmBackend::simd, 64, 48, 32, true, false, 1, 0.01);
  CHECK(std::isfinite(rate));
  CHECK(rate > 0.0);
  CHECK(time_gemm_gflops(GemmBackend::blas, 128, 96, 64, false, true, 2, 0.01) > 0.0);
  CHECK(gemm_backend() == GemmBackend::naive);
  CHECK(threads() == 2);
}

// --- GEMM --------------------------------------------------------------------------

TEST_CASE(
    "gemm_blas, gemm_simd and gemm_parallel agree with gemm_naive (transposes, ld, alpha, beta)") {
  Rng rng(14);
  struct Shape3 {
    int M, N, K;
  };
  for (Shape3 s : {Shape3{1, 1, 1}, Shape3{5, 3, 7}, Shape3{70, 65, 80}, Shape3{33, 130, 70},
                   Shape3{130, 33, 70}, Shape3{64, 64, 64}, Shape3{3, 200, 500}})
    for (int ta : {0, 1})
      for (int tb : {0, 1})
        for (float beta : {0.0f, 1.0f, 0.5f}) {
          CAPTURE(s.M);
          CAPTURE(s.N);
          CAPTURE(s.K);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          // Leading dimensions wider than the matrices, to catch ld mix-ups.
          const int lda = (ta ? s.M : s.K) + 3, ldb = (tb ? s.K : s.N) + 2, ldc = s.N + 1;
          const int a_rows = ta ? s.K : s.M, b_rows = tb ? s.N : s.K;
          Tensor A = ck::test::random_tensor({int64_t{a_rows} * lda}, rng);
          Tensor B = ck::test::random_tensor({int64_t{b_rows} * ldb}, rng);
          Tensor C0 = ck::test::random_tensor({int64_t{s.M} * ldc}, rng);
          if (beta == 0.0f) C0.fill(NAN);  // beta 0: C is not read
          Tensor ref = C0.clone();
          gemm_naive(ta, tb, s.M, s.N, s.K, 1.5f, A.data(), lda, B.data(), ldb, beta, ref.data(),
                     ldc);
          auto compare = [&](const Tensor& C) {
            double worst = 0;
            for (int i = 0; i < s.M; ++i)
              for (int j = 0; j < s.N; ++j) {
                double d = std::fabs(double{C[i * ldc + j]} - ref[i * ldc + j]);
                worst = std::max(worst, std::isnan(d) ? INFINITY : d);
              }
            // Padding columns of C (beyond N) are untouched.
            for (int i = 0; i < s.M; ++i) {
              const float a = C[i * ldc + s.N], b = C0[i * ldc + s.N];
              if (!(a == b || (std::isnan(a) && std::isnan(b)))) worst = INFINITY;
            }
            return worst;
          };
          const double tol = 1e-4 * std::sqrt(double(s.K)) * 2;
          Tensor C = C0.clone();
          gemm_blas(ta, tb, s.M, s.N, s.K, 1.5f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          CHECK(compare(C) < tol);
          C = C0.clone();
          gemm_simd(ta, tb, s.M, s.N, s.K, 1.5f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          CHECK(compare(C) < tol);
          for (int threads : {1, 2, 3}) {
            ck::test::ThreadScope t(threads);
            CAPTURE(threads);
            C = C0.clone();
            gemm_parallel(ta, tb, s.M, s.N, s.K, 1.5f, A.data(), lda, B.data(), ldb, beta, C.data(),
                          ldc);
            CHECK(compare(C) < tol);
          }
        }
}

TEST_CASE("gemm backend names parse and print, unknown names are errors listing the choices") {
  CHECK(std::string(gemm_simd_isa()).size() > 0);
  for (GemmBackend b : {GemmBackend::naive, GemmBackend::simd, GemmBackend::blas})
    CHECK(parse_gemm_backend(gemm_backend_name(b)) == b);
  CHECK_THROWS_WITH_AS(parse_gemm_backend("foo"), doctest::Contains("naive, simd or blas"),
                       ck::Error);
}
