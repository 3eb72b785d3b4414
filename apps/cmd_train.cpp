// convkit train: train a model on a dataset, Keras fit() style.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/commands.h"
#include "apps/eval_report.h"
#include "apps/interrupt.h"
#include "apps/progress.h"
#include "apps/training_run.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/parallel.h"

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

// Two records of one run's options: a resume may raise --epochs (and records
// written before resume was left out of them hold --resume).
bool same_run(nlohmann::json a, nlohmann::json b) {
  for (nlohmann::json* options : {&a, &b})
    if (options->is_object()) options->erase("epochs"), options->erase("resume");
  return a == b;
}

// A run directory holds one run. A fresh run refuses one that another run
// wrote (its plots and report would stay beside the new record, drawing the
// old run); a resumed run continues its own record there.
void check_run_dir(const TrainOptions& o, const std::optional<Checkpoint>& resumed) {
  if (o.run_dir.empty()) return;
  std::error_code ec;
  if (std::filesystem::exists(o.run_dir, ec) && !std::filesystem::is_directory(o.run_dir, ec))
    fail("--run-dir {} is a file, not a folder; choose a folder", o.run_dir);
  const std::vector<std::string> found = run_files_in(o.run_dir);
  if (found.empty()) return;
  if (!resumed)
    fail("--run-dir {} already holds another run's files ({}); choose an empty folder, or delete "
         "that one first (to continue a run in its folder, resume it: convkit train --resume "
         "CHECKPOINT-DIR)",
         o.run_dir, fmt::join(found, ", "));
  RunRecord record;
  try {
    record = read_run_dir(o.run_dir);
  } catch (const Error&) {
    return;  // unreadable: the resumed run's record starts over there
  }
  const nlohmann::json recorded =
      record.config.contains("options") ? record.config.at("options") : nlohmann::json();
  if (!same_run(recorded, resumed->options))
    fail("--resume {}: the run's --run-dir {} now holds another run's record (model {}); move "
         "that folder away, then resume again",
         o.resume, o.run_dir, record.model_spec);
}

// How to go on after Ctrl-C. --save is left unwritten: a partly trained
// model under the name the finished one would have looks finished.
std::string what_next_after_interrupt(const TrainOptions& o, const std::string& checkpoint_dir,
                                      const CLI::App& cmd) {
  std::string s;
  if (checkpoint_dir.empty())
    s += "\n  the run cannot be resumed: it wrote no checkpoints (--checkpoint-dir)";
  else
    s += fmt::format("\n  resume with: convkit train --resume {}{}", shell_word(checkpoint_dir),
                     cmd.count("--threads") ? fmt::format(" --threads {}", threads()) : "");
  if (!o.save.empty())
    s += fmt::format("\n  --save {} was not written: the model is only partly trained{}", o.save,
                     checkpoint_dir.empty() ? "" : " (the resumed run writes it)");
  return s;
}

void save_if_asked(TrainingRun& run, const TrainingOutcome& outcome) {
  const std::string& path = run.options.save;
  if (path.empty()) {
    // --run-dir keeps one in the record; otherwise say so, or a first run ends
    // and the user looks for a model file that was never written.
    const std::string recorded =
        (std::filesystem::path(run.options.run_dir) / "model.safetensors").string();
    if (!run.options.run_dir.empty() && std::filesystem::exists(recorded))
      fmt::print("  saved:         {} (convkit predict --model {} FILES)\n", recorded, recorded);
    else
      fmt::print("  not saved:     the model was not kept (train with --save FILE.safetensors)\n");
    return;
  }
  save_model(path, run.model, trained_model_info(run, outcome));
  fmt::print("  saved:         {} (convkit predict --model {} FILES)\n", path, path);
}

void run_train(TrainOptions o, const CLI::App& cmd) {
  std::optional<Checkpoint> resumed = resume_options(o, cmd);
  if (!resumed && !o.checkpoint_dir.empty()) require_no_checkpoints(o.checkpoint_dir);
  check_run_dir(o, resumed);
  // Before the training, not after it: a typo in --save's folder would
  // otherwise cost the whole run.
  if (!o.save.empty()) check_writable_path(o.save);
  std::unique_ptr<TrainingRun> run = prepare_training(o);
  ExecuteOptions how;
  how.checkpoint_dir = resumed ? o.resume : o.checkpoint_dir;
  how.run_dir = o.run_dir;
  how.resuming = resumed.has_value();
  if (resumed) {
    Checkpoint c = restore_checkpoint(resumed->path, run->model, *run->optimizer);
    how.start = c.position;
    how.history = c.history;
    how.run_record = c.run_record;
    how.resumed_from = resumed->path;
  }

  fmt::print("{}", run->header());
  if (resumed)
    fmt::print("  resuming:      {} (epoch {}, step {})\n", resumed->path, how.start.epoch + 1,
               how.start.step);
  std::fflush(stdout);
  if (how.start.epoch >= o.epochs) {
    // The run was stopped after its last checkpoint but before it finished
    // (e.g. before --save): finish it without training.
    fmt::print("\nThe run had already trained its {} epochs; pass a larger --epochs to train "
               "further.\n",
               how.start.epoch);
    TrainingOutcome nothing;
    nothing.history = how.history;
    save_if_asked(*run, nothing);
    return;
  }

  ProgressBar progress(stdout, run->has_accuracy());
  how.progress = &progress;
  TrainingOutcome out;
  try {
    out = execute_training(*run, how);
  } catch (const Interrupted& e) {
    throw Interrupted(e.what() + what_next_after_interrupt(o, how.checkpoint_dir, cmd));
  }
  if (!out.stopped.empty()) fail("{}", out.stopped);

  const EpochResult& last = out.epochs.back();
  auto metrics = [&](const LossStats& s) {
    return fmt::format("loss {}{}", metric_text(s.mean()),
                       run->has_accuracy() ? fmt::format(", accuracy {:.4f}", s.accuracy()) : "");
  };
  fmt::print("\nTrained {} epoch{} in {} ({:.0f} img/s training).\n", out.epochs.size(),
             out.epochs.size() == 1 ? "" : "s", format_duration(out.seconds()),
             run->data->train->samples() * out.epochs.size() / std::max(out.seconds(), 1e-9));
  fmt::print("  final train:   {}\n", metrics(last.train));
  if (last.validation) fmt::print("  validation:    {}\n", metrics(last.validation->stats));
  if (last.test) fmt::print("  test:          {}\n", metrics(last.test->stats));
  save_if_asked(*run, out);
  if (last.test && run->has_accuracy())
    fmt::print("\n{}", format_confusion(*last.test, run->data->train_set().class_names));
  if (!o.run_dir.empty())
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
