// The tutorial experiments of ../shared/EXPERIMENTS.md as `convkit repro` runs
// them (in process, recorded without a directory), scaled down to run in
// seconds: diagnose must name each broken run's failure and find each fixed
// run healthy, or with notes only.
#include <doctest/doctest.h>

#include <cmath>

#include "apps/input_stats.h"
#include "core/error.h"
#include "diag_helpers.h"

using namespace ck;
using namespace ck::test;

namespace {

const Dataset& fmnist_train(int64_t n) {
  static const Dataset d = first_samples(fashion_mnist().train, 2000);
  REQUIRE(n <= d.size());
  return d;
}
const Dataset& fmnist_validation() {
  static const Dataset d = first_samples(fashion_mnist().train, 500, 55000);
  return d;
}

// Per-channel z-scores with statistics fitted on `fit` (as article 002's fix).
Dataset standardized(const Dataset& data, const Dataset& fit) {
  double sum = 0, squares = 0;
  const int64_t n = fit.size() * fit.sample_size();
  std::vector<float> x(fit.sample_size());
  for (int64_t i = 0; i < fit.size(); ++i) {
    fit.copy_sample(i, x.data());
    for (float v : x) sum += v, squares += double(v) * v;
  }
  const double mean = sum / n, std = std::sqrt(squares / n - mean * mean);
  Dataset out = data;
  out.pixels.clear();
  out.values.resize(data.size() * data.sample_size());
  for (int64_t i = 0; i < data.size(); ++i) {
    data.copy_sample(i, out.values.data() + i * data.sample_size());
    for (int64_t k = 0; k < data.sample_size(); ++k) {
      float& v = out.values[i * data.sample_size() + k];
      v = static_cast<float>((v - mean) / std);
    }
  }
  return out;
}

constexpr const char* kRawPixelsModel = "conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)";

}  // namespace

TEST_CASE("repro raw-pixels: 0..255 random images are diagnosed, /255 is healthy") {
  const Dataset images = random_images(100, {32, 32, 3}, 10, true, 1);
  RunConfig c{kRawPixelsModel};
  c.epochs = 5;
  c.scaling = Scaling::none;
  require_diagnosis(diagnose(record_run(c, images)), "input-unnormalized");
  c.scaling = Scaling::unit;
  require_healthy(diagnose(record_run(c, images)));
}

TEST_CASE("repro raw-pixels twin: Fashion-MNIST raw vs 1/255") {
  RunConfig c{kSmallCnn};
  c.scaling = Scaling::none;
  require_diagnosis(diagnose(record_run(c, fmnist_train(2000), &fmnist_validation())), "input-unnormalized");
  c.scaling = Scaling::unit;
  require_healthy(diagnose(record_run(c, fmnist_train(2000), &fmnist_validation())));
}

TEST_CASE("repro learning-rate-10: Adam lr=10 diverges, lr=1e-3 is healthy") {
  // The article's model on 32x32 instead of 224x224 random images, 5 epochs.
  const Dataset images = random_images(100, {32, 32, 3}, 5, false, 2);
  RunConfig c{"conv2d(32,3,relu) maxpool(2) conv2d(64,3,relu) maxpool(2) conv2d(128,3,relu) flatten "
              "dense(128,relu) dense(5,softmax)"};
  c.epochs = 5;
  c.scaling = Scaling::none;  // the images are already floats in [0, 1)
  c.lr = 10;
  require_diagnosis(diagnose(record_run(c, images)), "lr-too-high");
  c.lr = 1e-3f;
  require_healthy(diagnose(record_run(c, images)));
}

TEST_CASE("repro learning-rate-10 twin: Fashion-MNIST at lr 10 and lr 1e-3") {
  RunConfig c{kSmallCnn};
  c.lr = 10;
  require_diagnosis(diagnose(record_run(c, fmnist_train(2000), &fmnist_validation())), "lr-too-high");
  c.lr = 1e-3f;
  require_healthy(diagnose(record_run(c, fmnist_train(2000), &fmnist_validation())));
}

