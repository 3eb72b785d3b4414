// convkit train: train a model on a dataset, Keras fit() style.
#include <fmt/format.h>

#include <cstdio>

#include "apps/commands.h"
#include "apps/eval_report.h"
#include "apps/model_builder.h"
#include "apps/progress.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "apps/data_options.h"
#include "core/format.h"

namespace ck {

namespace {

struct TrainOptions {
  DataOptions data;
  std::string model = "fmnist-cnn";
  int epochs = 2;
  int batch = 32;
  std::string optimizer = "adam";
  float lr = 0;
  float momentum = 0;
  bool nesterov = false;
  std::string loss = "auto";
  uint64_t seed = 42;
};

void run_train(const TrainOptions& o) {
  std::unique_ptr<PreparedData> data = prepare_data(o.data, o.batch, o.seed);
  const Dataset& train_set = data->train_set();

  Model model = make_model(o.model, train_set.sample_shape);
  model.compile(o.loss == "auto" ? default_loss(model) : parse_loss(o.loss));
  const int64_t outputs = model.output_shape()[0];
  if (model.loss() == LossKind::sparse_categorical_crossentropy &&
      outputs != train_set.num_classes())
    fail("the model has {} outputs but {} has {} classes; end the model with dense({},softmax)",
         outputs, data->splits.name, train_set.num_classes(), train_set.num_classes());
  // compute_loss reads `outputs` targets per sample for MSE: they must exist.
  if (model.loss() == LossKind::mean_squared_error && outputs != train_set.target_size)
    fail("mean_squared_error compares each of the model's {} outputs with a target, but {} has {} "
         "target value{} per sample{}",
         outputs, data->splits.name, train_set.target_size, train_set.target_size == 1 ? "" : "s",
         train_set.num_classes() > 0
             ? " (a class index): use sparse_categorical_crossentropy for classification"
             : "");
  Rng init_rng(o.seed);
  model.init(init_rng);
  auto optimizer = make_optimizer(o.optimizer, o.lr, o.momentum, o.nesterov);

  fmt::print("Training {} on {}\n", o.model, data->splits.name);
  fmt::print("{}", data->describe());
  fmt::print("  model:         {} params, {:.1f} MFLOP/image forward\n",
             with_commas(model.param_count()), model.flops() / 1e6);
  fmt::print("  optimizer:     {}; loss {}{}\n", optimizer->describe(), loss_name(model.loss()),
             model.head() != Activation::linear ? " (from logits)" : "");
  fmt::print("  run:           {} epochs, batch {}, seed {}, {} threads, gemm {}\n", o.epochs,
             o.batch, o.seed, threads(), gemm_backend_name(gemm_backend()));
  std::fflush(stdout);

  const bool has_accuracy = model.loss() != LossKind::mean_squared_error;
  ProgressBar progress(stdout, has_accuracy);
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = optimizer.get();
  setup.train = data->train.get();
  setup.validation = data->validation.get();
  setup.test = data->test.get();
  setup.epochs = o.epochs;
  setup.seed = o.seed;
  setup.observers = {&progress};
  std::vector<EpochResult> results = train(setup);

  double seconds = 0;
  for (const EpochResult& r : results) seconds += r.seconds;
  const EpochResult& last = results.back();
  auto metrics = [&](const LossStats& s) {
    return fmt::format("loss {:.4f}{}", s.mean(),
                       has_accuracy ? fmt::format(", accuracy {:.4f}", s.accuracy()) : "");
  };
  fmt::print("\nTrained {} epochs in {} ({:.0f} img/s training).\n", results.size(),
             format_duration(seconds),
             data->train->samples() * results.size() / std::max(seconds, 1e-9));
  fmt::print("  final train:   {}\n", metrics(last.train));
  if (last.validation) fmt::print("  validation:    {}\n", metrics(last.validation->stats));
  if (last.test) {
    fmt::print("  test:          {}\n\n", metrics(last.test->stats));
    if (has_accuracy) fmt::print("{}", format_confusion(*last.test, train_set.class_names));
  }
}

}  // namespace

void setup_train(CLI::App& cmd) {
  auto o = std::make_shared<TrainOptions>();
  add_data_options(cmd, o->data);
  cmd.add_option("--model", o->model,
                 "A preset (convkit summary --list) or a layer spec, e.g. "
                 "\"conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)\"")
      ->capture_default_str();
  cmd.add_option("--epochs", o->epochs, "Passes over the training data")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--batch", o->batch, "Samples per step")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--optimizer", o->optimizer, "adam or sgd")->capture_default_str();
  cmd.add_option("--lr", o->lr, "Learning rate (default: 0.001 for adam, 0.01 for sgd)");
  cmd.add_option("--momentum", o->momentum, "SGD momentum");
  cmd.add_flag("--nesterov", o->nesterov, "SGD with Nesterov momentum");
  cmd.add_option("--loss", o->loss,
                 "auto, sparse_categorical_crossentropy (scce), binary_crossentropy (bce), or "
                 "mean_squared_error (mse)")
      ->capture_default_str();
  cmd.add_option("--seed", o->seed, "Seed for initialization, shuffling and dropout")
      ->capture_default_str();
  add_compute_options(cmd);
  cmd.callback([o] { run_train(*o); });
}

}  // namespace ck
