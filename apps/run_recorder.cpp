#include "apps/run_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "apps/interrupt.h"
#include "apps/layer_health.h"
#include "apps/nonfinite.h"
#include "apps/raster.h"
#include "core/error.h"
#include "core/reduce.h"
#include "data/preview.h"

namespace ck {

namespace {

constexpr int64_t kProbeSamples = 512;              // "measured over the data, not one batch"
constexpr int64_t kProbeBytes = int64_t{64} << 20;  // fewer samples for large images
constexpr int64_t kUpdateSamplesPerEpoch = 16;  // steps per epoch whose update ratio is measured
constexpr int kSamplesShown = 16;

// The shortest decimal that reads back as this float: 0.001, not 0.0010000000474974513.
double shortest(float x) { return std::stod(fmt::format("{}", x)); }

double batch_weight_mean(const Batch& b) {
  if (b.weights.empty() || b.size() == 0) return 1;
  double sum = 0;
  for (int64_t i = 0; i < b.size(); ++i) sum += b.weights[i];
  return sum / static_cast<double>(b.size());
}

// The sum of squares of a layer's parameter values (its gradients' come
// with each step: StepInfo::layer_grad_squares).
double layer_sum_squares(const std::vector<Param*>& params) {
  double sum = 0;
  for (Param* p : params)
    if (!p->value.empty()) sum += sum_squares(p->value.data(), p->value.size());
  return sum;
}

}  // namespace

RunRecorder::RunRecorder(Model& model, Optimizer& optimizer, RunInfo info, std::string dir,
                         std::optional<RunRecord> resumed)
    : model_(model), optimizer_(optimizer), info_(std::move(info)), dir_(std::move(dir)) {
  if (resumed) run_ = std::move(*resumed);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (!std::filesystem::is_directory(dir_, ec))
      fail("--run-dir {}: cannot create the directory", dir_);
    // A run killed while writing its record leaves a temporary file behind
    // (never a partial record file): clear those of the record's files.
    for (const std::string& name : run_files_in_writing(dir_))
      std::filesystem::remove(std::filesystem::path(dir_) / name, ec);
  }
  for (const auto& layer : model_.layers()) layer_params_.push_back(layer->params());
  params_ = model_.params();
  const size_t L = layer_params_.size();
  grad_norm_sum_.assign(L, 0);
  update_ratio_sum_.assign(L, 0);
  run_.layers = describe_layers(model_);
  run_.model_spec = model_.spec();
  run_.loss = loss_name(model_.loss());
  const int64_t K = model_.output_shape()[0];
  run_.classes =
      model_.loss() == LossKind::mean_squared_error ? 0 : (K == 1 ? 2 : static_cast<int>(K));
  run_.class_names = info_.class_names;
  run_.optimizer = optimizer_.name();
  run_.epochs_planned = info_.epochs;
  run_.pretrained = info_.pretrained;
  if (info_.reference_input_stats) run_.reference_input_stats = info_.reference_input_stats;
  run_.config = info_.config;
  if (!run_.config.contains("optimizer")) run_.config["optimizer"] = optimizer_.describe();
  if (!run_.config.contains("learning_rate"))
    run_.config["learning_rate"] = shortest(optimizer_.learning_rate);
  run_.config["params"] = model_.param_count();
  run_.status = "running";
}

void RunRecorder::start(const Batch& batch, const StepInfo& step) {
  started_ = true;
  run_.steps_per_epoch = step.steps;
  // A resumed run's first batch may be an epoch's short last one: resume() set it.
  if (!resumed_) run_.batch_size = step.batch.count;
  // Only the run's very first step is "before any update" (a resumed run's
  // first step is not: resume() restored or marked the initial figures).
  if (step.epoch == 0 && step.step == 0) {
    run_.initial_loss = step.batch.mean();
    run_.initial_weight_mean = batch_weight_mean(batch);
  }
  // A resumed run set these up in resume().
  if (!resumed_) capture_epoch_ = step.epoch;
  last_learning_rate_ = optimizer_.learning_rate;
}

