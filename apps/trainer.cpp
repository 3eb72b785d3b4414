#include "apps/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "apps/interrupt.h"
#include "core/error.h"
#include "core/reduce.h"

namespace ck {

double EvalResult::recall(int k) const {
  int64_t total = 0;
  for (int j = 0; j < classes; ++j) total += confusion[k * classes + j];
  return total ? static_cast<double>(confusion[k * classes + k]) / total
               : std::numeric_limits<double>::quiet_NaN();
}

EvalResult evaluate(Model& model, Loader& loader) {
  EvalResult result;
  const bool classes = model.loss() != LossKind::mean_squared_error;
  if (classes) {
    const int64_t K = model.output_shape()[0];
    result.classes = K == 1 ? 2 : static_cast<int>(K);
    result.confusion.assign(result.classes * result.classes, 0);
  }
  loader.start_epoch(0);
  Batch batch;
  while (loader.next(batch)) {
    const Tensor& out = model.forward(batch.x, ForwardContext{.backward = false});
    result.stats.add(compute_loss(model.loss(), out, batch.targets.data(), nullptr, nullptr));
    if (!classes) continue;
    const int64_t K = out.row_size();
    for (int64_t i = 0; i < batch.size(); ++i) {
      const float* z = out.data() + i * K;
      int predicted = 0;
      if (K == 1)
        predicted = z[0] > 0.0f;
      else
        for (int k = 1; k < K; ++k)
          if (z[k] > z[predicted]) predicted = k;
      const int truth = static_cast<int>(batch.targets[i]);
      result.confusion[truth * result.classes + predicted]++;
    }
  }
  return result;
}

LossStats forward_backward(Model& model, const Tensor& x, const float* targets,
                           const float* weights, const ForwardContext& ctx, Tensor& dout) {
  const Tensor& out = model.forward(x, ctx);
  dout.resize(out.shape());
  LossStats stats = compute_loss(model.loss(), out, targets, weights, &dout);
  model.backward(dout);
  return stats;
}

std::string describe_position(const TrainPosition& next, int64_t steps_per_epoch) {
  if (next.step == 0) return fmt::format("after epoch {}", next.epoch);
  return fmt::format("at epoch {}, step {} of {}", next.epoch + 1, next.step, steps_per_epoch);
}

namespace {

// A safe point: the observers write what they must, then the run stops.
void stop_if_interrupted(const TrainSetup& s, const TrainPosition& next, int64_t steps) {
  if (!interrupt_requested()) return;
  for (TrainObserver* o : s.observers) o->on_stop(next);
  throw_if_interrupted("training stopped " + describe_position(next, steps));
}

}  // namespace

std::vector<EpochResult> train(const TrainSetup& s) {
  using clock = std::chrono::steady_clock;
  // Ctrl-C lets the step in progress finish and stops where a resume can start.
  StopPoint stop_point;
  Model& model = *s.model;
  std::vector<Param*> params = model.params();
  std::vector<std::vector<Param*>> layer_params;
  for (const auto& layer : model.layers()) layer_params.push_back(layer->params());
  std::vector<EpochResult> results;
  Batch batch;
  Tensor dout;
  const int64_t steps = s.train->batches();
  for (int epoch = s.start.epoch; epoch < s.epochs; ++epoch) {
    for (TrainObserver* o : s.observers) o->on_epoch_begin(epoch, s.epochs, steps);
    const auto start = clock::now();
    StepInfo info;
    info.epoch = epoch;
    info.steps = steps;
    int64_t first_step = 0;
    if (epoch == s.start.epoch) {
      // Resuming mid-epoch: skip the batches already done, keep their figures.
      first_step = s.start.step;
      info.running = s.start.running;
      info.images = s.start.images;
    }
    s.train->start_epoch(epoch, first_step);
    for (int64_t step = first_step; s.train->next(batch); ++step) {
      Rng rng = Rng::derive(s.seed, 0xd20, (static_cast<uint64_t>(epoch) << 32) | step);
      ForwardContext ctx{true, &rng};
      info.batch =
          forward_backward(model, batch.x, batch.targets.data(),
                           batch.weights.empty() ? nullptr : batch.weights.data(), ctx, dout);
      info.step = step;
      info.layer_grad_squares.assign(layer_params.size(), 0.0);
      for (size_t i = 0; i < layer_params.size(); ++i)
        for (const Param* p : layer_params[i])
          if (!p->grad.empty())
            info.layer_grad_squares[i] += sum_squares(p->grad.data(), p->grad.size());
      bool update = true;
      for (TrainObserver* o : s.observers) update = o->on_gradients(model, batch, info) && update;
      info.skipped = !update;
      if (update) {
        s.optimizer->step(params);
        info.running.add(info.batch);
      }
      info.images += batch.size();
      info.seconds = std::chrono::duration<double>(clock::now() - start).count();
      for (TrainObserver* o : s.observers) o->on_step_end(info);
      // After an epoch's last step its evaluation runs first.
      if (step + 1 < steps)
        stop_if_interrupted(s, {epoch, step + 1, info.running, info.images}, steps);
    }
    EpochResult r;
    r.epoch = epoch;
    r.train = info.running;
    r.seconds = std::chrono::duration<double>(clock::now() - start).count();
    r.images_per_second =
        r.seconds > 0 ? (info.images - (epoch == s.start.epoch ? s.start.images : 0)) / r.seconds
                      : 0;
    r.learning_rate = s.optimizer->learning_rate;
    r.has_accuracy = model.loss() != LossKind::mean_squared_error;
    if (s.validation) r.validation = evaluate(model, *s.validation);
    if (s.test) r.test = evaluate(model, *s.test);
    for (TrainObserver* o : s.observers) o->on_epoch_end(r, s.epochs);
    results.push_back(std::move(r));
    // After the last epoch nothing is left to stop: the run completes.
    if (epoch + 1 < s.epochs) stop_if_interrupted(s, {epoch + 1, 0, {}, 0}, steps);
  }
  return results;
}

}  // namespace ck

