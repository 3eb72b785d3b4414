// RunRecorder across checkpoints: what it writes before each one, and how a
// resumed run takes its record up again (apps/run_recorder.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/run_recorder.h"

namespace ck {

namespace {

// JSON has no NaN (a layer whose update ratio was unmeasurable sums to NaN).
nlohmann::json sums_json(const std::vector<double>& xs) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : xs)
    a.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(fmt::format("{}", x)));
  return a;
}

std::vector<double> sums_of(const nlohmann::json& j, size_t n) {
  std::vector<double> xs(n, 0.0);
  if (!j.is_array() || j.size() != n) return xs;
  for (size_t i = 0; i < n; ++i)
    xs[i] = j[i].is_number() ? j[i].get<double>()
                             : std::strtod(j[i].get<std::string>().c_str(), nullptr);
  return xs;
}

int64_t index_of(int epoch, int64_t step, int64_t steps_per_epoch) {
  return epoch * steps_per_epoch + step;
}

}  // namespace

nlohmann::json RunRecorder::checkpoint_state() {
  if (dirty_) {
    keep_data_figures();
    // The model file is the checkpoint's twin: saving it again would double
    // the cost of each checkpoint. The directory keeps the last epoch's.
    write(false);
  }
  return {{"grad_norm_sums", sums_json(grad_norm_sum_)},
          {"update_ratio_sums", sums_json(update_ratio_sum_)},
          {"grad_steps", grad_steps_},
          {"update_samples", update_samples_},
          {"nonfinite_seen", nonfinite_seen_}};
}

void RunRecorder::resume(Loader& train, const TrainPosition& start, const nlohmann::json& state) {
  resumed_ = true;
  const int64_t spe = train.batches();
  run_.steps_per_epoch = spe;
  run_.batch_size = std::min<int64_t>(train.options().batch_size, train.samples());
  auto before_start = [&](int epoch, int64_t step) {
    return index_of(epoch, step, spe) < index_of(start.epoch, start.step, spe);
  };
  // What the record holds from the checkpoint on was written before a newer
  // checkpoint that the process did not live to write: it is done again.
  std::erase_if(run_.steps, [&](const StepRecord& s) { return !before_start(s.epoch, s.step); });
  std::erase_if(run_.epochs, [&](const EpochRecord& e) { return e.epoch >= start.epoch; });
  std::erase_if(run_.events, [&](const RunEvent& e) { return !before_start(e.epoch, e.step); });
  mark_gap(start, spe);
  epochs_dirty_ = true;

  // The running epoch's sums, as the checkpoint kept them.
  const size_t L = layer_params_.size();
  if (state.is_object() && start.step > 0) {
    grad_norm_sum_ = sums_of(state.value("grad_norm_sums", nlohmann::json()), L);
    update_ratio_sum_ = sums_of(state.value("update_ratio_sums", nlohmann::json()), L);
    grad_steps_ = state.value("grad_steps", int64_t{0});
    update_samples_ = state.value("update_samples", int64_t{0});
    nonfinite_seen_ = state.value("nonfinite_seen", false);
  }

  // The data figures and the probe come from the run's first epoch. Inside
  // it, everything before the checkpoint is read again; after it, only the
  // probe's inputs (the figures are in the record), or the whole epoch when
  // the record has lost them.
  capture_epoch_ = 0;
  int64_t replay_steps = spe;
  if (start.epoch == 0) {
    run_.input_stats = InputStats{};
    run_.label_counts.clear();
    run_.weight_mean = 1;
    capture_inputs_ = true;
    replay_steps = start.step;
  } else {
    capture_inputs_ = run_.input_stats.samples == 0;
  }
  if (replay_steps == 0) return;
  train.start_epoch(0);
  Batch batch;
  for (int64_t step = 0; step < replay_steps && train.next(batch); ++step) {
    capture_data(batch);
    if (!capture_inputs_ && probe_full()) break;
  }
  if (start.epoch > 0 && capture_inputs_) {
    // That epoch has ended: its figures are final.
    if (!input_stats_.empty()) run_.input_stats = input_stats_.stats();
    if (!label_counts_.empty()) run_.label_counts = label_counts_;
    if (weight_count_ > 0) run_.weight_mean = weight_sum_ / weight_count_;
    capture_inputs_ = false;
  }
}

// Steps the record lacks before the resume point (its directory was lost,
// or written by a convkit that recorded only at epoch ends) cannot be
// measured again: say so where they are missing rather than close the gap.
void RunRecorder::mark_gap(const TrainPosition& start, int64_t spe) {
  const int64_t next = index_of(start.epoch, start.step, spe);
  const int64_t first_missing =
      run_.steps.empty() ? 0 : index_of(run_.steps.back().epoch, run_.steps.back().step, spe) + 1;
  if (first_missing >= next) return;
  const int64_t last_missing = next - 1;
  auto position = [&](int64_t i) {
    return fmt::format("epoch {}, step {}", i / spe + 1, i % spe + 1);
  };
  RunEvent e{"gap", static_cast<int>(first_missing / spe), first_missing % spe,
             fmt::format("iterations {}-{} ({} to {}) are not recorded: the run was resumed from a "
                         "checkpoint past the end of its record",
                         first_missing + 1, last_missing + 1, position(first_missing),
                         position(last_missing))};
  e.detail = {{"first_iteration", first_missing + 1}, {"last_iteration", last_missing + 1}};
  run_.events.push_back(e);
  // The loss and norms before any update were never seen.
  if (first_missing == 0) {
    run_.initial_loss = std::numeric_limits<double>::quiet_NaN();
    run_.initial_grad_norms.clear();
    run_.initial_param_norms.clear();
  }
  dirty_ = true;
}

}  // namespace ck
