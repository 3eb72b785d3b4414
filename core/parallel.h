#pragma once
// One global thread count for all parallel work in convkit (oneTBB).
//
// OpenBLAS is kept single-threaded: convkit splits work across threads itself
// and calls single-threaded GEMMs from each, so OpenBLAS's own threads never
// compete with TBB's for the cores (their spin-waiting would oversubscribe).
#include <cstdint>
#include <functional>

namespace ck {

inline constexpr int kMaxThreads = 256;

// Requires: 0 <= n <= kMaxThreads; 0 means every core of the machine.
// Ensures: threads() == n (or the core count), OpenBLAS uses one thread.
void set_threads(int n);
int threads();
int hardware_threads();

// Splits [0, n) into `parts` contiguous ranges of near-equal size and runs
// fn(part, begin, end) for each, in parallel. Part p always covers the same
// range, so partial results reduced in part order are bit-identical run after
// run. Empty parts are skipped.
void parallel_parts(int64_t n, int parts, const std::function<void(int, int64_t, int64_t)>& fn);

// Independent iterations, load-balanced: fn(begin, end) over chunks of at
// least `grain` items. Use only when the result of each item does not depend
// on how items are grouped.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ck
