#pragma once
// Number and text formatting shared by the reports and the commands convkit prints.
#include <cstdint>
#include <string>

namespace ck {

// 1234567 -> "1,234,567"
std::string with_commas(int64_t n);

// A metric with `decimals` decimals (scientific from 1e6 on); NaN as "nan" whatever its sign bit
// (fmt prints a negative NaN as "-nan", which reads like a negative value).
std::string metric_text(double x, int decimals = 4);

// A shell word: `s` as is when a shell would read it back unchanged, else in
// single quotes ("odd dir/" -> 'odd dir/'), for commands printed to be pasted.
std::string shell_word(const std::string& s);

}  // namespace ck
