#pragma once
// Reductions over float arrays for the training monitors (norms, NaN checks).
// They run every step when a monitor is on, so the sums are vectorized.
#include <cstdint>

namespace ck {

// sum of x[i]^2, in double precision; NaN or Inf when x holds one.
double sum_squares(const float* x, int64_t n);
// sum of (a[i] - b[i])^2, in double precision.
double sum_squares_diff(const float* a, const float* b, int64_t n);
// Index of the first NaN or Inf in x, or -1 when every value is finite.
int64_t first_nonfinite(const float* x, int64_t n);

}  // namespace ck
