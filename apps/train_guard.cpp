#include "apps/train_guard.h"

#include <fmt/format.h>

#include <cmath>

#include "apps/checkpoint.h"
#include "apps/diagnose_rules.h"
#include "apps/input_stats.h"
#include "apps/nonfinite.h"

namespace ck {

namespace {

constexpr float kRollbackShrink = 0.1f;  // dlib's dnn_trainer default learning_rate_shrink_factor
constexpr int kMaxRollbacks = 5;
// The loss "rose" before a NaN when the last finite loss was this many times
// the lowest seen: the signature of steps too large (Smith's LR range test
// stops at 4x the best loss).
constexpr double kDivergedFactor = 4.0;
// A learning rate this far above the optimizer's default is suspect on its own.
constexpr double kHighLrFactor = 100.0;

float default_lr(const Optimizer& o) { return o.name() == "sgd" ? 0.01f : 0.001f; }

bool gradients_finite(const StepInfo& step) {
  double sum = 0;
  for (double squares : step.layer_grad_squares) sum += squares;
  return std::isfinite(sum);
}

}  // namespace

OnNan parse_on_nan(const std::string& name) {
  if (name == "stop") return OnNan::stop;
  if (name == "rollback") return OnNan::rollback;
  if (name == "continue") return OnNan::keep_going;
  fail("--on-nan {}: choose stop, rollback or continue", name);
}

std::string on_nan_name(OnNan on_nan) {
  switch (on_nan) {
    case OnNan::stop:
      return "stop";
    case OnNan::rollback:
      return "rollback";
    case OnNan::keep_going:
      return "continue";
  }
  return "?";
}

TrainGuard::TrainGuard(Model& model, Optimizer& optimizer, OnNan on_nan, std::FILE* warnings,
                       std::string checkpoint_dir, bool measure_inputs)
    : model_(model),
      optimizer_(optimizer),
      on_nan_(on_nan),
      out_(warnings),
      checkpoint_dir_(std::move(checkpoint_dir)),
      params_(model.params()),
      measure_inputs_(measure_inputs) {}

void TrainGuard::warn(const std::string& message) {
  warnings_.push_back(message);
  if (!out_) return;
  std::fflush(stdout);
  fmt::print(out_, "convkit: warning: {}\n", message);
  std::fflush(out_);
}

void TrainGuard::first_step_checks(const Batch& batch, const StepInfo& step) {
  if (std::optional<Finding> f = check_input_scale(input_stats_of(batch.x)))
    warn(fmt::format("{}; {}", f->title, f->fix));
  const int64_t K = model_.output_shape()[0];
  const int classes =
      model_.loss() == LossKind::mean_squared_error ? 0 : (K == 1 ? 2 : static_cast<int>(K));
  std::vector<int64_t> counts(classes, 0);
  const int64_t ts = batch.size() ? static_cast<int64_t>(batch.targets.size()) / batch.size() : 1;
  for (int64_t i = 0; i < batch.size() && classes > 0; ++i) {
    const auto label = static_cast<int64_t>(batch.targets[i * ts]);
    if (label >= 0 && label < classes) counts[label]++;
  }
  double weights = 0;  // the loss is sum(w l) / n: chance scales with the mean weight
  for (int64_t i = 0; i < batch.size(); ++i)
    weights += batch.weights.empty() ? 1.0 : batch.weights[i];
  const double weight_mean = batch.size() ? weights / static_cast<double>(batch.size()) : 1.0;
  if (std::optional<Finding> f = check_initial_loss(step.batch.mean(), classes,
                                                    loss_name(model_.loss()), counts, weight_mean))
    warn(fmt::format("{}; {}", f->title, f->fix));
}

void TrainGuard::snapshot(const std::string& where) {
  const std::vector<Param*>& params = params_;
  optimizer_.prepare(params);
  good_.params.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) good_.params[i] = params[i]->value.clone();
  std::vector<std::pair<std::string, Tensor*>> state = optimizer_.state();
  good_.state.resize(state.size());
  for (size_t i = 0; i < state.size(); ++i) good_.state[i] = state[i].second->clone();
  good_.iterations = optimizer_.iterations;
  good_.where = where;
}

