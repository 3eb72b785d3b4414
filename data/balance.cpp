#include "data/balance.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace ck {

std::vector<float> class_weights(const std::string& spec, const std::vector<int64_t>& counts) {
  const int k = static_cast<int>(counts.size());
  std::vector<float> w(k, 1.0f);
  if (spec.empty() || spec == "none") return {};
  int64_t n = 0, present = 0;
  for (int64_t c : counts) n += c, present += c > 0;
  if (spec == "balanced" || spec == "inverse") {
    if (k == 0) fail("--class-weight {} needs class labels; this data has numeric targets", spec);
    for (int j = 0; j < k; ++j)
      if (counts[j] > 0)
        w[j] = spec == "balanced" ? static_cast<float>(double(n) / (double(present) * counts[j]))
                                  : static_cast<float>(1.0 / counts[j]);
    return w;
  }
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t colon = item.find(':');
    char* end = nullptr;
    const long cls = colon == std::string::npos ? -1 : std::strtol(item.c_str(), &end, 10);
    if (colon == std::string::npos || end != item.c_str() + colon)
      fail("--class-weight {}: \"{}\" should be CLASS:WEIGHT (e.g. 0:1,1:5), or use balanced or inverse",
           spec, item);
    if (cls < 0 || cls >= k)
      fail("--class-weight {}: class {} is out of range; the data has {} classes (0..{})", spec, cls, k, k - 1);
    const std::string value = item.substr(colon + 1);
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
      fail("--class-weight {}: weight \"{}\" of class {} must be a number >= 0", spec, value, cls);
    w[cls] = static_cast<float>(v);
  }
  return w;
}

Resample parse_resample(const std::string& name) {
  if (name == "none" || name.empty()) return Resample::none;
  if (name == "over") return Resample::over;
  if (name == "under") return Resample::under;
  fail("unknown --resample \"{}\": choose over or under", name);
}

std::string resample_name(Resample r) {
  return r == Resample::over ? "over" : r == Resample::under ? "under" : "none";
}

namespace {
int64_t target_count(const std::vector<std::vector<int64_t>>& by_class, Resample how) {
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& members : by_class)
    if (!members.empty()) lo = std::min<int64_t>(lo, members.size()), hi = std::max<int64_t>(hi, members.size());
  return how == Resample::over ? hi : (lo == INT64_MAX ? 0 : lo);
}
}  // namespace

int64_t resampled_size(const std::vector<std::vector<int64_t>>& by_class, Resample how) {
  int64_t total = 0, present = 0;
  for (const auto& members : by_class) total += members.size(), present += !members.empty();
  return how == Resample::none ? total : present * target_count(by_class, how);
}

std::vector<int64_t> resample(const std::vector<std::vector<int64_t>>& by_class, Resample how, Rng& rng) {
  std::vector<int64_t> out;
  const int64_t target = target_count(by_class, how);
  for (const auto& members : by_class) {
    const int64_t n = static_cast<int64_t>(members.size());
    if (n == 0) continue;
    if (how == Resample::none) {
      out.insert(out.end(), members.begin(), members.end());
    } else if (how == Resample::over) {
      out.insert(out.end(), members.begin(), members.end());
      for (int64_t j = n; j < target; ++j) out.push_back(members[rng.below(n)]);
    } else {
      // Partial Fisher-Yates: the first `target` of a random permutation.
      std::vector<int64_t> pool = members;
      for (int64_t j = 0; j < target; ++j) std::swap(pool[j], pool[j + rng.below(n - j)]);
      out.insert(out.end(), pool.begin(), pool.begin() + target);
    }
  }
  return out;
}

}  // namespace ck
