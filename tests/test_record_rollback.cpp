// The NaN guard's rollback and the run record: a step whose update the guard
// vetoes is left out of the epoch's per-layer figures, as it is left out of
// the epoch's loss.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "apps/run_recorder.h"
#include "apps/train_guard.h"
#include "core/reduce.h"
#include "diag_helpers.h"

using namespace ck;

namespace {

// Poisons a weight after step `after` of epoch 1 (0-based), so that the next
// step's forward pass produces NaN and the guard rolls back.
struct Saboteur : TrainObserver {
  Model& model;
  int64_t after;
  explicit Saboteur(Model& m, int64_t step) : model(m), after(step) {}
  void on_step_end(const StepInfo& s) override {
    if (s.epoch == 0 && s.step == after)
      model.params().front()->value[0] = std::numeric_limits<float>::quiet_NaN();
  }
};

// Per layer, the mean over the steps whose update was applied of the
// layer's gradient norm: what layers.csv's grad_norm should be.
struct AcceptedGradNorms : TrainObserver {
  Model& model;
  std::vector<double> pending, sums;
  int64_t accepted = 0;
  explicit AcceptedGradNorms(Model& m) : model(m), sums(m.layers().size(), 0.0) {}
  bool on_gradients(Model&, const Batch&, const StepInfo& s) override {
    pending.assign(sums.size(), 0.0);
    for (size_t i = 0; i < sums.size(); ++i) {
      double sq = 0;
      for (Param* p : model.layers()[i]->params()) sq += sum_squares(p->grad.data(), p->grad.size());
      pending[i] = std::sqrt(sq);
    }
    return true;
  }
  void on_step_end(const StepInfo& s) override {
    if (s.epoch != 0 || s.skipped) return;
    for (size_t i = 0; i < sums.size(); ++i) sums[i] += pending[i];
    ++accepted;
  }
};

}  // namespace

TEST_CASE("a step the NaN guard rolls back does not count in the epoch's layer gradient norms") {
  const Dataset data = test::random_images(160, {6, 6, 1}, 3, false, 7);
  Model model = make_model("flatten dense(8,relu) dense(3,softmax)", data.sample_shape);
  model.compile(default_loss(model, false));
  Rng rng(1);
  model.init(rng);
  auto optimizer = make_optimizer("adam", 0);
  Preprocessing pre;
  pre.fit(data);
  std::vector<int64_t> all(data.size());
  std::iota(all.begin(), all.end(), 0);
  Loader loader(data, all, 16, pre, true, 1);  // 10 steps per epoch

  RunInfo info;
  info.class_names = data.class_names;
  info.epochs = 1;
  RunRecorder recorder(model, *optimizer, info);
  AcceptedGradNorms oracle(model);
  TrainGuard guard(model, *optimizer, OnNan::rollback, nullptr);
  Saboteur saboteur(model, 3);
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = optimizer.get();
  setup.train = &loader;
  setup.epochs = 1;
  setup.seed = 1;
  // As execute_training orders them: the recorder sees the bad step before the guard acts.
  setup.observers = {&recorder, &oracle, &guard, &saboteur};
  ck::train(setup);
  recorder.finish();

  const RunRecord& r = recorder.record();
  REQUIRE(guard.rollbacks() == 1);
  REQUIRE(r.steps.size() == 10);
  CHECK(r.steps[4].skipped);
  CHECK(oracle.accepted == 9);
  REQUIRE(r.epochs.size() == 1);
  const std::vector<LayerHealth>& layers = r.epochs[0].layers;
  REQUIRE(layers.size() == 3);
  CHECK(std::isnan(layers[0].grad_norm));  // flatten: no parameters
  for (size_t i : {1, 2}) {
    CAPTURE(i);
    REQUIRE(std::isfinite(layers[i].grad_norm));
    CHECK(layers[i].grad_norm == doctest::Approx(oracle.sums[i] / oracle.accepted).epsilon(1e-12));
    CHECK(std::isfinite(layers[i].update_ratio));
  }
}