TEST_CASE("repro shallow-model and resize-220: random labels are memorized, nothing is broken") {
  RunConfig shallow{"conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) flatten dense(5,softmax)"};
  shallow.epochs = 10;
  shallow.scaling = Scaling::none;  // floats in [0, 1), as np.random.rand
  require_healthy(diagnose(record_run(shallow, random_images(100, {32, 32, 3}, 5, false, 3))));
  RunConfig resize{"conv2d(16,3,relu) flatten dense(5,softmax)"};
  resize.epochs = 5;
  resize.batch = 3;
  resize.scaling = Scaling::none;
  require_healthy(diagnose(record_run(resize, random_images(30, {44, 44, 3}, 5, false, 4))));
}

TEST_CASE("repro capacity sweep: a 2-unit model underfits, a small CNN does not") {
  RunConfig tiny{"flatten dense(2,relu) dense(10,softmax)"};
  require_diagnosis(diagnose(record_run(tiny, fmnist_train(2000), &fmnist_validation())), "underfitting");
  require_healthy(diagnose(record_run({kSmallCnn}, fmnist_train(2000), &fmnist_validation())));
}

TEST_CASE("repro standardize: raw is diagnosed, min-max and z-score are healthy") {
  const Dataset& train = fmnist_train(2000);
  RunConfig c{kSmallCnn};
  c.scaling = Scaling::none;
  require_diagnosis(diagnose(record_run(c, train, &fmnist_validation())), "input-unnormalized");
  c.scaling = Scaling::unit;  // min-max: pixels span 0..255
  require_healthy(diagnose(record_run(c, train, &fmnist_validation())));
  c.scaling = Scaling::none;
  const Dataset z = standardized(train, train), z_val = standardized(fmnist_validation(), train);
  require_healthy(diagnose(record_run(c, z, &z_val)));
}

TEST_CASE("repro class-weights: a long-tailed subset, without and with a remedy") {
  const Dataset tail = take_per_class(fashion_mnist().train, {600, 300, 150, 80, 40, 20, 10, 6, 4, 3});
  RunConfig c{kSmallCnn};
  std::vector<Finding> broken = diagnose(record_run(c, tail, &fmnist_validation()));
  require_diagnosis(broken, "class-imbalance");
  // Inverse-frequency class weights (Keras class_weight = 1 / count, scaled to mean 1).
  std::vector<int64_t> counts = tail.class_counts();
  for (int64_t k : counts) c.class_weights.push_back(static_cast<float>(tail.size()) / (counts.size() * k));
  require_healthy(diagnose(record_run(c, tail, &fmnist_validation())));
  // Oversampling: every class repeated up to the largest count.
  std::vector<int64_t> balanced;
  for (int k = 0; k < 10; ++k) {
    std::vector<int64_t> of_k;
    for (int64_t i = 0; i < tail.size(); ++i)
      if (tail.targets[i] == k) of_k.push_back(i);
    for (int64_t j = 0; j < 600; ++j) balanced.push_back(of_k[j % of_k.size()]);
  }
  RunConfig plain{kSmallCnn};
  plain.epochs = 1;
  std::vector<Finding> fixed = diagnose(record_run(plain, tail.subset(balanced), &fmnist_validation()));
  require_healthy(fixed);
  CHECK(find_finding(fixed, "class-imbalance") == nullptr);
}

TEST_CASE("repro raw-binary twin: imbalanced 9:1 binary, raw vs scaled with class weights") {
  const Dataset binary = two_classes(fashion_mnist().train, 0, 6, 900, 100);
  RunConfig c{"conv2d(8,3,relu) maxpool(2) flatten dense(1,sigmoid)"};
  c.scaling = Scaling::none;
  require_diagnosis(diagnose(record_run(c, binary)), "input-unnormalized");
  c.scaling = Scaling::unit;
  c.class_weights = {1000.0f / (2 * 900), 1000.0f / (2 * 100)};
  require_healthy(diagnose(record_run(c, binary)));
}

