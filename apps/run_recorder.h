#pragma once
// RunRecorder: a TrainObserver that measures a run into a RunRecord (see
// apps/run_record.h), in memory, and optionally into a run directory that it
// rewrites at every epoch end and before every checkpoint (checkpoint_state),
// so the record on disk always reaches at least as far as the newest
// checkpoint: a run killed at any point and resumed continues its record
// with nothing missing and nothing counted twice.
//
// Per step it costs one pass over the gradients (their norms) and, on one
// step in kUpdateSampleEvery-th of an epoch, a copy of the weights (update
// ratios). Per epoch it runs the probe: an inference pass over up to 512
// training inputs captured in the first epoch (apps/layer_health.h).
//
//   RunRecorder recorder(model, optimizer, {class_names, config, epochs});
//   setup.observers.push_back(&recorder);
//   train(setup);
//   std::vector<Finding> findings = diagnose(recorder.record());
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/model_file.h"
#include "apps/run_record.h"
#include "apps/trainer.h"
#include "data/loader.h"

namespace ck {

// What the recorder cannot see from inside the loop.
struct RunInfo {
  std::vector<std::string> class_names;              // empty for regression
  // Options, data, preprocessing...; "optimizer" and "learning_rate" default
  // to the optimizer's as given.
  nlohmann::json config = nlohmann::json::object();
  int epochs = 0;                                    // planned
  bool pretrained = false;                           // weights imported (--init-from)
  std::optional<InputStats> reference_input_stats;   // the pretrained base's inputs, if known
  const ModelInfo* model_info = nullptr;             // to save the model in the directory
};

class RunRecorder : public TrainObserver {
 public:
  // `dir` empty: memory only. `resumed`: the record of a run continued from a
  // checkpoint (read_run_dir); resume() then cuts it at the resume point.
  RunRecorder(Model& model, Optimizer& optimizer, RunInfo info, std::string dir = {},
              std::optional<RunRecord> resumed = std::nullopt);

  bool on_gradients(Model& model, const Batch& batch, const StepInfo& step) override;
  void on_step_end(const StepInfo& step) override;
  void on_epoch_end(const EpochResult& result, int epochs) override;
  // Marks the run interrupted where it stopped and writes the directory.
  void on_stop(const TrainPosition& next) override;

  // A run resumed at `start` from a checkpoint whose run_record is `state`
  // (what checkpoint_state returned then). Drops what the record holds from
  // `start` on (written just before a checkpoint the kill prevented), marks
  // a gap event where it ends before `start`, and re-reads the first epoch's
  // batches the data figures and the probe need from `train` (which yields
  // the same batches for the same seed, epoch and step). Call before train().
  void resume(Loader& train, const TrainPosition& start, const nlohmann::json& state);
  // Called just before a checkpoint is written: writes the directory if the
  // record changed since, and returns the running epoch's sums (gradient
  // norms, update ratios) for the checkpoint to keep.
  nlohmann::json checkpoint_state();

  // Marks the run finished, or stopped with the reason, and writes the directory.
  void finish(const std::string& stopped_because = {});
  const RunRecord& record() const { return run_; }

 private:
  void start(const Batch& batch, const StepInfo& step);
  void capture_data(const Batch& batch);
  bool probe_full() const { return probe_capacity_ > 0 && probe_size_ >= probe_capacity_; }
  void keep_data_figures();
  void mark_gap(const TrainPosition& start, int64_t steps_per_epoch);
  void close(const std::string& status);
  // with_model false: the record alone (mid-epoch, before a checkpoint).
  void write(bool with_model = true);

  Model& model_;
  Optimizer& optimizer_;
  RunInfo info_;
  std::string dir_;
  RunRecord run_;
  bool started_ = false, resumed_ = false, capture_inputs_ = true;
  bool dirty_ = false;  // the record changed since the directory was written
  // The epoch files need writing: an epoch ended, or a resume cut the record.
  bool epochs_dirty_ = true;
  int capture_epoch_ = 0;
  std::vector<std::vector<Param*>> layer_params_;  // per layer
  std::vector<Param*> params_;                     // all, in model order

  // Measured data: input statistics and labels of the first epoch seen.
  InputStatsAccumulator input_stats_;
  std::vector<int64_t> label_counts_;
  double weight_sum_ = 0;  // sample weights of the first epoch (1 each without)
  int64_t weight_count_ = 0;
  // The probe: fixed training inputs, with their targets.
  Tensor probe_;
  int64_t probe_size_ = 0, probe_capacity_ = 0;
  std::vector<float> probe_targets_;

  // This step and this epoch.
  StepRecord pending_;
  bool sampled_ = false;
  std::vector<Tensor> before_;            // weights before a sampled update
  std::vector<double> step_grad_norms_;   // per layer, this step's (summed once it is kept)
  std::vector<double> grad_norm_sum_;     // per layer, over the epoch's kept steps
  std::vector<double> update_ratio_sum_;  // per layer, over sampled steps
  int64_t grad_steps_ = 0, update_samples_ = 0;
  bool nonfinite_seen_ = false;
  float last_learning_rate_ = 0;
};

}  // namespace ck