void RunRecorder::capture_data(const Batch& batch) {
  if (capture_inputs_) {
    input_stats_.add(batch.x);
    if (run_.classes > 0) {
      if (label_counts_.empty()) label_counts_.assign(run_.classes, 0);
      const int64_t ts =
          batch.size() ? static_cast<int64_t>(batch.targets.size()) / batch.size() : 1;
      for (int64_t i = 0; i < batch.size(); ++i) {
        const auto label = static_cast<int64_t>(batch.targets[i * ts]);
        if (label >= 0 && label < run_.classes) label_counts_[label]++;
      }
    }
    run_.sample_weights = run_.sample_weights || !batch.weights.empty();
    for (int64_t i = 0; i < batch.size(); ++i)
      weight_sum_ += batch.weights.empty() ? 1.0 : batch.weights[i];
    weight_count_ += batch.size();
  }
  // The probe: the first inputs seen, as they entered the model.
  if (probe_capacity_ == 0) {
    const int64_t sample_bytes = std::max<int64_t>(1, batch.x.row_size() * 4);
    probe_capacity_ = std::max<int64_t>(1, std::min(kProbeSamples, kProbeBytes / sample_bytes));
    Shape shape = batch.x.shape();
    shape[0] = probe_capacity_;
    probe_ = Tensor(shape);
  }
  if (probe_size_ < probe_capacity_ && batch.x.row_size() == probe_.row_size()) {
    const int64_t n = std::min(probe_capacity_ - probe_size_, batch.size());
    std::copy_n(batch.x.data(), n * batch.x.row_size(),
                probe_.data() + probe_size_ * probe_.row_size());
    const int64_t ts = batch.size() ? static_cast<int64_t>(batch.targets.size()) / batch.size() : 1;
    probe_targets_.insert(probe_targets_.end(), batch.targets.begin(),
                          batch.targets.begin() + n * ts);
    probe_size_ += n;
  }
}

bool RunRecorder::on_gradients(Model& model, const Batch& batch, const StepInfo& step) {
  if (!started_) start(batch, step);
  if (step.epoch == capture_epoch_) capture_data(batch);

  StepRecord& s = pending_;
  s = StepRecord{};
  s.epoch = step.epoch;
  s.step = step.step;
  s.loss = step.batch.mean();
  if (run_.has_accuracy()) s.accuracy = step.batch.accuracy();
  s.learning_rate = shortest(optimizer_.learning_rate);
  s.capped = step.batch.capped;
  s.samples = batch.size();
  double total = 0;
  step_grad_norms_.assign(layer_params_.size(), 0.0);
  for (size_t i = 0; i < layer_params_.size(); ++i) {
    if (layer_params_[i].empty()) continue;
    const double sq = step.layer_grad_squares[i];
    total += sq;
    step_grad_norms_[i] = std::sqrt(sq);
  }
  s.grad_norm = std::sqrt(total);
  if (step.epoch == 0 && step.step == 0) {
    run_.initial_grad_norms.clear();
    run_.initial_param_norms.clear();
    for (size_t i = 0; i < layer_params_.size(); ++i) {
      const bool none = layer_params_[i].empty();
      run_.initial_grad_norms.push_back(none ? kNaN : std::sqrt(step.layer_grad_squares[i]));
      run_.initial_param_norms.push_back(none ? kNaN
                                              : std::sqrt(layer_sum_squares(layer_params_[i])));
    }
  }
  if ((!std::isfinite(s.loss) || !std::isfinite(s.grad_norm)) && !nonfinite_seen_) {
    nonfinite_seen_ = true;
    if (std::optional<NonFiniteReport> r = locate_nonfinite(model, batch, s.loss)) {
      RunEvent e{"non-finite", step.epoch, step.step, r->describe(step.epoch, step.step)};
      e.detail = {
          {"pass", r->pass}, {"layer", r->layer}, {"what", r->what}, {"evidence", r->detail}};
      double last_finite = kNaN;
      for (auto it = run_.steps.rbegin(); it != run_.steps.rend(); ++it)
        if (std::isfinite(it->loss)) {
          last_finite = it->loss;
          break;
        }
      if (std::isfinite(last_finite)) e.detail["loss_before"] = last_finite;
      run_.events.push_back(e);
    }
  }
  // Update-to-weight ratios are measured on a few steps per epoch: each needs
  // a copy of the weights from before the update.
  const int64_t every = std::max<int64_t>(1, step.steps / kUpdateSamplesPerEpoch);
  sampled_ = step.step % every == 0;
  if (sampled_) {
    before_.resize(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      before_[i].resize(params_[i]->value.shape());
      before_[i].copy_from(params_[i]->value);
    }
  }
  return true;
}