TEST_CASE("repro inference-normalization: the training run is too slow, raw inputs at inference are named") {
  // X = [[1,2],[3,4],[5,6]] z-scored with its own mean and std; y = [7,10,13]; Dense(1), MSE, Adam, 100 epochs.
  Dataset d;
  d.sample_shape = {2};
  const float mean[2] = {3, 4}, std = std::sqrt(8.0f / 3.0f);
  const float x[3][2] = {{1, 2}, {3, 4}, {5, 6}};
  for (auto& row : x)
    for (int k = 0; k < 2; ++k) d.values.push_back((row[k] - mean[k]) / std);
  d.targets = {7, 10, 13};
  RunConfig c{"dense(1)", "mse"};
  c.epochs = 100;
  c.scaling = Scaling::none;
  RunRecord run = record_run(c, d);
  // 100 Adam steps at 1e-3 leave the loss where it started (targets ~10,
  // weights moving ~1e-3 a step): steady but far too slow for the budget.
  const std::vector<Finding> found = diagnose(run);
  REQUIRE(!found.empty());
  CHECK(found[0].id == "lr-too-low");
  CHECK(found[0].severity == Severity::warning);
  // With a rate that fits the budget, the same run is healthy.
  c.lr = 0.1f;
  c.epochs = 300;
  require_healthy(diagnose(record_run(c, d)));
  // Predicting [[7, 8]]: without the training normalization, then with it.
  Tensor raw({1, 2}), normalized({1, 2});
  raw[0] = 7, raw[1] = 8;
  normalized[0] = (7 - mean[0]) / std, normalized[1] = (8 - mean[1]) / std;
  std::vector<Finding> mismatch = compare_input_stats(run.input_stats, input_stats_of(raw));
  REQUIRE(mismatch.size() == 1);
  CHECK(mismatch[0].id == "preprocessing-mismatch");
  CHECK(compare_input_stats(run.input_stats, input_stats_of(normalized)).empty());
}

TEST_CASE("repro missing-values: NaN never reaches the model, imputed data is healthy") {
  Rng rng(5);
  Dataset d;
  d.sample_shape = {3};
  for (int i = 0; i < 64; ++i) {
    float a = rng.uniform(), b = rng.uniform(), e = rng.uniform();
    d.values.insert(d.values.end(), {a, i % 7 == 3 ? NAN : b, e});
    d.targets.push_back(a + 2 * b - e);
  }
  RunConfig c{"dense(8,relu) dense(1)", "mse"};
  c.epochs = 5;
  c.scaling = Scaling::none;
  c.batch = 8;
  // Without an imputer the pipeline refuses the gap before the model sees it
  // (test_diag_units covers the input-non-finite rule for NaN from elsewhere).
  CHECK_THROWS_WITH_AS(record_run(c, d),
                       doctest::Contains("feature \"1\" is missing (NaN) and the preprocessing has no imputer"),
                       ck::Error);
  for (float& v : d.values)
    if (std::isnan(v)) v = 0.5f;  // the training mean of a uniform feature
  require_healthy(diagnose(record_run(c, d)));
}

TEST_CASE("repro pretrained-preprocessing twin: a base's inputs against the transfer data's") {
  const Dataset& train = fmnist_train(2000);
  RunConfig base{kSmallCnn};
  base.epochs = 1;
  const InputStats base_inputs = record_run(base, train).input_stats;
  // (a) the same preprocessing, (b) raw pixels, (c) scaled to -1..1 instead of 0..1.
  RunConfig raw{kSmallCnn};
  raw.epochs = 1;
  raw.scaling = Scaling::none;
  CHECK(compare_input_stats(base_inputs, record_run(base, train).input_stats).empty());
  std::vector<Finding> b = compare_input_stats(base_inputs, record_run(raw, train).input_stats);
  REQUIRE(!b.empty());
  CHECK(b[0].id == "preprocessing-mismatch");
  CHECK(b[0].value("std_ratio") > 100);
  Dataset signed_data = train;
  signed_data.values.resize(signed_data.pixels.size());
  for (size_t i = 0; i < signed_data.pixels.size(); ++i) signed_data.values[i] = signed_data.pixels[i] / 127.5f - 1;
  signed_data.pixels.clear();
  std::vector<Finding> c = compare_input_stats(base_inputs, record_run(raw, signed_data).input_stats);
  REQUIRE(!c.empty());
  CHECK(c[0].id == "preprocessing-mismatch");
}

TEST_CASE("repro resize-at-inference: a different image size is named") {
  Tensor trained({4, 64, 64, 3}), given({1, 80, 80, 3});
  trained.fill(0.5f), given.fill(0.5f);
  std::vector<Finding> f = compare_input_stats(input_stats_of(trained), input_stats_of(given));
  REQUIRE(!f.empty());
  CHECK(f[0].id == "preprocessing-mismatch");
  CHECK(f[0].title.find("80x80x3") != std::string::npos);
  CHECK(f[0].title.find("64x64x3") != std::string::npos);
}
