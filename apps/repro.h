#pragma once
// convkit repro: the tutorial experiments of ../shared/EXPERIMENTS.md.
//
// Each experiment replays an article's configuration as written, then a
// real-data twin where the claimed effect can actually show. Every training
// run is a set of `convkit train` options (TrainOptions), prepared and run
// exactly as `convkit train` would (apps/training_run.h), so the broken and
// the fixed run of a pair are two command lines that differ only by the
// lesson, and a user can rerun either. The verdict is computed from the runs'
// own numbers: an experiment states the article's claim, measures, and says
// whether the numbers support it, never the other way round.
//
// Writing an experiment (see apps/repro_000.cpp):
//
//   void raw_pixels(ReproContext& ctx) {
//     TrainOptions broken = ...;                       // the article's setup
//     ReproRun& b = ctx.train("broken: raw 0..255", broken);
//     ReproRun& f = ctx.train("fixed: / 255", fixed);
//     ctx.table(epoch_table("as written", {&b, &f}, {"loss", "accuracy"}));
//     ctx.number("gap", f.test_accuracy() - b.test_accuracy());
//     ctx.check("scaling helps", gap > 0.02, fmt::format("..."));
//   }
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "apps/finding.h"
#include "apps/training_run.h"

namespace ck {

struct ReproOptions {
  bool quick = false;   // seconds per experiment: for tests and demos
  bool full = false;    // also the heavy as-written runs (VGG16 at 224x224)
  uint64_t seed = 42;
  std::string out_dir;  // per-epoch CSVs and a Markdown report, when given
  // Real pretrained weights for an as-written run that starts from a
  // pretrained base (pretrained-preprocessing's VGG16), when the user has them.
  std::string init_from;
};

// A plain table: printed aligned on the terminal, as Markdown in the report.
struct Table {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::string text() const;
  std::string markdown() const;
};

// The `convkit train` command line of `options`: every option that differs
// from the default, as its flag.
std::string train_command(const TrainOptions& options);

// The inputs of the model's first Dense layer (after Flatten); 0 without one.
int64_t first_dense_inputs(const Model& model);

// Twice the largest binomial standard deviation of an accuracy measured on n
// samples (0.5 / sqrt(n)): a difference beyond it is not the draw of the test set.
double accuracy_noise(int64_t n);

// One training run of an experiment.
struct ReproRun {
  std::string label;                  // "broken: raw 0..255"
  TrainOptions options;
  std::unique_ptr<TrainingRun> run;   // the trained model and data, for follow-ups (no optimizer)
  TrainingOutcome outcome;
  std::vector<Finding> findings;      // diagnose() of the run

  // The `convkit train` command that reproduces this run.
  std::string command() const { return train_command(options); }
  int epochs() const { return static_cast<int>(outcome.epochs.size()); }
  // Per-epoch figures (epoch 0-based); NaN when absent (no test split...).
  double figure(const std::string& name, int epoch) const;
  // The last epoch's figure.
  double last(const std::string& name) const { return figure(name, epochs() - 1); }
  // The largest per-epoch figure; infinity when any epoch's is NaN or Inf.
  double peak(const std::string& name) const;
  // The last evaluation of the test split (or validation, or nothing).
  const EvalResult* final_eval() const;
  // Mean recall over classes of final_eval() (balanced accuracy); NaN without one.
  double balanced_accuracy() const;
  // Macro F1 of final_eval(); NaN without one.
  double macro_f1() const;
  // The loss of the first batch, before any update.
  double initial_loss() const;
  // The findings' ids, most severe first ("lr-too-high", ...), or "healthy".
  std::string diagnosis() const;
};

// Per-epoch figures that epoch_table() and ReproRun::figure() know:
//   loss accuracy val_loss val_accuracy test_loss test_accuracy
//   grad_norm (mean global gradient norm over the epoch's steps)
//   capped (share of the epoch's samples past Keras's 16.12 loss cap)
//   seconds
// Columns: epoch, then for each run each figure ("broken loss", ...).
Table epoch_table(const std::string& title, const std::vector<const ReproRun*>& runs,
                  const std::vector<std::string>& figures);

// The result of one experiment, for the report and for tests.
struct ReproCheck {
  std::string claim;     // what the article (or the lesson) says
  bool holds = false;    // what the numbers say
  std::string evidence;  // the numbers, in a sentence
};

struct ExperimentResult {
  std::string id;
  std::map<std::string, double> numbers;  // named measurements
  std::vector<ReproCheck> checks;
  // Each run's findings (diagnose()), by run label, in the order run.
  std::vector<std::pair<std::string, std::vector<Finding>>> diagnoses;
  std::vector<std::string> verdict;       // paragraphs
  std::string markdown;                   // the experiment's section of the report
  double seconds = 0;
  double number(const std::string& name) const;  // NaN when absent
  const ReproCheck* check(const std::string& claim_prefix) const;
  // The findings of the run whose label starts with `label_prefix` (null if none).
  const std::vector<Finding>* findings(const std::string& label_prefix) const;
};

class ReproContext {
 public:
  ReproContext(const ReproOptions& options, std::string id, std::FILE* out);
  ~ReproContext();