std::string TrainGuard::restore() {
  const float lr = optimizer_.learning_rate;
  std::string where = good_.where;
  std::optional<std::string> file;
  if (!checkpoint_dir_.empty()) file = latest_checkpoint(checkpoint_dir_);
  if (file) {
    restore_checkpoint(*file, model_, optimizer_);
    where = "checkpoint " + *file;
  } else {
    for (size_t i = 0; i < params_.size(); ++i) params_[i]->value.copy_from(good_.params[i]);
    std::vector<std::pair<std::string, Tensor*>> state = optimizer_.state();
    for (size_t i = 0; i < state.size() && i < good_.state.size(); ++i)
      state[i].second->copy_from(good_.state[i]);
    optimizer_.iterations = good_.iterations;
  }
  optimizer_.learning_rate = lr * kRollbackShrink;
  return where;
}

std::string TrainGuard::advice(const std::string& pass) const {
  const float lr = optimizer_.learning_rate;
  const float suggested =
      lr > default_lr(optimizer_) ? default_lr(optimizer_) : lr * kRollbackShrink;
  const bool rose = last_finite_loss_ > kDivergedFactor * lowest_loss_;
  std::string evidence = fmt::format("the loss was {} the step before ({} at the start)",
                                     short_number(last_finite_loss_), short_number(initial_loss_));
  if (pass == "input")
    return "clean or impute the data's missing values, as training data must be finite";
  if (rose || pass == "weights" || lr >= kHighLrFactor * default_lr(optimizer_))
    return fmt::format("{}: the learning rate ({}) is too high; try --lr {} or convkit lr-find",
                       evidence, short_number(lr), short_number(suggested));
  return fmt::format(
      "{}: try a lower learning rate (--lr {}), normalized inputs, or convkit lr-find", evidence,
      short_number(suggested));
}

bool TrainGuard::on_gradients(Model& model, const Batch& batch, const StepInfo& step) {
  const double loss = step.batch.mean();
  if (!started_) {
    started_ = true;
    initial_loss_ = last_finite_loss_ = lowest_loss_ = loss;
    if (step.epoch == 0 && step.step == 0) first_step_checks(batch, step);
    if (on_nan_ == OnNan::rollback && std::isfinite(loss)) snapshot("the start of the run");
    measured_epoch_ = step.epoch;
  }
  if (measure_inputs_ && step.epoch == measured_epoch_) inputs_.add(batch.x);
  // The loss first (free); then one pass over the gradients, so that a NaN
  // born in the backward pass is named there and never reaches the weights.
  if (std::isfinite(loss) && gradients_finite(step)) {
    last_finite_loss_ = loss;
    lowest_loss_ = std::min(lowest_loss_, loss);
    return true;
  }
  std::optional<NonFiniteReport> report = locate_nonfinite(model, batch, loss);
  if (!report && std::isfinite(loss)) return true;  // huge but finite gradients: nothing to stop
  std::string what =
      report ? report->describe(step.epoch, step.step)
             : fmt::format("a non-finite loss at epoch {} step {}", step.epoch + 1, step.step + 1);
  const std::string pass = report ? report->pass : "loss";
  if (on_nan_ == OnNan::keep_going) {
    if (!reported_nan_)
      warn(
          fmt::format("{}; training goes on (--on-nan continue), as Keras does "
                      "without TerminateOnNaN",
                      what));
    reported_nan_ = true;
    return true;
  }
  if (on_nan_ == OnNan::stop || pass == "input" || good_.params.empty() ||
      rollbacks_ >= kMaxRollbacks) {
    std::string why = advice(pass);
    if (rollbacks_ >= kMaxRollbacks)
      why = fmt::format("still non-finite after {} rollbacks (learning rate now {}); {}",
                        rollbacks_, short_number(optimizer_.learning_rate), why);
    throw TrainingStopped(fmt::format("{}; {}", what, why));
  }
  const float before = optimizer_.learning_rate;
  const std::string from = restore();
  ++rollbacks_;
  warn(fmt::format("{}; rolled back to {} and lowered the learning rate from {} to {}", what, from,
                   short_number(before), short_number(optimizer_.learning_rate)));
  return false;
}

void TrainGuard::on_epoch_end(const EpochResult& r, int) {
  if (on_nan_ != OnNan::rollback || !checkpoint_dir_.empty()) return;
  const double loss = r.train.mean();
  // Keep only states that are not on their way to diverging.
  if (!std::isfinite(loss)) return;
  if (best_epoch_loss_ > 0 && loss > 2 * best_epoch_loss_) return;
  best_epoch_loss_ = best_epoch_loss_ > 0 ? std::min(best_epoch_loss_, loss) : loss;
  snapshot(fmt::format("the end of epoch {}", r.epoch + 1));
}

}  // namespace ck
