// End to end on Fashion-MNIST (Debian's dataset-fashion-mnist): the loss at
// initialization, a short run that learns, and bit-identical reruns.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "apps/model_builder.h"
#include "apps/trainer.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/sources.h"
#include "optim/adam.h"
#include "tests/helpers.h"

using namespace ck;

namespace {

// The first `train_n` training and `test_n` test samples, scaled 1/255.
struct Fmnist {
  DataSplits splits;
  Preprocessing pre;
  Fmnist(int64_t train_n, int64_t test_n) {
    splits = load_data("fashion-mnist");
    limit_samples(splits.train, train_n);
    REQUIRE(splits.test.has_value());
    limit_samples(*splits.test, test_n);
    pre.scaling = Scaling::unit;
  }
  std::vector<int64_t> all(const Dataset& d) const {
    std::vector<int64_t> v(d.size());
    std::iota(v.begin(), v.end(), 0);
    return v;
  }
};

struct RunResult {
  std::vector<EpochResult> epochs;
  std::vector<Tensor> weights;
  double initial_loss = 0;
  EvalResult test;
};

RunResult train_run(const std::string& spec, Fmnist& data, int epochs, int threads, uint64_t seed) {
  ck::test::ThreadScope scope(threads);
  Model model = make_model(spec, data.splits.train.sample_shape);
  model.compile(default_loss(model, false));
  Rng init(seed);
  model.init(init);
  Adam adam;
  Loader train_loader(data.splits.train, data.all(data.splits.train), 32, data.pre, true, seed);
  Loader test(*data.splits.test, data.all(*data.splits.test), 256, data.pre, false, seed);
  RunResult r;
  r.initial_loss = evaluate(model, train_loader).loss();
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = &adam;
  setup.train = &train_loader;
  setup.epochs = epochs;
  setup.seed = seed;
  r.epochs = ck::train(setup);
  r.test = evaluate(model, test);
  for (Param* p : model.params()) r.weights.push_back(p->value.clone());
  return r;
}

}  // namespace

TEST_CASE("fmnist-cnn at initialization: loss ~ ln(10) on 300 Fashion-MNIST images scaled 1/255") {
  Fmnist data(300, 1);
  Model model = make_model("fmnist-cnn", data.splits.train.sample_shape);
  model.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(42);
  model.init(rng);
  Loader loader(data.splits.train, data.all(data.splits.train), 100, data.pre, false, 0);
  EvalResult r = evaluate(model, loader);
  CHECK(r.stats.count == 300);
  // Glorot-initialized logits are small: near-uniform predictions, loss ln 10 = 2.3026.
  CHECK(std::fabs(r.loss() - std::log(10.0)) < 0.15);
  CHECK(r.stats.capped == 0);
  int64_t total = 0;
  for (int64_t c : r.confusion) total += c;
  CHECK(total == 300);
  // Raw 0..255 pixels instead: the same model starts far from ln 10.
  Preprocessing raw;
  Loader raw_loader(data.splits.train, data.all(data.splits.train), 100, raw, false, 0);
  CHECK(evaluate(model, raw_loader).loss() > std::log(10.0) + 1.0);
}

TEST_CASE("lenet5, 1000 Fashion-MNIST images, 2 epochs of Adam: the loss falls, accuracy rises") {
  Fmnist data(1000, 500);
  RunResult r = train_run("lenet5", data, 2, 2, 42);
  REQUIRE(r.epochs.size() == 2);
  CHECK(std::fabs(r.initial_loss - std::log(10.0)) < 0.15);
  const double first = r.epochs[0].train.mean(), last = r.epochs[1].train.mean();
  CAPTURE(r.initial_loss);
  CAPTURE(first);
  CAPTURE(last);
  CAPTURE(r.test.accuracy());
  CHECK(r.epochs[0].train.count == 1000);  // the last partial batch (1000 = 31 * 32 + 8) is kept
  CHECK(last < first);
  CHECK(last < 0.6 * r.initial_loss);
  CHECK(r.epochs[1].train.accuracy() > 0.45);
  CHECK(r.test.accuracy() > 0.45);  // well above the 10% of guessing (measured 0.61)
  CHECK(r.test.stats.count == 500);
}

TEST_CASE("same seed and thread count give bit-identical weights (dropout and shuffling included)") {
  Fmnist data(256, 1);
  const std::string spec =
      "conv2d(8,3,same,relu) maxpool(2) conv2d(8,3,relu) maxpool(2) flatten dense(32,relu) "
      "dropout(0.3) dense(10,softmax)";
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    RunResult a = train_run(spec, data, 2, threads, 7);
    RunResult b = train_run(spec, data, 2, threads, 7);
    REQUIRE(a.weights.size() == b.weights.size());
    for (size_t i = 0; i < a.weights.size(); ++i)
      CHECK(std::memcmp(a.weights[i].data(), b.weights[i].data(), a.weights[i].size() * sizeof(float)) ==
            0);
    CHECK(a.epochs[1].train.weighted_sum == b.epochs[1].train.weighted_sum);
    // A different seed is a different run.
    RunResult c = train_run(spec, data, 1, threads, 8);
    CHECK(ck::test::max_abs_diff(a.weights[0], c.weights[0]) > 0.0f);
  }
}
