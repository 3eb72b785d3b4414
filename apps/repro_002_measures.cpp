#include "apps/repro_002_measures.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ck {

std::string run_name(const ReproRun& r) { return r.label.substr(0, r.label.find(':')); }

std::vector<int> classes_by_count(const std::vector<int64_t>& counts, bool rarest_first) {
  std::vector<int> k(counts.size());
  std::iota(k.begin(), k.end(), 0);
  std::stable_sort(k.begin(), k.end(), [&](int a, int b) {
    return rarest_first ? counts[a] < counts[b] : counts[a] > counts[b];
  });
  return k;
}

double mean_recall(const EvalResult& e, const std::vector<int>& classes) {
  double sum = 0;
  for (int k : classes) sum += e.recall(k);
  return sum / static_cast<double>(classes.size());
}

int worst_class(const EvalResult& e) {
  int worst = 0;
  for (int k = 1; k < e.classes; ++k)
    if (e.recall(k) < e.recall(worst)) worst = k;
  return worst;
}

double mix_accuracy(const EvalResult& e, const std::vector<int64_t>& counts) {
  const double n = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  double sum = 0;
  for (size_t k = 0; k < counts.size(); ++k)
    sum += static_cast<double>(counts[k]) / n * e.recall(static_cast<int>(k));
  return sum;
}

EvalResult on_training_images(ReproRun& r) {
  PreparedData& d = *r.run->data;
  Loader loader(d.train_set(), d.train_indices, 256, d.preprocessing, false, r.options.seed);
  return evaluate(r.run->model, loader);
}

double first_update_ratio(const ReproRun& r) {
  std::vector<double> ratios;
  if (r.outcome.record && !r.outcome.record->epochs.empty())
    for (const LayerHealth& h : r.outcome.record->epochs[0].layers)
      if (std::isfinite(h.update_ratio)) ratios.push_back(h.update_ratio);
  if (ratios.empty()) return std::nan("");
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

double mean_class_weight(const ReproRun& r, const std::vector<int64_t>& counts) {
  const std::vector<float>& w = r.run->data->train->class_weights();
  if (w.empty()) return 1;
  double sum = 0, n = 0;
  for (size_t k = 0; k < counts.size(); ++k)
    sum += double(w[k]) * static_cast<double>(counts[k]), n += static_cast<double>(counts[k]);
  return sum / n;
}

}  // namespace ck
