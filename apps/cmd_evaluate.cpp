// convkit evaluate: loss, accuracy and the confusion matrix of a saved model
// on a dataset, read through the model's own preprocessing.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <numeric>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/eval_report.h"
#include "apps/inference.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "core/format.h"

namespace ck {

namespace {

struct EvaluateOptions {
  std::string model;
  DataOptions data;
  std::string split = "test";
  bool no_preprocess = false;
};

void run_evaluate(const EvaluateOptions& o, const CLI::App& cmd) {
  LoadedModel saved = load_model(o.model);
  // Read the data the way the model was trained to: its recorded source
  // options, overridden by what the user gave.
  DataOptions d = recorded_data_options(saved);
  if (cmd.count("--data")) d.data = o.data.data;
  if (cmd.count("--label-column")) d.label_column = o.data.label_column;
  if (cmd.count("--image-shape")) d.image_shape = o.data.image_shape;
  if (cmd.count("--on-bad-image")) d.on_bad_image = o.data.on_bad_image;
  d.test_data.clear();
  Preprocessing pre = saved.info.preprocessing;
  std::string skipped;
  if (o.no_preprocess) {
    pre = without_preprocessing(pre, skipped);
    fmt::print(stderr,
               "convkit: warning: --no-preprocess: the model sees the data raw, skipping {}; "
               "its results will not reflect how it was trained\n",
               skipped);
  }
  if (o.split != "test" && o.split != "train")
    fail("--split must be test or train, not {}", o.split);
  SourceOptions source = model_source_options(d, pre);
  // Only the split evaluated: an image folder's other split is not decoded,
  // and a class folder that does not fit is reported in the folder evaluated.
  source.read_splits = o.split == "test" ? SplitsToRead::test : SplitsToRead::train;
  DataSplits splits = load_data(d.data, source);
  for (const std::string& w : splits.warnings) fmt::print(stderr, "convkit: warning: {}\n", w);
  const bool use_test = o.split == "test" && splits.test.has_value();
  Dataset& data = use_test ? *splits.test : splits.train;
  limit_samples(data, o.data.limit);
  if (data.size() == 0) fail("{} holds no samples to evaluate", d.data);

  std::vector<int64_t> all(data.size());
  std::iota(all.begin(), all.end(), 0);
  Loader loader(data, all, 256, pre, false, 0);
  // The inputs as they enter the model (after the saved preprocessing, or raw
  // with --no-preprocess) against the training record, over the first
  // kCheckedBatches batches: enough for stable statistics, cheap next to the forward passes.
  constexpr int kCheckedBatches = 8;
  InputStatsAccumulator entering;
  loader.start_epoch(0);
  Batch batch;
  for (int b = 0; b < kCheckedBatches && loader.next(batch); ++b) entering.add(batch.x);
  check_inputs_against_training(saved, entering.stats());
  EvalResult r = evaluate(saved.model, loader);

  const bool classes = saved.model.loss() != LossKind::mean_squared_error;
  fmt::print("Evaluating {} on {} ({} split, {} samples)\n", o.model, splits.name,
             use_test ? "test" : (o.split == "test" ? "whole, no separate test" : "train"),
             with_commas(data.size()));
  fmt::print("  preprocessing: {}\n", o.no_preprocess ? "none (--no-preprocess)" : pre.describe());
  fmt::print("  loss:          {} ({})\n", metric_text(r.loss()), loss_name(saved.model.loss()));
  if (!classes) return;
  fmt::print("  accuracy:      {:.4f} ({} of {})\n", r.accuracy(), with_commas(r.stats.correct),
             with_commas(r.stats.count));
  double balanced = 0;
  int present = 0;
  for (int k = 0; k < r.classes; ++k) {
    const double recall = r.recall(k);
    if (recall == recall) balanced += recall, ++present;
  }
  if (present) fmt::print("  balanced accuracy (mean recall): {:.4f}\n", balanced / present);
  fmt::print("\n{}", format_confusion(r, saved.info.class_names));
}

}  // namespace

void setup_evaluate(CLI::App& cmd) {
  auto o = std::make_shared<EvaluateOptions>();
  // Two options, not one with two names: CLI11 would mark both REQUIRED and
  // refuse both given ("At Most 1 required but received 2").
  auto given = std::make_shared<std::string>();
  cmd.add_option("model", o->model, "The saved model (.safetensors); or give it after --model");
  cmd.add_option("--model", *given, "The saved model, if not given first (one of the two is needed)");
  cmd.add_option("--data", o->data.data,
                 "Data to evaluate on (default: the data the model was trained on); read with "
                 "the model's own preprocessing");
  cmd.add_option("--split", o->split,
                 "test (the source's test split; the whole source when it has none) or train")
      ->capture_default_str();
  cmd.add_option("--limit", o->data.limit, "Evaluate the first N samples only (0 = all)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--label-column", o->data.label_column, "CSV: the label column");
  cmd.add_option("--image-shape", o->data.image_shape, "CSV rows of pixels: HxWxC");
  add_on_bad_image_option(cmd, o->data.on_bad_image);
  cmd.add_flag("--no-preprocess", o->no_preprocess,
               "Skip the model's scaling, resize and imputation (to reproduce the mistake; says "
               "what it skips)");
  add_compute_options(cmd);
  cmd.callback([o, given, &cmd] {
    o->model = one_model_file(o->model, *given, "evaluate");
    run_evaluate(*o, cmd);
  });
}

}  // namespace ck
