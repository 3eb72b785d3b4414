#pragma once
// Number formatting shared by the reports.
#include <cstdint>
#include <string>

namespace ck {

// 1234567 -> "1,234,567"
std::string with_commas(int64_t n);

// A metric with `decimals` decimals (scientific from 1e6 on); NaN as "nan" whatever its sign bit
// (fmt prints a negative NaN as "-nan", which reads like a negative value).
std::string metric_text(double x, int decimals = 4);

}  // namespace ck
