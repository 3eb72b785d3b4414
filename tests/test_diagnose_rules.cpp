// The diagnosis rules on run records built by hand: each case pins one rule's
// reading of a situation the repro experiments met (class weights, a
// long-tailed training mix against a balanced test split, table rows at
// inference, a spike the run recovers from, inputs unlike a pretrained base's).
#include <doctest/doctest.h>

#include <cmath>

#include "apps/diagnose.h"
#include "apps/diagnose_rules.h"
#include "apps/input_stats.h"
#include "apps/run_record.h"

using namespace ck;

namespace {

bool alarm(const std::vector<Finding>& f, const std::string& id) {
  const Finding* x = find_finding(f, id);
  return x && x->severity != Severity::note;
}

// A classifier run of `epochs` epochs of 20 steps whose step losses go from
// `first` to `last` linearly; inputs look like scaled natural images.
RunRecord run_of(int classes, double first, double last, int epochs = 3) {
  RunRecord r;
  r.classes = classes;
  r.loss = "sparse_categorical_crossentropy";
  r.optimizer = "adam";
  r.initial_loss = first;
  r.input_stats.samples = 100;
  r.input_stats.sample_shape = {8, 8, 1};
  r.input_stats.all = {0, 1, 0.3, 0.3};
  r.input_stats.channels = {r.input_stats.all};
  r.input_stats.neighbor_correlation = 0.9;
  const int steps = 20 * epochs;
  for (int i = 0; i < steps; ++i) {
    StepRecord s;
    s.epoch = i / 20, s.step = i % 20;
    s.loss = first + (last - first) * i / (steps - 1.0);
    s.learning_rate = 0.001;
    s.samples = 32;
    r.steps.push_back(s);
  }
  for (int e = 0; e < epochs; ++e) {
    EpochRecord x;
    x.epoch = e;
    x.loss = r.steps[20 * e + 10].loss;
    x.samples = 640;
    r.epochs.push_back(x);
  }
  return r;
}

// A confusion matrix with the given per-class recall, `per_class` samples
// each; misses go to class 0 (class 0's to class 1).
Confusion confusion_of(const std::vector<double>& recalls, int64_t per_class,
                       const std::string& source) {
  const int K = static_cast<int>(recalls.size());
  Confusion m{source, K, std::vector<int64_t>(K * K, 0)};
  for (int k = 0; k < K; ++k) {
    const auto right = static_cast<int64_t>(std::llround(recalls[k] * per_class));
    m.counts[k * K + k] = right;
    m.counts[k * K + (k == 0 ? 1 : 0)] += per_class - right;
  }
  return m;
}

}  // namespace

TEST_CASE("initial-loss: a class-weighted first batch is compared with ln K x its mean weight") {
  // The class-weights repro: the same first batch scores 2.25 unweighted and
  // 5.1 with n/(K count) weights whose mean over that batch is 2.27.
  CHECK(!check_initial_loss(5.1, 10, "sparse_categorical_crossentropy", {}, 2.27));
  CHECK(check_initial_loss(5.1, 10, "sparse_categorical_crossentropy", {}, 1.0));
  // Weights do not hide a loss that is bad on their own scale.
  std::optional<Finding> f =
      check_initial_loss(12, 10, "sparse_categorical_crossentropy", {}, 2.27);
  REQUIRE(f);
  CHECK(f->value("chance_loss") == doctest::Approx(std::log(10.0) * 2.27));
  CHECK(f->title.find("mean sample weight") != std::string::npos);
  // The run record carries the first batch's mean weight to the rule.
  RunRecord r = run_of(10, 5.1, 1.0);
  r.sample_weights = true;
  r.initial_weight_mean = 2.27;
  CHECK(!find_finding(diagnose(r), "initial-loss"));
}

