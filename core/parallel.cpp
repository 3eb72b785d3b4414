#include "core/parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <memory>

#include "core/error.h"
#include "core/gemm.h"

namespace ck {

namespace {
int g_threads = 0;
std::unique_ptr<tbb::global_control> g_control;
}  // namespace

int hardware_threads() { return tbb::info::default_concurrency(); }

void set_threads(int n) {
  if (n < 0) fail("--threads must be 0 (all cores) or a positive count, not {}", n);
  // Each thread gets its own workspaces: far more threads than cores only
  // costs memory and time.
  if (n > kMaxThreads)
    fail("--threads {}: at most {} (this machine has {} cores; 0 = all of them)", n, kMaxThreads,
         hardware_threads());
  g_threads = n == 0 ? hardware_threads() : n;
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    g_threads);
  blas_use_one_thread();
}

int threads() {
  if (g_threads == 0) set_threads(0);
  return g_threads;
}

void parallel_parts(int64_t n, int parts, const std::function<void(int, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (parts <= 1) {
    fn(0, 0, n);
    return;
  }
  auto range_of = [&](int p, int64_t& begin, int64_t& end) {
    begin = n * p / parts;
    end = n * (p + 1) / parts;
  };
  tbb::parallel_for(
      tbb::blocked_range<int>(0, parts, 1),
      [&](const tbb::blocked_range<int>& r) {
        for (int p = r.begin(); p < r.end(); ++p) {
          int64_t begin, end;
          range_of(p, begin, end);
          if (begin < end) fn(p, begin, end);
        }
      },
      tbb::simple_partitioner());
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (threads() == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

}  // namespace ck