void RunRecorder::on_step_end(const StepInfo& step) {
  pending_.skipped = step.skipped;
  run_.steps.push_back(pending_);
  dirty_ = true;
  if (step.skipped) {
    RunEvent e{
        "rollback", step.epoch, step.step,
        fmt::format("update skipped, last good state restored; learning rate {} -> {}",
                    short_number(last_learning_rate_), short_number(optimizer_.learning_rate))};
    e.detail = {{"learning_rate_before", shortest(last_learning_rate_)},
                {"learning_rate_after", shortest(optimizer_.learning_rate)}};
    run_.events.push_back(e);
    nonfinite_seen_ = false;  // a NaN after a rollback is news again
    write();
  }
  last_learning_rate_ = optimizer_.learning_rate;
  // A step the NaN guard rolled back counts in no epoch figure: only kept
  // steps add to the layer sums (its row above says it was skipped).
  if (step.skipped) return;
  for (size_t i = 0; i < grad_norm_sum_.size(); ++i) grad_norm_sum_[i] += step_grad_norms_[i];
  ++grad_steps_;
  if (!sampled_) return;
  size_t k = 0;
  for (size_t i = 0; i < layer_params_.size(); ++i) {
    double diff = 0, norm = 0;
    for (size_t j = 0; j < layer_params_[i].size(); ++j, ++k) {
      const Tensor& w = params_[k]->value;
      diff += sum_squares_diff(w.data(), before_[k].data(), w.size());
      norm += sum_squares(before_[k].data(), w.size());
    }
    if (!layer_params_[i].empty()) update_ratio_sum_[i] += norm > 0 ? std::sqrt(diff / norm) : kNaN;
  }
  ++update_samples_;
}