TEST_CASE("overfitting: held-out recall re-weighted to a long-tailed training mix is no gap") {
  // Ten classes from 600 down to 3 samples; a balanced test split of 50 each.
  const std::vector<int64_t> counts = {600, 300, 150, 80, 40, 20, 10, 6, 4, 3};
  const std::vector<double> recalls = {0.95, 0.9, 0.85, 0.7, 0.5, 0.4, 0.2, 0.1, 0.1, 0.0};
  double mix = 0, total = 0, balanced = 0;
  for (size_t k = 0; k < counts.size(); ++k)
    mix += counts[k] * recalls[k], total += counts[k], balanced += recalls[k] / 10;
  mix /= total;
  RunRecord r = run_of(10, 2.3, 0.5);
  r.label_counts = counts;
  r.confusion = confusion_of(recalls, 50, "test");
  for (EpochRecord& e : r.epochs) e.test_loss = 1.2, e.test_accuracy = balanced;
  r.epochs.back().accuracy =
      mix + 0.02;  // training accuracy: what the test recalls give at the mix
  REQUIRE(*r.epochs.back().accuracy - balanced >= 0.1);  // the raw gap AUTOTRAINER's rule would flag
  CHECK(!find_finding(diagnose(r), "overfitting"));
  // A real gap at the training mix is still named, with both accuracies.
  r.epochs.back().accuracy = std::min(1.0, mix + 0.2);
  const std::vector<Finding> f = diagnose(r);
  REQUIRE(find_finding(f, "overfitting"));
  CHECK(find_finding(f, "overfitting")->title.find("at the training class mix") != std::string::npos);
}

TEST_CASE("class-imbalance names every neglected minority class, with or without sample weights") {
  RunRecord r = run_of(10, 2.3, 0.5);
  r.label_counts = {600, 300, 150, 80, 40, 20, 10, 6, 4, 3};
  // The rarest class is recalled well; other tail classes are neglected.
  r.confusion = confusion_of({0.95, 0.9, 0.9, 0.2, 0.1, 0.05, 0.0, 0.0, 0.1, 0.9}, 50, "test");
  std::vector<Finding> f = diagnose(r);
  REQUIRE(find_finding(f, "class-imbalance"));
  const Finding& c = *find_finding(f, "class-imbalance");
  CHECK(c.severity == Severity::warning);
  CHECK(c.value("minority_classes") == 7);
  CHECK(c.title.find("6 (10)") != std::string::npos);  // a neglected tail class is named
  // Sample weights that did not rescue the minority classes do not make it a note.
  r.sample_weights = true;
  f = diagnose(r);
  REQUIRE(find_finding(f, "class-imbalance"));
  CHECK(find_finding(f, "class-imbalance")->severity == Severity::warning);
  CHECK(find_finding(f, "class-imbalance")->title.find("do not compensate") != std::string::npos);
  // When they do, it is a note.
  r.confusion = confusion_of({0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6}, 50, "test");
  f = diagnose(r);
  REQUIRE(find_finding(f, "class-imbalance"));
  CHECK(find_finding(f, "class-imbalance")->severity == Severity::note);
}

TEST_CASE("lr-too-low: SGD with 1/count weights takes steps of lr x the mean weight") {
  // Mean weight K/n = 10/1213: the weighted loss sits at ln 10 x that.
  RunRecord r = run_of(10, 0.019, 0.0185);
  r.optimizer = "sgd";
  r.sample_weights = true;
  r.weight_mean = r.initial_weight_mean = 10.0 / 1213;
  r.label_counts = {600, 300, 150, 80, 40, 20, 10, 6, 4, 3};
  const std::vector<Finding> f = diagnose(r);
  REQUIRE(alarm(f, "lr-too-low"));
  CHECK(find_finding(f, "lr-too-low")->value("effective_learning_rate") ==
        doctest::Approx(0.001 * 10.0 / 1213));
  // Adam divides the scale out: the same record under Adam is not called
  // starved (at most too slow for its budget, the steady-but-slow reading).
  r.optimizer = "adam";
  const std::vector<Finding> adam = diagnose(r);
  if (const Finding* low = find_finding(adam, "lr-too-low"))
    CHECK(std::isnan(low->value("effective_learning_rate")));
}

