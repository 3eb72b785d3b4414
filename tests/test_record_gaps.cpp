// Run records that are short or have holes, built by hand: a run stopped
// inside its first epoch (diagnose has too little to judge, the plots say
// what they draw) and a record with a gap (numbering kept, marked, shown).
#include <doctest/doctest.h>

#include <cmath>

#include "apps/diagnose.h"
#include "apps/run_plots.h"
#include "apps/run_record.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "helpers.h"
#include "process_helpers.h"

using namespace ck;

namespace {

// A 10-class run with one conv layer: `steps` steps of 20 per epoch from
// step `from` on (0-based, across epochs), and an epoch record for each
// epoch those steps complete.
RunRecord run_of(int64_t from, int64_t steps, std::string status) {
  RunRecord r;
  r.classes = 10;
  r.loss = "sparse_categorical_crossentropy";
  r.optimizer = "adam";
  r.steps_per_epoch = 20;
  r.epochs_planned = 2;
  r.initial_loss = 2.3;
  r.status = std::move(status);
  r.layers = {{"conv2d_1", "conv2d", "relu", {8, 8, 4}, 40}, {"flatten_1", "flatten", "linear", {256}, 0}};
  for (int64_t i = from; i < from + steps; ++i) {
    StepRecord s;
    s.epoch = static_cast<int>(i / 20), s.step = i % 20;
    s.loss = 2.3 - 0.01 * i;
    s.learning_rate = 0.001;
    s.grad_norm = 1;
    s.samples = 32;
    r.steps.push_back(s);
    if (s.step == 19) {
      EpochRecord e;
      e.epoch = s.epoch;
      e.loss = s.loss;
      e.samples = 640;
      LayerHealth h;
      h.grad_norm = 0.5, h.update_ratio = 1e-3, h.param_norm = 3;
      e.layers = {h, LayerHealth{}};
      r.epochs.push_back(e);
    }
  }
  return r;
}

const NamedPlot& plot_named(const std::vector<NamedPlot>& plots, const std::string& name) {
  for (const NamedPlot& p : plots)
    if (p.name == name) return p;
  FAIL("no plot ", name);
  return plots.front();
}

}  // namespace

TEST_CASE("diagnose: a run stopped inside its first epoch is too little to judge, not healthy") {
  const RunRecord r = run_of(0, 7, "interrupted at epoch 1, step 7 of 20");
  const std::vector<Finding> findings = diagnose(r);
  const Finding* f = find_finding(findings, "no-finished-epoch");
  REQUIRE(f);
  CHECK(f->severity == Severity::warning);
  CHECK(f->title == "too little to judge: no epoch finished (it was interrupted at epoch 1, step 7 of 20)");
  CHECK(f->value("steps") == 7);
  const std::string text = format_findings(findings);
  CHECK(!test::contains(text, "healthy"));

  // Killed (the record still says "running"): the position comes from the steps.
  const std::vector<Finding> after_kill = diagnose(run_of(0, 5, "running"));
  const Finding* killed = find_finding(after_kill, "no-finished-epoch");
  REQUIRE(killed);
  CHECK(killed->title == "too little to judge: no epoch finished (its record ends at epoch 1, step 5 of 20; status "
                         "\"running\": still running, or killed)");
  // One finished epoch is enough to judge.
  CHECK(!find_finding(diagnose(run_of(0, 20, "finished")), "no-finished-epoch"));
}

TEST_CASE("run plots: the gradient plot's title says what it draws") {
  // No epoch finished: only the per-step line, no per-layer epoch means.
  std::vector<NamedPlot> plots = run_plots(run_of(0, 7, "interrupted at epoch 1, step 7 of 20"));
  const LinePlot& early = plot_named(plots, "gradients").plot;
  CHECK(early.title == "Gradient norm of all layers (per step; no epoch finished)");
  REQUIRE(early.series.size() == 1);
  CHECK(early.series[0].name == "all layers, per step");
  CHECK(plot_named(plots, "updates").plot.series.empty());
  CHECK(plot_named(plots, "updates").plot.title == "Update / weight ratio per layer (none yet: no epoch finished)");

  // After an epoch: the layer's epoch means and the per-step line.
  plots = run_plots(run_of(0, 27, "interrupted at epoch 2, step 7 of 20"));
  const LinePlot& later = plot_named(plots, "gradients").plot;
  CHECK(later.title == "Gradient norm per layer (epoch mean) and of all layers (per step)");
  REQUIRE(later.series.size() == 2);
  CHECK(later.series[0].name == "conv2d_1");
  CHECK(later.series[1].name == "all layers, per step");
  CHECK(plot_named(plots, "updates").plot.title == "Update / weight ratio per layer (epoch mean)");
}