  const ReproOptions& options() const { return options_; }
  bool quick() const { return options_.quick; }
  bool full() const { return options_.full; }
  uint64_t seed() const { return options_.seed; }
  // The quick or the full budget.
  template <class T>
  T pick(T quick_value, T full_value) const {
    return quick() ? quick_value : full_value;
  }
  // A directory of this experiment's own (exported images, tables, base
  // models); removed at the end, also when an error or Ctrl-C ends the
  // experiment, unless --out keeps it as <out>/<id>/work.
  const std::string& work_dir();

  // Output: printed, and kept for the Markdown report.
  void heading(const std::string& text);
  void say(const std::string& text);  // a paragraph
  void table(const Table& t);
  void preformatted(const std::string& text);  // as is (a chart); a code block in Markdown

  // Trains one run quietly (one summary line, its command and its
  // diagnosis), and saves it when options.save is set, as `convkit train`
  // does. Runs live until the experiment ends.
  ReproRun& train(const std::string& label, TrainOptions options);

  // Measurements and checks. check() prints "supported:" / "NOT supported:"
  // with the evidence; a check that fails is reported, never hidden.
  void number(const std::string& name, double value);
  bool check(const std::string& claim, bool holds, const std::string& evidence);
  // The closing paragraph, written from the numbers.
  void verdict(const std::string& text);

  ExperimentResult& result() { return result_; }

 private:
  void emit(const std::string& text, const std::string& markdown);
  ReproOptions options_;
  std::FILE* out_;
  std::string work_dir_;
  bool own_work_dir_ = false;
  bool temporary_data_named_ = false;  // the note that work_dir_ goes away was shown
  std::vector<std::unique_ptr<ReproRun>> runs_;
  ExperimentResult result_;
};

struct Experiment {
  const char* id;
  const char* article;  // "000 ex. 1 vs 2"
  const char* lesson;   // one line
  void (*run)(ReproContext& ctx);
};

// Every experiment, in the order of EXPERIMENTS.md.
std::span<const Experiment> experiments();
const Experiment* find_experiment(const std::string& id);

// Runs one experiment, printing to `out`; writes <out_dir>/<id>/*.csv when
// options.out_dir is set. Ctrl-C stops it at the next training step or
// printed line with Interrupted ("repro <id>: ...").
ExperimentResult run_experiment(const Experiment& experiment, const ReproOptions& options,
                                std::FILE* out);

// Train options as the experiments start them: the given data and model,
// Keras defaults (Adam 1e-3, batch 32), the experiment's seed, quiet about
// NaN (--on-nan continue: the runs show what Keras shows).
TrainOptions repro_options(const ReproContext& ctx, const std::string& data,
                           const std::string& model, int epochs);

}  // namespace ck
