// Helpers for the diagnosis tests: small datasets and in-process training
// runs recorded the way `convkit repro` records them (RunRecorder, no directory).
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "apps/diagnose.h"
#include "apps/model_builder.h"
#include "apps/run_recorder.h"
#include "apps/trainer.h"
#include "data/preprocess.h"
#include "data/sources.h"
#include "optim/optimizer.h"

namespace ck::test {

// A small CNN for Fashion-MNIST runs that must train in a few seconds.
inline constexpr const char* kSmallCnn = "conv2d(8,3,relu) maxpool(2) flatten dense(10,softmax)";

// Fashion-MNIST, loaded once per test process.
inline const DataSplits& fashion_mnist() {
  static const DataSplits data = load_data("fashion-mnist");
  return data;
}

// The first `per_class[k]` samples of each class k of `data`, in dataset order.
inline Dataset take_per_class(const Dataset& data, const std::vector<int64_t>& per_class,
                              int64_t skip = 0) {
  std::vector<int64_t> left = per_class, picked;
  for (int64_t i = skip; i < data.size(); ++i) {
    const auto k = static_cast<size_t>(data.targets[i]);
    if (k < left.size() && left[k] > 0) --left[k], picked.push_back(i);
  }
  return data.subset(picked);
}

// A two-class dataset: `count_a` samples of class a as class 0, `count_b` of
// class b as class 1 (names kept).
inline Dataset two_classes(const Dataset& data, int a, int b, int64_t count_a, int64_t count_b) {
  std::vector<int64_t> per_class(data.num_classes(), 0);
  per_class[a] = count_a, per_class[b] = count_b;
  Dataset d = take_per_class(data, per_class);
  for (float& t : d.targets) t = t == a ? 0.0f : 1.0f;
  d.class_names = {data.class_names[a], data.class_names[b]};
  return d;
}

inline Dataset first_samples(const Dataset& data, int64_t n, int64_t skip = 0) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), skip);
  return data.subset(idx);
}

// Random images as the articles make them: whole numbers 0..255 (pixels) or
// uniform [0, 1) floats, with uniformly random labels.
inline Dataset random_images(int64_t n, const Shape& shape, int classes, bool pixels, uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.sample_shape = shape;
  for (int k = 0; k < classes; ++k) d.class_names.push_back(std::to_string(k));
  const int64_t size = shape_size(shape);
  for (int64_t i = 0; i < n * size; ++i) {
    if (pixels) d.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
    else d.values.push_back(rng.uniform());
  }
  for (int64_t i = 0; i < n; ++i) d.targets.push_back(static_cast<float>(rng.below(classes)));
  return d;
}

struct RunConfig {
  RunConfig(std::string model, std::string loss = {}) : model(std::move(model)), loss(std::move(loss)) {}
  std::string model;
  std::string loss;  // empty: the model's default (default_loss)
  std::string optimizer = "adam";
  float lr = 0;  // the optimizer's default
  int epochs = 3;
  int batch = 32;
  Scaling scaling = Scaling::unit;
  uint64_t seed = 42;
  std::vector<float> class_weights;
  std::function<void(Model&)> init;  // changes to the initial weights
};

// Trains `c.model` on `train` (validation optional) and returns its record.
inline RunRecord record_run(const RunConfig& c, const Dataset& train, const Dataset* validation = nullptr) {
  Model model = make_model(c.model, train.sample_shape);
  model.compile(c.loss.empty() ? default_loss(model, train.num_classes() == 0) : parse_loss(c.loss));
  Rng rng(c.seed);
  model.init(rng);
  if (c.init) c.init(model);
  auto optimizer = make_optimizer(c.optimizer, c.lr);
  Preprocessing pre;
  pre.scaling = c.scaling;
  pre.fit(train);
  std::vector<int64_t> all(train.size());
  std::iota(all.begin(), all.end(), 0);
  Loader loader(train, all, c.batch, pre, true, c.seed);
  if (!c.class_weights.empty()) loader.set_class_weights(c.class_weights);
  std::optional<Loader> held_out;
  if (validation) {
    std::vector<int64_t> v(validation->size());
    std::iota(v.begin(), v.end(), 0);
    held_out.emplace(*validation, v, 256, pre, false, c.seed);
  }
  RunInfo info;
  info.class_names = train.class_names;
  info.epochs = c.epochs;
  info.config = {{"data", "test"}};
  RunRecorder recorder(model, *optimizer, info);
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = optimizer.get();
  setup.train = &loader;
  setup.validation = held_out ? &*held_out : nullptr;
  setup.epochs = c.epochs;
  setup.seed = c.seed;
  setup.observers = {&recorder};
  ck::train(setup);
  recorder.finish();
  return recorder.record();
}

// The findings as text, for failure messages (and printed when the
// environment sets CONVKIT_SHOW_FINDINGS, to see what each test produced).
inline std::string shown(const std::vector<Finding>& findings) {
  std::string text = "\n";  // appended, as "\n" + string trips a false -Wrestrict in g++ 12
  text += format_findings(findings);
  if (std::getenv("CONVKIT_SHOW_FINDINGS")) MESSAGE(text);
  return text;
}

// `id` is found as a problem or warning, and comes first.
inline void require_diagnosis(const std::vector<Finding>& findings, const std::string& id) {
  const std::string text = shown(findings);
  INFO(text);
  REQUIRE(!findings.empty());
  const Finding* f = find_finding(findings, id);
  REQUIRE(f != nullptr);
  CHECK(f->severity != Severity::note);
  CHECK(findings.front().id == id);
  CHECK(!f->evidence.empty());
  CHECK(!f->threshold.empty());
  CHECK(!f->source.empty());
  CHECK(!f->fix.empty());
}

inline void require_healthy(const std::vector<Finding>& findings) {
  const std::string text = shown(findings);
  INFO(text);
  CHECK(!has_alarm(findings));
}

}  // namespace ck::test