TEST_CASE("a record with a gap keeps its iteration numbers and is marked where the gap is") {
  RunRecord r = run_of(20, 10, "running");  // epoch 1 was not recorded
  r.initial_loss = std::nan("");
  r.events.push_back({"gap", 0, 0, "iterations 1-20 (epoch 1, step 1 to epoch 1, step 20) are not recorded: ...",
                      {{"first_iteration", 1}, {"last_iteration", 20}}});
  const test::TempDir temp;
  write_run_files(temp.path.string(), r);
  const std::string steps = test::read_text(temp / "steps.csv");
  CHECK(test::contains(steps, "\n2,1,21,"));
  CHECK(test::contains(steps, "\n2,10,30,"));
  const RunRecord back = read_run_dir(temp.path.string());
  CHECK(std::isnan(back.initial_loss));
  REQUIRE(back.events.size() == 1);

  const std::vector<Finding> findings = diagnose(back);
  const Finding* gap = find_finding(findings, "record-gap");
  REQUIRE(gap);
  CHECK(gap->severity == Severity::note);
  CHECK(gap->title == "the record has a gap: " + back.events[0].message);

  const std::vector<NamedPlot> plots = run_plots(back);
  const LinePlot& loss = plot_named(plots, "loss").plot;
  REQUIRE(loss.markers.size() == 1);
  // Where the record resumes: the end of iteration 21, the first recorded (x = 21 / 20).
  CHECK(loss.markers[0].first == doctest::Approx(1.05));
  CHECK(loss.markers[0].second == "20 steps not recorded before");
  // The per-step curve starts there too.
  CHECK(loss.series[0].x.front() == doctest::Approx(1.05));
}

TEST_CASE("a record killed between writing epochs.csv and layers.csv reads back without that epoch") {
  const RunRecord r = run_of(0, 40, "running");
  REQUIRE(r.epochs.size() == 2);
  const test::TempDir temp;
  write_run_files(temp.path.string(), r);
  // layers.csv as the first epoch's end wrote it: a header and one row per layer.
  const std::string layers = test::read_text(temp / "layers.csv");
  size_t end = 0;
  for (int line = 0; line < 3; ++line) end = layers.find('\n', end) + 1;
  write_file_atomically(temp / "layers.csv", layers.substr(0, end));
  const RunRecord back = read_run_dir(temp.path.string());
  CHECK(back.epochs.size() == 1);
  CHECK(back.steps.size() == 40);
  // Any other mismatch is still an error that names the file.
  write_file_atomically(temp / "layers.csv", layers.substr(0, layers.find('\n') + 1));
  CHECK_THROWS_WITH_AS(read_run_dir(temp.path.string()), doctest::Contains("layers.csv: 0 rows for 2 layers x 2 epochs"),
                       Error);
}

TEST_CASE("run plots: a per-step curve breaks over steps missing inside the record") {
  RunRecord r = run_of(0, 5, "running");
  const RunRecord later = run_of(10, 5, "running");
  r.steps.insert(r.steps.end(), later.steps.begin(), later.steps.end());
  const std::vector<NamedPlot> plots = run_plots(r);
  const Series& steps = plot_named(plots, "loss").plot.series.at(0);
  REQUIRE(steps.y.size() == 11);  // 5 steps, a break, 5 steps
  CHECK(std::isnan(steps.y[5]));
  CHECK(std::isfinite(steps.y[4]));
  CHECK(std::isfinite(steps.y[6]));
}

TEST_CASE("diagnose: a record without an initial loss still finds a divergence against chance") {
  RunRecord r = run_of(20, 60, "finished");
  r.initial_loss = std::nan("");
  for (size_t i = 10; i < r.steps.size(); ++i) r.steps[i].loss = 50;  // far past 4 x ln 10
  const Finding* f = find_finding(diagnose(r), "lr-too-high");
  REQUIRE(f);
}