namespace ck {

namespace {
// JSON has no NaN or infinity, and a diverged run has both: store them as strings.
nlohmann::json number_json(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
}
double number_from_json(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  fail("\"{}\" is not a number", s);
}
}  // namespace

nlohmann::json loss_stats_json(const LossStats& s) {
  return {{"weighted_sum", number_json(s.weighted_sum)},
          {"count", s.count},
          {"correct", s.correct},
          {"capped", s.capped}};
}

LossStats loss_stats_from_json(const nlohmann::json& j) {
  LossStats s;
  s.weighted_sum = number_from_json(j.at("weighted_sum"));
  s.count = j.at("count").get<int64_t>();
  s.correct = j.at("correct").get<int64_t>();
  s.capped = j.at("capped").get<int64_t>();
  return s;
}

nlohmann::json epoch_json(const EpochResult& r) {
  nlohmann::json j = {
      {"epoch", r.epoch + 1},
      {"loss", number_json(r.train.mean())},
      // The shortest decimal that reads back as this float: 0.001, not 0.0010000000474974513.
      {"learning_rate", std::stod(fmt::format("{}", r.learning_rate))},
      {"seconds", r.seconds},
      {"images_per_second", r.images_per_second}};
  if (r.has_accuracy) j["accuracy"] = r.train.accuracy();
  if (r.validation) {
    j["val_loss"] = number_json(r.validation->loss());
    if (r.has_accuracy) j["val_accuracy"] = r.validation->accuracy();
  }
  if (r.test) {
    j["test_loss"] = number_json(r.test->loss());
    if (r.has_accuracy) j["test_accuracy"] = r.test->accuracy();
  }
  return j;
}

}  // namespace ck
