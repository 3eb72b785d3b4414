#pragma once
// TrainGuard: the live checks of `convkit train`, always on.
//
// At the first step (before any update) it warns, on stderr as
// "convkit: warning: ...", when the inputs look unnormalized or the initial
// loss is far from what an untrained model scores (ln K): the two cheapest
// early signs of a broken run (Karpathy's recipe, CS231n).
//
// At every step it checks the loss and the gradients (one pass over them,
// under 1% of a step); when a NaN or Inf appears it names the first place it
// came from (apps/nonfinite.h), then either stops
// the run with that evidence (OnNan::stop, like Keras's TerminateOnNaN) or
// restores the last good state and divides the learning rate by 10
// (OnNan::rollback, like dlib's dnn_trainer). The last good state is the
// newest checkpoint of `checkpoint_dir` when there is one, else a copy in
// memory taken at the start and at each epoch end whose loss was finite.
//
// With measure_inputs, it also measures the inputs of the first epoch it
// sees, for the model file's training record (InputStats, apps/input_stats.h).
#include <cstdio>
#include <string>
#include <vector>

#include "apps/input_stats.h"
#include "apps/trainer.h"
#include "core/error.h"

namespace ck {

// stop: end the run with the evidence (Keras's TerminateOnNaN);
// rollback: restore the last good state, learning rate / 10 (dlib);
// keep_going: warn once, naming where it began, and train on with NaN as
// Keras does without TerminateOnNaN (the tutorial experiments show that).
enum class OnNan { stop, rollback, keep_going };
OnNan parse_on_nan(const std::string& name);
std::string on_nan_name(OnNan on_nan);

// What the guard throws to stop a run; the message carries the evidence.
struct TrainingStopped : Error {
  using Error::Error;
};

class TrainGuard : public TrainObserver {
 public:
  TrainGuard(Model& model, Optimizer& optimizer, OnNan on_nan, std::FILE* warnings = stderr,
             std::string checkpoint_dir = {}, bool measure_inputs = false);
  bool on_gradients(Model& model, const Batch& batch, const StepInfo& step) override;
  void on_epoch_end(const EpochResult& result, int epochs) override;

  // The warnings printed so far, without the "convkit: warning: " prefix.
  const std::vector<std::string>& warnings() const { return warnings_; }
  int rollbacks() const { return rollbacks_; }
  // The inputs of the first epoch seen (empty unless measure_inputs).
  InputStats input_stats() const { return inputs_.stats(); }

 private:
  void first_step_checks(const Batch& batch, const StepInfo& step);
  void warn(const std::string& message);
  void snapshot(const std::string& where);
  std::string restore();  // returns where the restored state came from
  std::string advice(const std::string& pass) const;

  Model& model_;
  Optimizer& optimizer_;
  OnNan on_nan_;
  std::FILE* out_;
  std::string checkpoint_dir_;
  std::vector<Param*> params_;
  std::vector<std::string> warnings_;
  bool started_ = false;
  bool reported_nan_ = false;  // keep_going: the first NaN was reported
  double initial_loss_ = 0, last_finite_loss_ = 0, lowest_loss_ = 0;
  int rollbacks_ = 0;
  bool measure_inputs_;
  int measured_epoch_ = -1;
  InputStatsAccumulator inputs_;

  struct Snapshot {
    std::vector<Tensor> params, state;
    int64_t iterations = 0;
    std::string where;
  } good_;
  double best_epoch_loss_ = 0;
};

}  // namespace ck
