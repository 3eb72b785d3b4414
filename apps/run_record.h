#pragma once
// RunRecord: everything convkit measures about one training run, in memory
// (apps/run_recorder.h fills it as the run goes) and on disk as a run
// directory a user can open with any tool:
//
//   run.json            configuration, model layers, label histogram, input
//                       statistics, events (NaN, rollbacks), final confusion
//                       matrix, sample predictions, status
//   steps.csv           one row per step: loss, accuracy, learning rate,
//                       global gradient norm, capped samples
//   epochs.csv          one row per epoch: train / validation / test figures
//   layers.csv          one row per layer per epoch: activation mean / std,
//                       near-zero share, dead ReLU units, parameter and
//                       gradient norms, update-to-weight ratio
//   samples.png         the sample inputs (as they entered the model)
//   model.safetensors   the model (apps/model_file.h), saved every epoch and at a stop
//
// Epochs and steps are 0-based in memory and 1-based in the files, as they
// are printed. A regression run measures no accuracy: its accuracy fields are
// empty (absent in memory). Every file is replaced atomically.
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/input_stats.h"
#include "core/tensor.h"

namespace ck {

// A figure a record does not hold (a layer without parameters, a run without
// validation): NaN, which the JSON files write as null.
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct StepRecord {
  int epoch = 0;
  int64_t step = 0;  // within the epoch
  double loss = 0;
  std::optional<double> accuracy;  // none for regression (RunRecord::has_accuracy)
  double learning_rate = 0;
  double grad_norm = 0;  // L2 norm of every parameter's gradient together
  int64_t capped = 0;    // samples whose loss exceeds Keras's cap (layers/loss.h)
  int64_t samples = 0;
  bool skipped = false;  // the update was vetoed (the NaN guard rolled back)
};

// A layer as the run saw it.
struct LayerInfo {
  std::string name, kind;  // "conv2d_1", "conv2d"
  std::string activation;  // fused or standalone: "relu", "linear", ...
  Shape output_shape;
  int64_t params = 0;
};

// One layer's health at the end of an epoch. Activation figures come from an
// inference pass over a fixed sample of training inputs (the probe); norms
// and ratios are NaN for layers without parameters.
struct LayerHealth {
  double act_mean = 0, act_std = 0;
  double near_zero = 0;       // share of outputs <= 0.05 (fastai's "near zero")
  double dead_fraction = -1;  // ReLU layers: units never positive over the probe; -1 otherwise
  int64_t units = 0;          // output channels or units
  double param_norm = 0, grad_norm = 0, update_ratio = 0;  // epoch means; NaN without params
};

// Accuracies are absent for regression, and val_ / test_ figures without that split.
struct EpochRecord {
  int epoch = 0;
  double loss = 0;
  std::optional<double> accuracy;
  std::optional<double> val_loss, val_accuracy, test_loss, test_accuracy;
  double learning_rate = 0, seconds = 0;
  int64_t capped = 0, samples = 0;  // training batches
  double probe_loss = 0;
  std::optional<double> probe_accuracy;
  std::vector<int64_t> predicted;   // probe predictions per class
  std::vector<LayerHealth> layers;  // aligned with RunRecord::layers
};

struct RunEvent {
  std::string kind;  // "non-finite", "rollback", "warning"
  int epoch = 0;
  int64_t step = 0;
  std::string message;
  nlohmann::json detail = nlohmann::json::object();
};

struct Confusion {
  std::string source;  // "test", "validation" or "training sample"
  int classes = 0;
  std::vector<int64_t> counts;  // K*K, row = true class, column = predicted
};

struct RunRecord {
  nlohmann::json config = nlohmann::json::object();  // options, optimizer, data...
  std::string model_spec;
  std::string loss;  // loss_name()
  int classes = 0;   // 0 for regression
  std::vector<std::string> class_names;
  std::vector<LayerInfo> layers;
  std::string optimizer;  // "adam", "sgd"
  int64_t steps_per_epoch = 0, batch_size = 0;
  int epochs_planned = 0;

  // The data as it entered the model, over the first epoch.
  std::vector<int64_t> label_counts;
  bool sample_weights = false;  // batches carried per-sample (class) weights
  // The mean sample weight of the first batch and of the first epoch (1
  // without weights). The loss is sum(w l) / n, so an untrained model scores
  // ln K x the mean weight, not ln K: rules compare like with like.
  double initial_weight_mean = 1, weight_mean = 1;
  InputStats input_stats;
  // The inputs a pretrained base (--init-from) was trained on, when known.
  std::optional<InputStats> reference_input_stats;
  bool pretrained = false;  // started from imported weights (--init-from)
  double initial_loss = 0;  // the first batch's, before any update
  // Per layer at the first step, before any update (NaN for layers without
  // parameters): gradient and weight norms, for problems present from the start.
  std::vector<double> initial_grad_norms, initial_param_norms;

  std::vector<StepRecord> steps;
  std::vector<EpochRecord> epochs;
  std::vector<RunEvent> events;
  std::optional<Confusion> confusion;  // the last epoch's

  // Up to 16 probe inputs as they entered the model, their labels, and the
  // model's predictions for them after the last epoch.
  Tensor samples;
  std::vector<int> sample_labels, sample_predictions;

  // "running", "finished", "stopped: <why>" (the NaN guard, an error) or
  // "interrupted at epoch 1, step 37 of 188" (Ctrl-C; describe_position)
  std::string status = "running";

  bool has_accuracy() const { return classes > 0; }
  // The mean loss of the first / last `fraction` of steps (skipped ones left out).
  double early_loss(double fraction = 0.1) const;
  double late_loss(double fraction = 0.1) const;
};

// Which of the files a run leaves in its directory exist in `dir`: those
// listed above, and plots/ and report.html (convkit plot's and report's
// default outputs); a folder's name ends with '/'. Empty when dir is missing.
std::vector<std::string> run_files_in(const std::string& dir);

// The temporary files (".<name>.tmp.<pid>", core/atomic_file.h) of the
// files above that a killed process left in `dir`.
std::vector<std::string> run_files_in_writing(const std::string& dir);

// Writes every file but the model and samples.png (atomically, one by one);
// with_epochs false: run.json and steps.csv only (the others unchanged).
void write_run_files(const std::string& dir, const RunRecord& run, bool with_epochs = true);
// Throws ck::Error naming the file when `dir` is not a readable run directory.
RunRecord read_run_dir(const std::string& dir);

// The run.json document alone (no steps, epochs or layer rows).
nlohmann::json run_json(const RunRecord& run);

}  // namespace ck
