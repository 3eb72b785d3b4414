#include "apps/run_plots.h"

#include <fmt/format.h>

#include <cmath>

#include "apps/diagnose_rules.h"

namespace ck {

namespace {

// Steps sit at fractional epochs, so per-step and per-epoch curves share the x axis:
// step s of epoch e (0-based) ends at e + (s + 1) / steps.
double step_x(const RunRecord& r, const StepRecord& s) {
  const double steps = r.steps_per_epoch > 0 ? static_cast<double>(r.steps_per_epoch) : 1.0;
  return s.epoch + (s.step + 1) / steps;
}

int64_t step_index(const RunRecord& r, const StepRecord& s) {
  return s.epoch * r.steps_per_epoch + s.step;
}

template <class Get>
Series per_step(const RunRecord& r, const std::string& name, size_t color, Get get) {
  Series s{name, {}, {}, series_color(color), true};
  int64_t previous = -1;
  for (const StepRecord& step : r.steps) {
    // Steps missing from the record (a "gap" event): a NaN breaks the line
    // there rather than draw a straight line over steps nobody measured.
    const int64_t index = step_index(r, step);
    if (previous >= 0 && index != previous + 1)
      s.x.push_back(step_x(r, step)), s.y.push_back(std::nan(""));
    previous = index;
    const std::optional<double> v = get(step);
    if (step.skipped || !v) continue;
    s.x.push_back(step_x(r, step));
    s.y.push_back(*v);
  }
  return s;
}

template <class Get>
Series per_epoch(const RunRecord& r, const std::string& name, size_t color, Get get) {
  Series s{name, {}, {}, series_color(color)};
  for (const EpochRecord& e : r.epochs) {
    std::optional<double> v = get(e);
    if (!v) continue;
    s.x.push_back(e.epoch + 1);
    s.y.push_back(*v);
  }
  return s;
}

void add_if_any(LinePlot& p, Series s) {
  if (!s.x.empty()) p.series.push_back(std::move(s));
}

// A labelled vertical line where the record resumes after each gap (where
// the gap begins may lie left of every curve, at the run's start).
void mark_gaps(const RunRecord& r, LinePlot& p) {
  const double steps = r.steps_per_epoch > 0 ? static_cast<double>(r.steps_per_epoch) : 1.0;
  for (const RunEvent& e : r.events) {
    if (e.kind != "gap") continue;
    const int64_t first = e.detail.value("first_iteration", int64_t{0});
    const int64_t last = e.detail.value("last_iteration", int64_t{0});
    if (first < 1 || last < first) continue;
    // Iteration i (1-based) ends at x = i / steps: the first one recorded again is last + 1.
    p.markers.push_back(
        {(last + 1) / steps, fmt::format("{} steps not recorded before", last - first + 1)});
  }
}

}  // namespace

std::vector<NamedPlot> run_plots(const RunRecord& r) {
  std::vector<NamedPlot> plots;
  LinePlot loss;
  loss.title = "Loss";
  loss.x_label = "epoch";
  loss.y_label = r.loss;
  add_if_any(loss, per_step(r, "training, per step", 0, [](const StepRecord& s) -> std::optional<double> { return s.loss; }));
  add_if_any(loss, per_epoch(r, "training", 0, [](const EpochRecord& e) -> std::optional<double> { return e.loss; }));
  add_if_any(loss, per_epoch(r, "validation", 1, [](const EpochRecord& e) { return e.val_loss; }));
  add_if_any(loss, per_epoch(r, "test", 2, [](const EpochRecord& e) { return e.test_loss; }));
  // A diverged run's spikes would flatten everything else: cap at 4x the
  // start, or at chance, whichever is higher.
  double cap = std::max(r.initial_loss, r.classes > 0 ? chance_loss(r.classes) : 0.0) * 4;
  if (std::isfinite(cap) && cap > 0) loss.y_max = cap;
  if (r.classes > 0) loss.guides.push_back({chance_loss(r.classes), "chance: ln K"});
  mark_gaps(r, loss);
  plots.push_back({"loss", loss});

  if (r.has_accuracy()) {
    LinePlot acc;
    acc.title = "Accuracy";
    acc.x_label = "epoch";
    acc.y_label = "accuracy";
    acc.y_min = 0, acc.y_max = 1, acc.y_fixed = true;
    add_if_any(acc, per_step(r, "training, per step", 0, [](const StepRecord& s) { return s.accuracy; }));
    add_if_any(acc, per_epoch(r, "training", 0, [](const EpochRecord& e) { return e.accuracy; }));
    add_if_any(acc, per_epoch(r, "validation", 1, [](const EpochRecord& e) { return e.val_accuracy; }));
    add_if_any(acc, per_epoch(r, "test", 2, [](const EpochRecord& e) { return e.test_accuracy; }));
    acc.guides.push_back({1.0 / r.classes, "chance: 1/K"});
    mark_gaps(r, acc);
    plots.push_back({"accuracy", acc});
  }

  const std::vector<size_t> layers = param_layers(r);
  if (!layers.empty()) {
    LinePlot grads;
    grads.x_label = "epoch";
    grads.y_label = "L2 norm of the gradient";
    grads.log_y = true;
    LinePlot updates;
    updates.x_label = "epoch";
    updates.y_label = "||lr * update|| / ||w|| per step";
    updates.log_y = true;
    updates.guides.push_back({1e-3, "CS231n: ~1e-3"});
    for (size_t k = 0; k < layers.size(); ++k) {
      const size_t i = layers[k];
      add_if_any(grads, per_epoch(r, r.layers[i].name, k, [i](const EpochRecord& e) -> std::optional<double> {
                   return i < e.layers.size() ? std::optional<double>(e.layers[i].grad_norm) : std::nullopt;
                 }));
      add_if_any(updates, per_epoch(r, r.layers[i].name, k, [i](const EpochRecord& e) -> std::optional<double> {
                   return i < e.layers.size() ? std::optional<double>(e.layers[i].update_ratio) : std::nullopt;
                 }));
    }
    // The titles say what is drawn: a run stopped inside its first epoch has
    // no per-layer epoch means yet, only the per-step line.
    const bool epoch_means = !grads.series.empty();
    add_if_any(grads, per_step(r, "all layers, per step", layers.size(),
                               [](const StepRecord& s) -> std::optional<double> { return s.grad_norm; }));
    grads.title = epoch_means ? "Gradient norm per layer (epoch mean) and of all layers (per step)"
                              : "Gradient norm of all layers (per step; no epoch finished)";
    updates.title = epoch_means ? "Update / weight ratio per layer (epoch mean)"
                                : "Update / weight ratio per layer (none yet: no epoch finished)";
    mark_gaps(r, grads);
    plots.push_back({"gradients", grads});
    plots.push_back({"updates", updates});
  }
  return plots;
}

}  // namespace ck
