// convkit train: train a model on a dataset, Keras fit() style.
#include <fmt/format.h>

#include <cstdio>
#include <set>

#include "apps/checkpoint.h"
#include "apps/commands.h"
#include "apps/eval_report.h"
#include "apps/model_builder.h"
#include "apps/model_file.h"
#include "apps/progress.h"
#include "apps/run_recorder.h"
#include "apps/train_guard.h"
#include "apps/train_options.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "core/format.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "version.h"

namespace ck {

namespace {

// --resume continues a run exactly as it was started: its recorded options
// replace the command line, except for the total epochs and compute options.
std::optional<Checkpoint> resume_options(TrainOptions& o, const CLI::App& cmd) {
  if (o.resume.empty()) return std::nullopt;
  const std::set<std::string> allowed = {"--resume", "--epochs", "--threads", "--gemm", "--help"};
  for (const CLI::Option* opt : cmd.get_options())
    if (opt->count() > 0 && !allowed.count(opt->get_name()))
      fail("{} cannot be changed when resuming: --resume continues the run exactly as it was "
           "started (only --epochs and --threads may be given)",
           opt->get_name());
  std::optional<std::string> path = latest_checkpoint(o.resume);
  if (!path)
    fail("--resume {}: no checkpoint there (a run writes them with --checkpoint-dir)", o.resume);
  Checkpoint c = read_checkpoint(*path);
  TrainOptions restored = train_options_from_json(c.options);
  if (cmd.count("--epochs")) restored.epochs = o.epochs;
  restored.resume = o.resume;
  o = restored;
  if (c.threads != threads())
    fmt::print(stderr,
               "convkit: warning: the run used {} threads and resumes with {}; the result will "
               "not be bit-identical to an uninterrupted run (pass --threads {})\n",
               c.threads, threads(), c.threads);
  return c;
}

// The input statistics a pretrained base was trained on, when its file records them.
std::optional<InputStats> base_input_stats(const std::string& path) {
  SafeTensors file = read_safetensors(path);
  auto it = file.metadata.find("training");
  if (it == file.metadata.end()) return std::nullopt;
  nlohmann::json training = nlohmann::json::parse(it->second, nullptr, false);
  if (training.is_discarded() || !training.contains("input_stats")) return std::nullopt;
  return InputStats::from_json(training["input_stats"]);
}

// The recorder of --run-dir, continuing the directory's record on --resume.
std::unique_ptr<RunRecorder> make_recorder(const TrainOptions& o, Model& model, Optimizer& optimizer,
                                           const PreparedData& data, const ModelInfo& info,
                                           bool resuming) {
  RunInfo run;
  run.class_names = data.train_set().class_names;
  run.epochs = o.epochs;
  run.model_info = &info;
  run.config = {{"data", data.splits.name},
                {"preprocessing", data.preprocessing.describe()},
                {"training_samples", data.train->samples()},
                {"validation_samples", data.validation ? data.validation->samples() : 0},
                {"batch", o.batch},
                {"epochs", o.epochs},
                {"seed", o.seed},
                {"options", train_options_json(o)}};
  run.pretrained = !o.init_from.empty();
  if (run.pretrained) run.reference_input_stats = base_input_stats(o.init_from);
  std::optional<RunRecord> previous;
  if (resuming) {
    try {
      previous = read_run_dir(o.run_dir);
    } catch (const Error&) {
      // Nothing usable there yet: the record starts at the resume point.
    }
  }
  return std::make_unique<RunRecorder>(model, optimizer, run, o.run_dir, std::move(previous));
}

void run_train(TrainOptions o, const CLI::App& cmd) {
  std::optional<Checkpoint> resumed = resume_options(o, cmd);
  std::unique_ptr<PreparedData> data = prepare_data(o.data, o.batch, o.seed);
  const Dataset& train_set = data->train_set();

  Model model = make_model(o.model, data->input_shape());
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
  std::string imported;
  std::optional<ImportReport> report;
  if (!o.init_from.empty()) {
    report = import_weights(model, o.init_from);
    imported = fmt::format("  init-from:     {}\n{}", o.init_from, report->format());
  }
  if (!o.freeze.empty()) {
    std::vector<std::string> frozen = freeze_layers(model, o.freeze, report ? &*report : nullptr);
    imported += fmt::format("  frozen:        {} ({} of {} params train)\n", fmt::join(frozen, ", "),
                            with_commas(model.trainable_param_count()),
                            with_commas(model.param_count()));
  }
  auto optimizer = make_optimizer(o.optimizer, o.lr, o.momentum, o.nesterov);
  const OnNan on_nan = parse_on_nan(o.on_nan);

  ModelInfo info;
  info.preprocessing = data->preprocessing;
  info.class_names = train_set.class_names;
  info.training = {{"data", data->splits.name},
                   {"options", train_options_json(o)},
                   {"convkit_version", kVersion},
                   {"threads", threads()},
                   {"gemm", gemm_backend_name(gemm_backend())}};

  TrainPosition start;
  std::vector<nlohmann::json> history;
  if (resumed) {
    Checkpoint c = restore_checkpoint(resumed->path, model, *optimizer);
    start = c.position;
    history = c.history;
  }

  fmt::print("Training {} on {}\n", o.model, data->splits.name);
  fmt::print("{}", data->describe());
  fmt::print("  model:         {} params, {:.1f} MFLOP/image forward\n",
             with_commas(model.param_count()), model.flops() / 1e6);
  fmt::print("{}", imported);
  fmt::print("  optimizer:     {}; loss {}{}\n", optimizer->describe(), loss_name(model.loss()),
             model.head() != Activation::linear ? " (from logits)" : "");
  fmt::print("  run:           {} epochs, batch {}, seed {}, {} threads, gemm {}\n", o.epochs,
             o.batch, o.seed, threads(), gemm_backend_name(gemm_backend()));
  if (resumed)
    fmt::print("  resuming:      {} (epoch {}, step {})\n", resumed->path, start.epoch + 1,
               start.step);
  std::fflush(stdout);
  if (start.epoch >= o.epochs) {
    // The run was stopped after its last checkpoint but before it finished
    // (e.g. before --save): finish it without training.
    fmt::print("\nThe run had already trained its {} epochs; pass a larger --epochs to train "
               "further.\n",
               start.epoch);
    info.training["epochs"] = history;
    if (!o.save.empty()) {
      save_model(o.save, model, info);
      fmt::print("  saved:         {}\n", o.save);
    }
    return;
  }

  const bool has_accuracy = model.loss() != LossKind::mean_squared_error;
  ProgressBar progress(stdout, has_accuracy);
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = optimizer.get();
  setup.train = data->train.get();
  setup.validation = data->validation.get();
  setup.test = data->test.get();
  setup.epochs = o.epochs;
  setup.start = start;
  setup.seed = o.seed;
  setup.observers = {&progress};
  const std::string checkpoint_dir = resumed ? o.resume : o.checkpoint_dir;
  std::optional<CheckpointWriter> checkpoints;
  if (!checkpoint_dir.empty()) {
    checkpoints.emplace(checkpoint_dir, o.keep_checkpoints, o.checkpoint_every, model, *optimizer,
                        info, train_options_json(o), history);
    setup.observers.push_back(&*checkpoints);
  }
  TrainGuard guard(model, *optimizer, on_nan, stderr, checkpoint_dir,
                   !o.save.empty() && o.run_dir.empty());
  std::unique_ptr<RunRecorder> recorder;
  if (!o.run_dir.empty()) {
    recorder = make_recorder(o, model, *optimizer, *data, info, resumed.has_value());
    setup.observers.insert(setup.observers.begin() + 1, recorder.get());
  }
  // The guard sees each step after the recorder (so a NaN step is recorded)
  // and before the checkpoint writer (so a rolled-back step is not saved).
  setup.observers.insert(setup.observers.begin() + (recorder ? 2 : 1), &guard);
  std::vector<EpochResult> results;
  try {
    results = train(setup);
  } catch (const Error& e) {
    if (recorder) recorder->finish(e.what());
    throw;
  }
  if (recorder) recorder->finish();

  double seconds = 0;
  for (const EpochResult& r : results) {
    seconds += r.seconds;
    history.push_back(epoch_json(r));
  }
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
  if (last.test) fmt::print("  test:          {}\n", metrics(last.test->stats));

  info.training["epochs"] = history;
  if (!o.save.empty()) {
    // What the inputs looked like, so predict/evaluate can check new inputs against it.
    if (recorder) info.training["input_stats"] = recorder->record().input_stats.to_json();
    else info.training["input_stats"] = guard.input_stats().to_json();
    save_model(o.save, model, info);
    fmt::print("  saved:         {} (convkit predict --model {} FILES)\n", o.save, o.save);
  }
  if (last.test && has_accuracy)
    fmt::print("\n{}", format_confusion(*last.test, train_set.class_names));
  if (recorder)
    fmt::print("\nRun recorded in {} (convkit diagnose {} explains it; plot and report draw it).\n",
               o.run_dir, o.run_dir);
}

}  // namespace

void setup_train(CLI::App& cmd) {
  auto o = std::make_shared<TrainOptions>();
  add_train_options(cmd, *o);
  add_compute_options(cmd);
  cmd.callback([o, &cmd] { run_train(*o, cmd); });
}

}  // namespace ck