void RunRecorder::on_epoch_end(const EpochResult& r, int) {
  if (!started_) return;
  EpochRecord e;
  e.epoch = r.epoch;
  e.loss = r.train.mean();
  // A regression's LossStats count no correct answers: its accuracy would read 0.
  const bool accuracy = run_.has_accuracy();
  if (accuracy) e.accuracy = r.train.accuracy();
  if (r.validation) e.val_loss = r.validation->loss();
  if (r.validation && accuracy) e.val_accuracy = r.validation->accuracy();
  if (r.test) e.test_loss = r.test->loss();
  if (r.test && accuracy) e.test_accuracy = r.test->accuracy();
  e.learning_rate = shortest(r.learning_rate);
  e.seconds = r.seconds;
  e.capped = r.train.capped;
  e.samples = r.train.count;

  if (r.epoch == capture_epoch_) {
    if (!input_stats_.empty()) run_.input_stats = input_stats_.stats();
    if (!label_counts_.empty()) run_.label_counts = label_counts_;
    if (weight_count_ > 0) run_.weight_mean = weight_sum_ / weight_count_;
  }
  const Tensor probe = probe_.slice(0, probe_size_);
  ProbeResult p = run_probe(model_, probe, probe_targets_, run_.classes);
  e.probe_loss = p.stats.mean();
  if (accuracy) e.probe_accuracy = p.stats.accuracy();
  e.predicted = p.predicted;
  e.layers = p.layers;
  for (size_t i = 0; i < layer_params_.size(); ++i) {
    LayerHealth& h = e.layers[i];
    if (layer_params_[i].empty()) {
      h.param_norm = h.grad_norm = h.update_ratio = kNaN;
      continue;
    }
    h.param_norm = std::sqrt(layer_sum_squares(layer_params_[i]));
    h.grad_norm = grad_steps_ ? grad_norm_sum_[i] / grad_steps_ : kNaN;
    h.update_ratio = update_samples_ ? update_ratio_sum_[i] / update_samples_ : kNaN;
  }
  std::fill(grad_norm_sum_.begin(), grad_norm_sum_.end(), 0.0);
  std::fill(update_ratio_sum_.begin(), update_ratio_sum_.end(), 0.0);
  grad_steps_ = update_samples_ = 0;
  run_.epochs.push_back(std::move(e));
  epochs_dirty_ = true;

  const EvalResult* eval = r.test ? &*r.test : r.validation ? &*r.validation : nullptr;
  if (run_.classes > 0) {
    if (eval && eval->classes == run_.classes)
      run_.confusion = Confusion{r.test ? "test" : "validation", eval->classes, eval->confusion};
    else
      run_.confusion = Confusion{"training sample", run_.classes, p.confusion};
  }
  const int shown = static_cast<int>(std::min<int64_t>(kSamplesShown, probe_size_));
  if (run_.samples.empty() && shown > 0) run_.samples = probe_.slice(0, shown).clone();
  run_.sample_labels.clear();
  run_.sample_predictions.clear();
  const int64_t ts = probe_size_ ? static_cast<int64_t>(probe_targets_.size()) / probe_size_ : 1;
  for (int i = 0; i < shown; ++i) {
    run_.sample_labels.push_back(static_cast<int>(probe_targets_[i * ts]));
    if (i < static_cast<int>(p.predictions.size()))
      run_.sample_predictions.push_back(p.predictions[i]);
  }
  write();
}

void RunRecorder::on_stop(const TrainPosition& next) {
  close(std::string(interrupt_name()) + " " + describe_position(next, run_.steps_per_epoch));
}

void RunRecorder::finish(const std::string& stopped_because) {
  close(stopped_because.empty() ? "finished" : "stopped: " + stopped_because);
}

void RunRecorder::close(const std::string& status) {
  run_.status = status;
  keep_data_figures();
  write();
}

// A run stopped or checkpointed in its first epoch still shows its data
// statistics so far (the epoch's end replaces them with the whole epoch's).
void RunRecorder::keep_data_figures() {
  if (!run_.epochs.empty()) return;
  if (!input_stats_.empty()) run_.input_stats = input_stats_.stats();
  if (!label_counts_.empty()) run_.label_counts = label_counts_;
  if (weight_count_ > 0) run_.weight_mean = weight_sum_ / weight_count_;
}

void RunRecorder::write(bool with_model) {
  dirty_ = false;
  if (dir_.empty()) return;
  namespace fs = std::filesystem;
  // Mid-epoch only run.json and steps.csv change: fewer files to sync per checkpoint.
  write_run_files(dir_, run_, epochs_dirty_ || with_model);
  epochs_dirty_ = false;
  if (run_.samples.rank() == 4 && !fs::exists(fs::path(dir_) / "samples.png")) {
    const int64_t n = std::min<int64_t>(kSamplesShown, run_.samples.dim(0));
    std::vector<float> labels(
        run_.sample_labels.begin(),
        run_.sample_labels.begin() + std::min<size_t>(n, run_.sample_labels.size()));
    const int zoom = std::max<int>(1, 84 / static_cast<int>(run_.samples.dim(1)));
    write_png((fs::path(dir_) / "samples.png").string(),
              render_samples(run_.samples.slice(0, n), labels, 8, zoom));
  }
  if (info_.model_info && with_model) {
    ModelInfo info = *info_.model_info;
    info.training["input_stats"] = run_.input_stats.to_json();
    save_model((fs::path(dir_) / "model.safetensors").string(), model_, info);
  }
}

}  // namespace ck
