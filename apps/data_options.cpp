#include "apps/data_options.h"

#include <fmt/format.h>

#include <numeric>

#include "core/error.h"
#include "core/format.h"

namespace ck {

void add_data_options(CLI::App& cmd, DataOptions& o) {
  cmd.add_option("--data", o.data, "fashion-mnist, or a directory of IDX files")
      ->capture_default_str();
  cmd.add_option("--validation-split", o.validation_split,
                 "Fraction of the training data held out for validation (the last samples, as Keras)")
      ->capture_default_str();
  cmd.add_option("--limit", o.limit, "Use the first N training samples only (0 = all)")
      ->capture_default_str();
  cmd.add_option("--test-limit", o.test_limit, "Use the first N test samples only (0 = all)")
      ->capture_default_str();
  cmd.add_option("--scale", o.scale, "Pixel scaling: 1/255 or none")->capture_default_str();
}

std::string PreparedData::describe() const {
  const Dataset& d = splits.train;
  std::string s = fmt::format("  data:          {}: {} training samples {} ({} classes)", splits.name,
                              with_commas(train_indices.size()), shape_compact(d.sample_shape),
                              d.num_classes());
  if (!validation_indices.empty())
    s += fmt::format(", {} validation", with_commas(validation_indices.size()));
  if (splits.test) s += fmt::format(", {} test", with_commas(splits.test->size()));
  s += fmt::format("\n  preprocessing: {}\n", preprocessing.describe());
  return s;
}

std::unique_ptr<PreparedData> prepare_data(const DataOptions& o, int batch, uint64_t seed) {
  auto p = std::make_unique<PreparedData>();
  p->splits = load_data(o.data);
  limit_samples(p->splits.train, o.limit);
  if (p->splits.test) limit_samples(*p->splits.test, o.test_limit);
  split_tail(p->splits.train.size(), o.validation_split, p->train_indices, p->validation_indices);
  if (p->train_indices.empty())
    fail("no training samples left (check --limit and --validation-split)");

  p->preprocessing.scaling = parse_scaling(o.scale);
  p->preprocessing.fit(p->splits.train.subset(p->train_indices));

  // Evaluation batches can be larger: there are no gradients to keep.
  const int eval_batch = std::max(batch, 256);
  p->train = std::make_unique<Loader>(p->splits.train, p->train_indices, batch, p->preprocessing,
                                      true, seed);
  if (!p->validation_indices.empty())
    p->validation = std::make_unique<Loader>(p->splits.train, p->validation_indices, eval_batch,
                                             p->preprocessing, false, seed);
  if (p->splits.test) {
    std::vector<int64_t> all(p->splits.test->size());
    std::iota(all.begin(), all.end(), 0);
    p->test = std::make_unique<Loader>(*p->splits.test, all, eval_batch, p->preprocessing, false,
                                       seed);
  }
  return p;
}

}  // namespace ck