TEST_CASE("underfitting: a convolution's width is all its positions, not its channels") {
  RunRecord r = run_of(10, 2.3, 1.9, 4);
  for (EpochRecord& e : r.epochs)
    e.loss = 1.9, e.accuracy = 0.3, e.test_loss = 1.9, e.test_accuracy = 0.3;
  r.label_counts = std::vector<int64_t>(10, 100);
  r.layers = {{"conv2d_1", "conv2d", "relu", {24, 24, 6}, 156},
              {"dense_1", "dense", "softmax", {10}, 34570}};
  for (EpochRecord& e : r.epochs) e.layers.resize(2);
  const std::vector<Finding> f = diagnose(r);
  REQUIRE(find_finding(f, "underfitting"));  // the plateau, not a bottleneck
  CHECK(find_finding(f, "underfitting")->value("narrowest_layer") == 24 * 24 * 6);
  CHECK(find_finding(f, "underfitting")->title.find("stopped improving") != std::string::npos);
  // A dense bottleneck of 2 units for 10 classes is one.
  r.layers[0] = {"dense_0", "dense", "relu", {2}, 100};
  CHECK(find_finding(diagnose(r), "underfitting")->title.find("2 values per sample") != std::string::npos);
}

TEST_CASE(
    "preprocessing-mismatch on table rows: feature columns named, no pixels, no std from one row") {
  Tensor train({64, 2});
  for (int i = 0; i < 64; ++i)
    train[2 * i] = static_cast<float>(i % 10), train[2 * i + 1] = static_cast<float>(i % 3);
  Tensor row({1, 2});
  row[0] = 200, row[1] = 1;
  const std::vector<Finding> f =
      compare_input_stats(input_stats_of(train), input_stats_of(row), {"age", "rooms"});
  REQUIRE(f.size() == 1);
  CHECK(f[0].title.find("pixels") == std::string::npos);
  CHECK(f[0].title.find("feature column 'age'") != std::string::npos);
  bool said = false;
  for (const Evidence& e : f[0].evidence)
    said = said || e.shown.find("std not compared") != std::string::npos;
  CHECK(said);
  CHECK(!input_stats_of(train).looks_like_raw_pixels());
}

TEST_CASE(
    "lr-too-high: a spike the run recovers from is a note, explained by the input when it can be") {
  RunRecord r = run_of(5, 1.6, 0.2, 4);
  // An early spike to 40 over a few steps, then recovery.
  for (int i = 3; i < 15; ++i) r.steps[i].loss = 60;
  for (EpochRecord& e : r.epochs) e.accuracy = 0.9;
  r.epochs.back().loss = 0.2;
  std::vector<Finding> f = diagnose(r);
  REQUIRE(find_finding(f, "lr-too-high"));
  CHECK(find_finding(f, "lr-too-high")->severity == Severity::note);
  CHECK(find_finding(f, "lr-too-high")->title.find("recovered") != std::string::npos);
  // A run that never recovers keeps the problem.
  for (size_t i = 15; i < r.steps.size(); ++i) r.steps[i].loss = 60;
  r.epochs.back().loss = 60;
  CHECK(alarm(diagnose(r), "lr-too-high"));
}

TEST_CASE("exploding-gradients and initial-loss point at inputs unlike a pretrained base's") {
  RunRecord r = run_of(5, 30, 2.0, 2);
  for (EpochRecord& e : r.epochs) e.accuracy = 0.3;
  r.layers = {{"conv2d_1", "conv2d", "relu", {6, 6, 4}, 40},
              {"dense_1", "dense", "softmax", {5}, 725}};
  r.initial_grad_norms = {500, 1};
  r.initial_param_norms = {1, 1};
  for (EpochRecord& e : r.epochs) {
    e.layers.resize(2);
    e.layers[0].grad_norm = 1, e.layers[1].grad_norm = 1;
  }
  // The base was trained on 0..1 images; this run feeds it raw pixels.
  r.pretrained = true;
  r.reference_input_stats = r.input_stats;
  r.input_stats.all = {0, 255, 80, 70};
  r.input_stats.channels = {r.input_stats.all};
  r.input_stats.whole_fraction = 1;
  const std::vector<Finding> f = diagnose(r);
  REQUIRE(alarm(f, "preprocessing-mismatch"));
  REQUIRE(find_finding(f, "exploding-gradients"));
  CHECK(find_finding(f, "exploding-gradients")->severity == Severity::note);
  REQUIRE(find_finding(f, "initial-loss"));
  CHECK(find_finding(f, "initial-loss")->severity == Severity::note);
}
