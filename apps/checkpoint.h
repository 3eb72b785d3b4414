#pragma once
// Checkpoints: a model file (apps/model_file.h) plus the optimizer's state and
// a "checkpoint" metadata record: where the run stands (epoch, step, running
// figures), the optimizer's step count and learning rate, the per-epoch
// history, and the options the run was started with.
//
// Every source of randomness in training is derived from (seed, epoch, step),
// so restoring the weights, the optimizer state and the position is enough
// for a resumed run to end bit-identical to an uninterrupted one (same seed,
// thread count and GEMM backend).
//
// Files are DIR/ckpt-e<epoch>-s<step>.safetensors, written atomically at each
// epoch's end, every `every_steps` steps when asked, and where Ctrl-C stops
// the run; the newest `keep` are kept.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/model_file.h"
#include "apps/trainer.h"

namespace ck {

class CheckpointWriter : public TrainObserver {
 public:
  // every_steps > 0 also saves every that many steps within an epoch.
  CheckpointWriter(std::string dir, int keep, int64_t every_steps, Model& model,
                   Optimizer& optimizer, const ModelInfo& info, nlohmann::json options,
                   std::vector<nlohmann::json> history = {});
  void on_step_end(const StepInfo& step) override;
  void on_epoch_end(const EpochResult& result, int epochs) override;
  // A checkpoint of the position the run stopped at (mid-epoch too).
  void on_stop(const TrainPosition& next) override;
  // The path of the newest checkpoint written, or empty.
  const std::string& last_saved() const { return last_saved_; }
  // Called before each checkpoint is written (the run recorder writes its
  // directory then, so a kill between the two finds the record ahead of the
  // checkpoint, never behind it); what it returns is kept in the checkpoint
  // as "run_record" (Checkpoint::run_record).
  void before_save(std::function<nlohmann::json()> hook) { before_save_ = std::move(hook); }

 private:
  void save(const TrainPosition& next);
  std::string dir_;
  int keep_;
  int64_t every_steps_;
  Model& model_;
  Optimizer& optimizer_;
  const ModelInfo& info_;
  nlohmann::json options_;
  std::vector<nlohmann::json> history_;
  std::string last_saved_;
  std::function<nlohmann::json()> before_save_;
};

struct Checkpoint {
  std::string path;
  TrainPosition position;
  nlohmann::json options;              // as given to CheckpointWriter
  std::vector<nlohmann::json> history; // epoch_json() of each finished epoch
  int threads = 0;
  std::string gemm;
  nlohmann::json run_record;           // what before_save returned (null without)
};

// For a run that starts afresh (no --resume) in `dir`: throws ck::Error when
// `dir` is not a folder or already holds checkpoints. Another run's
// checkpoints there would mix with the new run's: same names overwritten,
// the rest pruned or resumed as if they were the new run's.
void require_no_checkpoints(const std::string& dir);

// The newest checkpoint in `dir`, or nothing. Throws if dir is not a directory.
std::optional<std::string> latest_checkpoint(const std::string& dir);

// Reads a checkpoint's record without loading weights.
Checkpoint read_checkpoint(const std::string& path);

// Loads the checkpoint's weights into `model` and its state into `optimizer`.
// Requires: the same architecture and optimizer kind as when it was saved.
Checkpoint restore_checkpoint(const std::string& path, Model& model, Optimizer& optimizer);

}  // namespace ck
