#include "apps/training_run.h"

#include <fmt/format.h>

#include <csignal>
#include <utility>

#include "apps/interrupt.h"
#include "apps/model_builder.h"
#include "apps/run_recorder.h"
#include "core/error.h"
#include "core/format.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "version.h"

namespace ck {

std::unique_ptr<TrainingRun> prepare_training(const TrainOptions& o) {
  auto run = std::make_unique<TrainingRun>();
  run->options = o;
  run->data = prepare_data(o.data, o.batch, o.seed);
  const PreparedData& data = *run->data;
  const Dataset& train_set = data.train_set();

  if (train_set.num_classes() == 1) {
    const std::string& only = train_set.class_names[0];
    // An image folder holding only DIR/train reads "train" as the one class.
    const bool split_folder = only == "train" || only == "test";
    fail("{} has one class (\"{}\"): a classifier needs at least 2 classes to tell apart{}",
         data.splits.name, only,
         split_folder ? fmt::format("; {0} holds only a {1} folder: to train on it, give --data {0}/{1} "
                                    "(DIR/train and DIR/test are read as splits only together)",
                                    data.splits.name, only)
                      : "");
  }
  Model& model = run->model;
  model = make_model(o.model, data.input_shape(), train_set.num_classes());
  model.compile(o.loss == "auto" ? default_loss(model, train_set.num_classes() == 0) : parse_loss(o.loss));
  const Model as_preset = make_model(o.model, data.input_shape());
  const size_t last = model.layers().size() - 1;
  if (as_preset.spec() != model.spec())
    run->setup_notes +=
        fmt::format("  head:          {} for the data's {} classes (the preset has {})\n",
                    model.layer_spec(last), train_set.num_classes(), as_preset.layer_spec(last));
  const int64_t outputs = model.output_shape()[0];
  if (model.loss() == LossKind::sparse_categorical_crossentropy &&
      outputs != train_set.num_classes())
    fail("the model has {} outputs but {} has {} classes; end the model with dense({},softmax)",
         outputs, data.splits.name, train_set.num_classes(), train_set.num_classes());
  // compute_loss reads `outputs` targets per sample for MSE: they must exist.
  if (model.loss() == LossKind::mean_squared_error && outputs != train_set.target_size)
    fail(
        "mean_squared_error compares each of the model's {} outputs with a target, but {} has {} "
        "target value{} per sample{}",
        outputs, data.splits.name, train_set.target_size, train_set.target_size == 1 ? "" : "s",
        train_set.num_classes() > 0
            ? " (a class index): use sparse_categorical_crossentropy for classification"
            : "");
  Rng init_rng(o.seed);
  model.init(init_rng);
  std::optional<ImportReport> report;
  if (!o.init_from.empty()) {
    report = import_weights(model, o.init_from);
    run->setup_notes = fmt::format("  init-from:     {}\n{}", o.init_from, report->format());
  }
  if (!o.freeze.empty()) {
    std::vector<std::string> frozen = freeze_layers(model, o.freeze, report ? &*report : nullptr);
    run->setup_notes +=
        fmt::format("  frozen:        {} ({} of {} params train)\n", fmt::join(frozen, ", "),
                    with_commas(model.trainable_param_count()), with_commas(model.param_count()));
  }
  run->optimizer = make_optimizer(o.optimizer, o.lr, o.momentum, o.nesterov);
  parse_on_nan(o.on_nan);  // refuse a bad value before any work

  run->info.preprocessing = data.preprocessing;
  run->info.class_names = train_set.class_names;
  run->info.training = {{"data", data.splits.name},
                        {"options", train_options_json(o)},
                        {"convkit_version", kVersion},
                        {"threads", threads()},
                        {"gemm", gemm_backend_name(gemm_backend())},
                        {"blas_kernels", blas_kernels()}};
  return run;
}

std::string TrainingRun::header() const {
  const TrainOptions& o = options;
  std::string s = fmt::format("Training {} on {}\n", o.model, data->splits.name);
  s += data->describe();
  s += fmt::format("  model:         {} params, {:.1f} MFLOP/image forward\n",
                   with_commas(model.param_count()), model.flops() / 1e6);
  s += setup_notes;
  s += fmt::format("  optimizer:     {}; loss {}{}\n", optimizer->describe(),
                   loss_name(model.loss()),
                   model.head() != Activation::linear ? " (from logits)" : "");
  s += fmt::format("  run:           {} epoch{}, batch {}, seed {}, {} thread{}, gemm {}\n",
                   o.epochs, o.epochs == 1 ? "" : "s", o.batch, o.seed, threads(),
                   threads() == 1 ? "" : "s", gemm_description());
  return s;
}

namespace {

// The input statistics a pretrained base was trained on, when its file records them.
std::optional<InputStats> base_input_stats(const std::string& path) {
  SafeTensors file = read_safetensors(path);
  auto it = file.metadata.find("training");
  if (it == file.metadata.end()) return std::nullopt;
  nlohmann::json training = nlohmann::json::parse(it->second, nullptr, false);
  if (training.is_discarded() || !training.contains("input_stats")) return std::nullopt;
  return InputStats::from_json(training["input_stats"]);
}

std::unique_ptr<RunRecorder> make_recorder(TrainingRun& run, const ExecuteOptions& how) {
  const TrainOptions& o = run.options;
  const PreparedData& data = *run.data;
  RunInfo info;
  info.class_names = data.train_set().class_names;
  info.epochs = o.epochs;
  info.model_info = &run.info;
  info.config = {{"data", data.splits.name},
                 {"preprocessing", data.preprocessing.describe()},
                 {"training_samples", data.train->samples()},
                 {"validation_samples", data.validation ? data.validation->samples() : 0},
                 {"batch", o.batch},
                 {"epochs", o.epochs},
                 {"seed", o.seed},
                 {"options", train_options_json(o)}};
  // As configured: a resumed run's restored optimizer may carry a rate the
  // NaN guard has lowered since.
  const std::unique_ptr<Optimizer> configured =
      make_optimizer(o.optimizer, o.lr, o.momentum, o.nesterov);
  info.config["optimizer"] = configured->describe();
  info.config["learning_rate"] = std::stod(fmt::format("{}", configured->learning_rate));
  info.pretrained = !o.init_from.empty();
  if (info.pretrained) info.reference_input_stats = base_input_stats(o.init_from);
  std::optional<RunRecord> previous;
  if (how.resuming && !how.run_dir.empty()) {
    try {
      previous = read_run_dir(how.run_dir);
    } catch (const Error&) {
      // Nothing usable there yet: the record starts at the resume point.
    }
  }
  if (how.resuming) {
    // Each resume, where the run continued from; those at or past this one's
    // position were of steps the record now drops and does again.
    nlohmann::json resumes = nlohmann::json::array();
    if (previous && previous->config.contains("resumed") && previous->config["resumed"].is_array())
      for (const nlohmann::json& r : previous->config["resumed"])
        if (r.is_object() && std::pair(r.value("epoch", 1) - 1, r.value("step", int64_t{0})) <
                                 std::pair(how.start.epoch, how.start.step))
          resumes.push_back(r);
    resumes.push_back(
        {{"checkpoint", how.resumed_from}, {"epoch", how.start.epoch + 1}, {"step", how.start.step}});
    info.config["resumed"] = resumes;
  }
  return std::make_unique<RunRecorder>(run.model, *run.optimizer, info, how.run_dir,
                                       std::move(previous));
}

// Keeps each finished epoch, so a run the guard stops still reports them.
struct EpochCollector : TrainObserver {
  std::vector<EpochResult> epochs;
  void on_epoch_end(const EpochResult& r, int) override { epochs.push_back(r); }
};

}  // namespace

double TrainingOutcome::seconds() const {
  double s = 0;
  for (const EpochResult& r : epochs) s += r.seconds;
  return s;
}

TrainingOutcome execute_training(TrainingRun& run, const ExecuteOptions& how) {
  const TrainOptions& o = run.options;
  TrainSetup setup;
  setup.model = &run.model;
  setup.optimizer = run.optimizer.get();
  setup.train = run.data->train.get();
  setup.validation = run.data->validation.get();
  setup.test = run.data->test.get();
  setup.epochs = o.epochs;
  setup.start = how.start;
  setup.seed = o.seed;

  std::unique_ptr<RunRecorder> recorder;
  if (how.record || !how.run_dir.empty()) recorder = make_recorder(run, how);
  if (recorder && how.resuming) recorder->resume(*run.data->train, how.start, how.run_record);
  TrainGuard guard(run.model, *run.optimizer, parse_on_nan(o.on_nan), how.warnings,
                   how.checkpoint_dir, !recorder);
  std::optional<CheckpointWriter> checkpoints;
  if (!how.checkpoint_dir.empty())
    checkpoints.emplace(how.checkpoint_dir, o.keep_checkpoints, o.checkpoint_every, run.model,
                        *run.optimizer, run.info, train_options_json(o), how.history);
  if (checkpoints && recorder)
    checkpoints->before_save([r = recorder.get()] { return r->checkpoint_state(); });
  EpochCollector collector;
  // Order matters: the recorder sees a NaN step before the guard acts on it,
  // and the guard acts before the checkpoint writer (a rolled-back step is
  // never saved).
  if (how.progress) setup.observers.push_back(how.progress);
  if (recorder) setup.observers.push_back(recorder.get());
  setup.observers.push_back(&guard);
  if (checkpoints) setup.observers.push_back(&*checkpoints);
  setup.observers.push_back(&collector);

  TrainingOutcome out;
  try {
    train(setup);
  } catch (const TrainingStopped& e) {
    out.stopped = e.what();
  } catch (const Interrupted& e) {
    // The recorder and the checkpoint writer have written (on_stop): say where.
    std::string message = e.what();
    if (!how.run_dir.empty())
      message += fmt::format("\n  the run is recorded in {} (marked {})", how.run_dir,
                             interrupt_signal() == SIGTERM ? "terminated" : "interrupted");
    if (checkpoints) message += fmt::format("\n  checkpoint: {}", checkpoints->last_saved());
    throw Interrupted(message);
  } catch (const Error& e) {
    if (recorder) recorder->finish(e.what());
    throw;
  }
  if (recorder) {
    recorder->finish(out.stopped);
    out.record = recorder->record();
    out.input_stats = out.record->input_stats;
  } else {
    out.input_stats = guard.input_stats();
  }
  out.epochs = std::move(collector.epochs);
  out.warnings = guard.warnings();
  out.history = how.history;
  for (const EpochResult& r : out.epochs) out.history.push_back(epoch_json(r));
  return out;
}

ModelInfo trained_model_info(const TrainingRun& run, const TrainingOutcome& outcome) {
  ModelInfo info = run.info;
  info.training["epochs"] = outcome.history;
  // What the inputs looked like, so predict/evaluate can check new inputs against it.
  info.training["input_stats"] = outcome.input_stats.to_json();
  return info;
}

}  // namespace ck
