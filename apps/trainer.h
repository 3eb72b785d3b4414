#pragma once
// Trainer: the training loop, as Keras's fit() runs it, shared by every command
// that trains (train, repro, lr-find, overfit-batch...).
//
//   for each epoch: for each batch: forward -> loss -> backward -> optimizer step
//                   then validation and test evaluation
//
// Randomness for dropout comes from Rng::derive(seed, epoch, step), and the
// shuffle from the loader's own derivation, so every step of a run can be
// replayed from (seed, epoch, step) alone.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "layers/model.h"
#include "optim/optimizer.h"

namespace ck {

struct EvalResult {
  LossStats stats;
  std::vector<int64_t> confusion;  // K*K, row = true class, column = predicted
  int classes = 0;
  double loss() const { return stats.mean(); }
  double accuracy() const { return stats.accuracy(); }
  // Recall of class k (NaN when it has no samples).
  double recall(int k) const;
};

// Runs the model over every batch of `loader` (inference mode).
EvalResult evaluate(Model& model, Loader& loader);

struct StepInfo {
  int epoch = 0;         // 0-based
  int64_t step = 0;      // 0-based, within the epoch
  int64_t steps = 0;     // per epoch
  LossStats batch;       // this batch
  LossStats running;     // epoch so far
  double seconds = 0;    // since the epoch began
  int64_t images = 0;    // since the epoch began
  bool skipped = false;  // an observer vetoed this step's update (see on_gradients)
  // Per model layer, the sum of squares of its parameters' gradients (0 for
  // a layer without any): computed once per step, after backward, for every
  // observer (the run record's gradient norms, the NaN guard's check).
  std::vector<double> layer_grad_squares;
};

struct EpochResult {
  int epoch = 0;  // 0-based
  LossStats train;
  std::optional<EvalResult> validation, test;
  double seconds = 0;
  double images_per_second = 0;
  float learning_rate = 0;
  // False for regression (mean_squared_error): LossStats count no correct answers there.
  bool has_accuracy = true;
};

// Where a run starts: the beginning, or where a checkpoint left off.
struct TrainPosition {
  int epoch = 0;       // 0-based epoch to run next
  int64_t step = 0;    // batches of that epoch already done
  LossStats running;   // their statistics
  int64_t images = 0;  // their images
};

// "after epoch 2", "at epoch 3, step 37 of 188": where a run stopped before `next`.
std::string describe_position(const TrainPosition& next, int64_t steps_per_epoch);

// Hooks into the loop. Every method has a default that does nothing.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_epoch_begin(int epoch, int epochs, int64_t steps) {}
  // After backward, before the optimizer step: the model's activations
  // (Model::activation, but for Model::activation_overwritten ones) and
  // gradients (Param::grad, Model::activation_grad) are this batch's, and step.batch holds its loss. Return false to skip the
  // update (the NaN guard does, after restoring a good state); a skipped
  // batch does not count in the epoch's figures.
  virtual bool on_gradients(Model& model, const Batch& batch, const StepInfo& step) { return true; }
  virtual void on_step_end(const StepInfo& step) {}
  virtual void on_epoch_end(const EpochResult& result, int epochs) {}
  // Ctrl-C (apps/interrupt.h): the run stops here, between two steps or two
  // epochs, and `next` is where a resume would start. The last chance to
  // write what must be written; train() then throws Interrupted.
  virtual void on_stop(const TrainPosition& next) {}
};

struct TrainSetup {
  Model* model = nullptr;
  Optimizer* optimizer = nullptr;
  Loader* train = nullptr;
  Loader* validation = nullptr;  // optional
  Loader* test = nullptr;        // optional
  int epochs = 1;
  TrainPosition start;
  uint64_t seed = 0;
  std::vector<TrainObserver*> observers;
};

// Per-epoch figures as JSON (loss, accuracy, val_*, test_*, seconds, ...),
// the form used by checkpoints, model files and run directories; no
// accuracies for regression.
nlohmann::json epoch_json(const EpochResult& result);
nlohmann::json loss_stats_json(const LossStats& stats);
LossStats loss_stats_from_json(const nlohmann::json& j);

// One training step's math before the update: forward (training mode), loss,
// backward. x (N,...), targets (N) or (N,K), weights (N) or null; dout is the
// caller's scratch (N,K), reused across steps. Ensures: every Param::grad holds
// this batch's gradient; returns the batch's loss statistics. The optimizer
// step is the caller's (observers may veto it).
LossStats forward_backward(Model& model, const Tensor& x, const float* targets,
                           const float* weights, const ForwardContext& ctx, Tensor& dout);

// Requires: model built, initialized and compiled.
// Ensures: returns one result per epoch trained. After Ctrl-C the step in
// progress finishes (on an epoch's last step, the epoch's evaluation too), the
// observers' on_stop runs and Interrupted is thrown; a run whose last step
// has finished completes.
std::vector<EpochResult> train(const TrainSetup& setup);

}  // namespace ck
