#include "apps/diagnose.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "apps/diagnose_rules.h"

namespace ck {

const Finding* DiagnosisContext::get(const std::string& id) const {
  return find_finding(found, id);
}

bool attribute(Finding& symptom, const DiagnosisContext& c, std::initializer_list<const char*> causes) {
  for (const char* cause : causes) {
    const Finding* root = c.get(cause);
    if (!root || root->severity == Severity::note) continue;
    symptom.severity = Severity::note;
    symptom.title += fmt::format(" (a consequence of {})", cause);
    return true;
  }
  return false;
}

std::vector<size_t> param_layers(const RunRecord& run) {
  std::vector<size_t> out;
  for (size_t i = 0; i < run.layers.size(); ++i)
    if (run.layers[i].params > 0) out.push_back(i);
  return out;
}

double median(std::vector<double> v) {
  std::erase_if(v, [](double x) { return !std::isfinite(x); });
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double recall(const Confusion& m, int k) {
  int64_t total = 0;
  for (int j = 0; j < m.classes; ++j) total += m.counts[k * m.classes + j];
  return total ? static_cast<double>(m.counts[k * m.classes + k]) / total : std::nan("");
}

std::string lower_lr_advice(const RunRecord& run) {
  double lr = run.config.value("learning_rate", 0.0);
  if (!run.steps.empty()) lr = run.steps.front().learning_rate;
  const double fallback = run.optimizer == "sgd" ? 0.01 : 0.001;
  if (lr > fallback) return fmt::format("--lr {} (the {} default)", short_number(fallback), run.optimizer);
  return fmt::format("--lr {}", short_number(lr / 10));
}

std::string on_data(const Confusion& m) {
  if (m.source == "training sample") return "on a sample of the training data";
  return "on the " + m.source + " set";
}

std::optional<double> eval_loss(const EpochRecord& e) { return e.val_loss ? e.val_loss : e.test_loss; }
std::optional<double> eval_accuracy(const EpochRecord& e) {
  return e.val_accuracy ? e.val_accuracy : e.test_accuracy;
}
std::string eval_name(const RunRecord& run) {
  if (run.epochs.empty()) return "";
  if (run.epochs.back().val_loss) return "validation";
  if (run.epochs.back().test_loss) return "test";
  return "";
}

namespace {

// Most rules read per-epoch figures (the probe, layer health, held-out loss):
// a run stopped inside its first epoch has none, and finding nothing there
// does not make it healthy.
void rule_no_finished_epoch(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (!r.epochs.empty()) return;
  std::string where;
  if (r.status.starts_with("interrupted") || r.status.starts_with("terminated"))
    where = "it was " + r.status;
  else if (r.status.starts_with("stopped"))
    where = "it " + r.status;
  else if (!r.steps.empty())
    where = fmt::format("its record ends at epoch {}, step {} of {}; status \"{}\"{}",
                        r.steps.back().epoch + 1, r.steps.back().step + 1, r.steps_per_epoch,
                        r.status, r.status == "running" ? ": still running, or killed" : "");
  else
    where = fmt::format("no step is recorded; status \"{}\"", r.status);
  Finding f("no-finished-epoch", Severity::warning,
            fmt::format("too little to judge: no epoch finished ({})", where));
  f.add(
      "steps", static_cast<double>(r.steps.size()),
      fmt::format("{} of {} steps of the first epoch recorded", r.steps.size(), r.steps_per_epoch));
  f.threshold = "at least one finished epoch (the per-epoch figures most rules read)";
  f.fix =
      "resume the run (convkit train --resume CHECKPOINT-DIR) or train at least one epoch, "
      "then diagnose again";
  c.found.push_back(f);
}

// Steps missing from the record (apps/run_recorder.h marks them as "gap"
// events): the rules that read steps see the run without them.
void rule_record_gap(DiagnosisContext& c) {
  for (const RunEvent& e : c.run.events) {
    if (e.kind != "gap") continue;
    Finding f("record-gap", Severity::note, "the record has a gap: " + e.message);
    f.add("first_iteration", e.detail.value("first_iteration", 0.0),
          fmt::format("first missing iteration {}", e.detail.value("first_iteration", int64_t{0})));
    f.add("last_iteration", e.detail.value("last_iteration", 0.0),
          fmt::format("last missing iteration {}", e.detail.value("last_iteration", int64_t{0})));
    f.fix = "keep the run directory beside its checkpoints: a resumed run continues it whole";
    c.found.push_back(f);
  }
}

using Rule = void (*)(DiagnosisContext&);

// Root causes first: a later rule reads what an earlier one found, so that a
// symptom is attributed to its cause instead of raising an alarm of its own.
constexpr Rule kRules[] = {
    // What the record can show
    rule_no_finished_epoch,
    rule_record_gap,
    // Data the model is given
    rule_input_non_finite,
    rule_input_scale,
    rule_input_noise,
    rule_reference_mismatch,
    // Optimization and initialization
    rule_exploding_gradients,
    rule_lr_too_high,
    rule_non_finite,
    rule_dead_relu,
    rule_vanishing_gradients,
    rule_lr_too_low,
    rule_initial_loss,
    // Labels and predictions
    rule_class_imbalance,
    rule_prediction_collapse,
    // Fit
    rule_overfitting,
    rule_underfitting,
    rule_still_improving,
    rule_no_validation,
};

}  // namespace

std::vector<Finding> diagnose(const RunRecord& run) {
  DiagnosisContext context{run, {}};
  for (Rule rule : kRules) rule(context);
  std::stable_sort(context.found.begin(), context.found.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return context.found;
}

}  // namespace ck
