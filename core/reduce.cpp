#include "core/reduce.h"

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/simd.h"

namespace ck {

namespace {

// Blocks are summed in float lanes, then in double: fast, and accurate enough
// for a norm. A block whose float sum overflows is redone in double.
constexpr int64_t kBlock = 1024;

template <class Square>
double blocked_sum(int64_t n, Square square, const float* a, const float* b) {
  double total = 0;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t end = begin + kBlock < n ? begin + kBlock : n;
    simd::vec acc = simd::set1(0.0f);
    int64_t i = begin;
    for (; i + simd::kLanes <= end; i += simd::kLanes) acc = square(acc, a + i, b ? b + i : nullptr);
    float lanes[simd::kLanes];
    simd::store(lanes, acc);
    double block = 0;
    for (float v : lanes) block += v;
    for (; i < end; ++i) {
      const double d = b ? static_cast<double>(a[i]) - b[i] : a[i];
      block += d * d;
    }
    if (std::isinf(block)) {
      block = 0;
      for (int64_t k = begin; k < end; ++k) {
        const double d = b ? static_cast<double>(a[k]) - b[k] : a[k];
        block += d * d;
      }
    }
    total += block;
  }
  return total;
}

// Large arrays are split across threads; the parts are added in order, so
// the result depends only on the thread count (core/parallel.h).
constexpr int64_t kParallelFrom = 1 << 16;

template <class Square>
double parallel_sum(int64_t n, Square square, const float* a, const float* b) {
  if (n < kParallelFrom || threads() == 1) return blocked_sum(n, square, a, b);
  std::vector<double> parts(threads(), 0.0);
  parallel_parts(n, threads(), [&](int part, int64_t begin, int64_t end) {
    parts[part] = blocked_sum(end - begin, square, a + begin, b ? b + begin : nullptr);
  });
  double total = 0;
  for (double p : parts) total += p;
  return total;
}

auto square_of = [](simd::vec acc, const float* p, const float*) {
  const simd::vec v = simd::load(p);
  return simd::fma(v, v, acc);
};
auto square_of_difference = [](simd::vec acc, const float* p, const float* q) {
  const simd::vec d = simd::sub(simd::load(p), simd::load(q));
  return simd::fma(d, d, acc);
};

}  // namespace

double sum_squares(const float* x, int64_t n) { return parallel_sum(n, square_of, x, nullptr); }

double sum_squares_diff(const float* a, const float* b, int64_t n) {
  return parallel_sum(n, square_of_difference, a, b);
}


int64_t first_nonfinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

}  // namespace ck
