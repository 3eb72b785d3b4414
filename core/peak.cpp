#include "core/peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace ck {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The FMA loop: kChains independent accumulators, each updated once per
// iteration with acc = acc * m + a (which converges, so values stay normal).
// A core with P FMA pipes of latency L needs P*L chains in flight to be
// saturated: 2 pipes x 4 cycles = 8 on Zen4; kChains leaves headroom.
#if defined(__AVX512F__)
constexpr int kChains = 16, kLanes = 16;
float fma_loop(int64_t iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  }
  alignas(64) float lanes[16];
  float sum = 0.0f;
  for (int c = 0; c < kChains; ++c) {
    _mm512_store_ps(lanes, acc[c]);
    for (float x : lanes) sum += x;
  }
  return sum;
}
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kChains = 12, kLanes = 8;
float fma_loop(int64_t iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  }
  alignas(32) float lanes[8];
  float sum = 0.0f;
  for (int c = 0; c < kChains; ++c) {
    _mm256_store_ps(lanes, acc[c]);
    for (float x : lanes) sum += x;
  }
  return sum;
}
#else
// No FMA in baseline x86-64: a multiply and an add per lane (2 flops), in
// plain loops the compiler vectorizes with SSE.
constexpr int kChains = 8, kLanes = 4;
float fma_loop(int64_t iterations) {
  float acc[kChains][kLanes];
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l) acc[c][l] = static_cast<float>(c);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c)
      for (int l = 0; l < kLanes; ++l) acc[c][l] = acc[c][l] * 0.999f + 0.001f;
  float sum = 0.0f;
  for (auto& chain : acc)
    for (float x : chain) sum += x;
  return sum;
}
#endif

constexpr double kFlopsPerIteration = 2.0 * kChains * kLanes;

// Restores the global GEMM backend and thread count when it goes out of scope.
struct GlobalsGuard {
  GemmBackend backend = gemm_backend();
  int thread_count = threads();
  ~GlobalsGuard() {
    set_gemm_backend(backend);
    set_threads(thread_count);
  }
};

}  // namespace

double measure_fma_peak_gflops(int threads) {
  // Only threads that can run at once count: more than there are cores (or
  // than TBB may use) would time-slice, and 1 ms chunks would not notice.
  threads = std::max(1, std::min({threads, ck::threads(), hardware_threads()}));
  // Size a chunk of the loop to take about a millisecond (this also warms
  // the core up).
  int64_t iterations = 1 << 10;
  for (;;) {
    auto start = Clock::now();
    volatile float sink = fma_loop(iterations);
    (void)sink;
    if (seconds_since(start) >= 1e-3) break;
    iterations *= 2;
  }
  const double chunk_flops = kFlopsPerIteration * static_cast<double>(iterations);

  // Each thread times chunks for 0.2 s and keeps the median rate, like
  // time_gemm_gflops: a chunk hit by interference (another process, a virtual
  // CPU paused by its host) is an outlier, not a lower average. The threads
  // start together; the wait is bounded because TBB may start a worker late,
  // or run the parts one after another.
  std::vector<double> rates(threads);
  std::vector<float> sums(threads);
  std::atomic<int> arrived{0};
  parallel_parts(threads, threads, [&](int part, int64_t, int64_t) {
    arrived.fetch_add(1);
    for (auto wait = Clock::now(); arrived.load() < threads && seconds_since(wait) < 0.1;) {
    }
    std::vector<double> chunk_rates;
    float sum = 0.0f;
    for (auto start = Clock::now(); seconds_since(start) < 0.2;) {
      auto chunk_start = Clock::now();
      sum += fma_loop(iterations);
      chunk_rates.push_back(chunk_flops / seconds_since(chunk_start));
    }
    auto middle = chunk_rates.begin() + chunk_rates.size() / 2;
    std::nth_element(chunk_rates.begin(), middle, chunk_rates.end());
    rates[part] = *middle;
    sums[part] = sum;
  });
  volatile float sink = 0.0f;
  for (float s : sums) sink = sink + s;
  double total = 0.0;
  for (double r : rates) total += r;
  return total * 1e-9;
}

double time_gemm_gflops(GemmBackend backend, int M, int N, int K, bool trans_a, bool trans_b,
                        int threads, double min_seconds) {
  GlobalsGuard guard;
  set_threads(threads);  // also keeps OpenBLAS on one thread
  set_gemm_backend(backend);

  // op(A) (M,K) and op(B) (K,N), stored transposed when asked; C (M,N).
  std::vector<float> A(static_cast<size_t>(M) * K), B(static_cast<size_t>(K) * N);
  std::vector<float> C(static_cast<size_t>(M) * N);
  Rng rng(42);
  for (float& x : A) x = rng.uniform(-1.0f, 1.0f);
  for (float& x : B) x = rng.uniform(-1.0f, 1.0f);
  const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  auto call = [&] {
    if (threads == 1)
      gemm(trans_a, trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N);
    else
      gemm_parallel(trans_a, trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f,
                    C.data(), N);
  };

  // Warm-up (page faults, packing buffers, thread pool), which also tells how
  // many calls make one sample of at least a millisecond.
  auto start = Clock::now();
  call();
  double once = std::max(seconds_since(start), 1e-7);
  const int calls = std::max(1, static_cast<int>(std::ceil(1e-3 / once)));
  const int samples =
      std::clamp(static_cast<int>(std::ceil(min_seconds / (once * calls))), 3, 1000);

  std::vector<double> per_call;
  for (int s = 0; s < samples; ++s) {
    start = Clock::now();
    for (int c = 0; c < calls; ++c) call();
    per_call.push_back(seconds_since(start) / calls);
  }
  std::nth_element(per_call.begin(), per_call.begin() + samples / 2, per_call.end());
  return 2.0 * M * N * K / per_call[samples / 2] * 1e-9;
}

}  // namespace ck
