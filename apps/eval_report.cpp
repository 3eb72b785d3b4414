#include "apps/eval_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace ck {

std::string format_confusion(const EvalResult& r, const std::vector<std::string>& names) {
  const int K = r.classes;
  auto name = [&](int k) { return k < static_cast<int>(names.size()) ? names[k] : std::to_string(k); };
  size_t label_width = 10;
  auto label = [&](int k) { return fmt::format("{} {}", k, name(k)); };
  for (int k = 0; k < K; ++k) label_width = std::max(label_width, label(k).size() + 2);
  int64_t largest = 1;
  for (int64_t c : r.confusion) largest = std::max(largest, c);
  const int cell = std::max<int>(5, static_cast<int>(std::to_string(largest).size()) + 1);
  std::string s = fmt::format("Confusion matrix (rows: true class, columns: predicted)\n");
  s += fmt::format("{:<{}}", "", label_width);
  for (int k = 0; k < K; ++k) s += fmt::format("{:>{}}", k, cell);
  s += "   recall\n";
  for (int t = 0; t < K; ++t) {
    s += fmt::format("{:<{}}", label(t), label_width);
    for (int p = 0; p < K; ++p) s += fmt::format("{:>{}}", r.confusion[t * K + p], cell);
    double recall = r.recall(t);
    s += recall == recall ? fmt::format("   {:.3f}\n", recall) : "   -\n";
  }
  return s;
}

}  // namespace ck
