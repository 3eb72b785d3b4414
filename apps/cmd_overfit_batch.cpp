// convkit overfit-batch: can the model drive one small batch to ~0 loss?
// Karpathy's first test ("A Recipe for Training Neural Networks", 2019:
// overfit one batch): a model that cannot memorize a dozen samples has a bug,
// a learning rate far off, or inputs it cannot use, and training on more
// data will not fix that.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <numeric>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/diagnose_rules.h"
#include "apps/input_stats.h"
#include "apps/model_builder.h"
#include "core/error.h"
#include "optim/optimizer.h"

namespace ck {

namespace {

struct Options {
  DataOptions data;
  std::string model = "fmnist-cnn";
  std::string optimizer = "adam";
  float lr = 0;
  int samples = 16;
  int steps = 300;
  double target = 0.01;
  uint64_t seed = 42;
};

// The batch's loss and accuracy in inference mode (no dropout).
LossStats measure(Model& model, const Batch& batch) {
  const Tensor& out = model.forward(batch.x, ForwardContext{.backward = false});
  return compute_loss(model.loss(), out, batch.targets.data(), nullptr, nullptr);
}

void run(const Options& o) {
  std::unique_ptr<PreparedData> data = prepare_data(o.data, o.samples, o.seed);
  const Dataset& train = data->train_set();
  std::vector<int64_t> first(std::min<int64_t>(o.samples, static_cast<int64_t>(data->train_indices.size())));
  std::iota(first.begin(), first.end(), 0);
  Loader loader(train, first, static_cast<int>(first.size()), data->preprocessing, false, o.seed);
  Batch batch;
  loader.start_epoch(0);
  loader.next(batch);

  Model model = make_model(o.model, train.sample_shape, train.num_classes());
  model.compile(default_loss(model, train.num_classes() == 0));
  Rng rng(o.seed);
  model.init(rng);
  auto optimizer = make_optimizer(o.optimizer, o.lr);
  const bool accuracy = model.loss() != LossKind::mean_squared_error;
  fmt::print("Overfitting one batch: {} on {} samples of {} ({}, {})\n", o.model, batch.size(),
             data->splits.name, optimizer->describe(), data->preprocessing.describe());
  const int64_t K = model.output_shape()[0];
  const int classes = accuracy ? (K == 1 ? 2 : static_cast<int>(K)) : 0;
  std::vector<std::string> checks;
  if (auto f = check_input_scale(input_stats_of(batch.x))) checks.push_back(f->title);

  std::vector<Param*> params = model.params();
  Tensor dout;
  LossStats start = measure(model, batch), now = start;
  if (auto f = check_initial_loss(start.mean(), classes, loss_name(model.loss()), {})) checks.push_back(f->title);
  for (const std::string& c : checks) fmt::print("  warning: {}\n", c);
  fmt::print("\n  {:>5}  {:>10}{}\n", "step", "loss", accuracy ? "  accuracy" : "");
  auto row = [&](int step, const LossStats& s) {
    fmt::print("  {:>5}  {:>10.4g}{}\n", step, s.mean(), accuracy ? fmt::format("  {:>8.1f}%", 100 * s.accuracy()) : "");
  };
  row(0, start);
  int step = 0;
  auto done = [&](const LossStats& s) { return s.mean() < o.target && (!accuracy || s.correct == s.count); };
  while (step < o.steps && !done(now) && std::isfinite(now.mean())) {
    Rng step_rng = Rng::derive(o.seed, 0x0b, static_cast<uint64_t>(step));
    const Tensor& out = model.forward(batch.x, ForwardContext{true, &step_rng});
    dout.resize(out.shape());
    compute_loss(model.loss(), out, batch.targets.data(), nullptr, &dout);
    model.backward(dout);
    optimizer->step(params);
    ++step;
    now = measure(model, batch);
    if (step % 25 == 0 || done(now)) row(step, now);
  }
  if (done(now)) {
    fmt::print("\nPASS: the loss on these {} samples fell from {} to {} ({}) in {} steps: the model can "
               "learn. Now train on all the data{}.\n",
               batch.size(), short_number(start.mean()), short_number(now.mean()),
               accuracy ? fmt::format("all {} right", now.count) : "regression", step,
               checks.empty() ? "" : " (memorizing a batch is easy: the warnings above still matter there)");
    return;
  }
  fail("FAIL: after {} steps the loss on {} samples is {} (it started at {}{}): the model cannot even "
       "memorize one batch. Check the learning rate (convkit lr-find), the input scale{}, the labels and "
       "the loss, and the model's capacity; convkit train --run-dir DIR then convkit diagnose DIR shows "
       "more.",
       step, batch.size(), short_number(now.mean()), short_number(start.mean()),
       accuracy ? fmt::format("; {} of {} right", now.correct, now.count) : "",
       checks.empty() ? "" : " (see the warnings above)");
}

}  // namespace

void setup_overfit_batch(CLI::App& cmd) {
  auto o = std::make_shared<Options>();
  add_data_options(cmd, o->data);
  cmd.add_option("--model", o->model, "A preset or a layer spec (as for convkit train)")->capture_default_str();
  cmd.add_option("--optimizer", o->optimizer, "adam or sgd")->capture_default_str();
  cmd.add_option("--lr", o->lr, "Learning rate (default: the optimizer's)")
      ->check(number_above(0, false, "POSITIVE"));
  cmd.add_option("--samples", o->samples, "Samples in the one batch")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd.add_option("--steps", o->steps, "Give up after this many steps")->capture_default_str()->check(at_least(1, "POSITIVE"));
  cmd.add_option("--target-loss", o->target, "Success: a loss below this (and every sample right)")->capture_default_str();
  cmd.add_option("--seed", o->seed, "Seed for initialization")->capture_default_str()
      ->check(seed_value());
  add_compute_options(cmd);
  cmd.callback([o] { run(*o); });
}

}  // namespace ck
