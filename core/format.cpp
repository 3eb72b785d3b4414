#include "core/format.h"

#include <fmt/format.h>

#include <cmath>

namespace ck {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string metric_text(double x, int decimals) {
  if (std::isnan(x)) return "nan";
  // Huge values (a diverging loss) in scientific notation, as Keras prints them.
  if (std::fabs(x) >= 1e6) return fmt::format("{:.{}e}", x, decimals);
  return fmt::format("{:.{}f}", x, decimals);
}

std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./:=,+") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace ck
