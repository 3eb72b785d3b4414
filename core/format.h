#pragma once
// Number formatting shared by the reports.
#include <cstdint>
#include <string>

namespace ck {

// 1234567 -> "1,234,567"
std::string with_commas(int64_t n);

}  // namespace ck
