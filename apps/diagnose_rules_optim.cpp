// Diagnosis rules about optimization: NaN/Inf, learning rate too high or too
// low, and the loss at initialization.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "apps/diagnose_rules.h"
#include "layers/loss.h"

namespace ck {

namespace {

// An untrained classifier predicts roughly uniformly and scores ln K; a loss
// far above that at the first step means the outputs start out confidently
// wrong (inputs or initialization too large).
constexpr double kInitialLossFactor = 1.5;
constexpr const char* kInitialLossSource =
    "CS231n \"Neural Networks Part 3: Learning\" (sanity check: loss at chance is -ln(1/K)); "
    "Karpathy, \"A Recipe for Training Neural Networks\" (2019): verify loss @ init";

}  // namespace

double chance_loss(int classes) { return std::log(std::max(classes, 2)); }

double training_chance_loss(const RunRecord& r) {
  const double w = r.weight_mean > 0 && std::isfinite(r.weight_mean) ? r.weight_mean : 1;
  return chance_loss(r.classes) * w;
}

double label_entropy(const std::vector<int64_t>& counts) {
  double total = 0, h = 0;
  for (int64_t n : counts) total += static_cast<double>(n);
  if (total <= 0) return 0;
  for (int64_t n : counts)
    if (n > 0) h -= n / total * std::log(n / total);
  return h;
}

std::optional<Finding> check_initial_loss(double loss, int classes, const std::string& loss_name,
                                          const std::vector<int64_t>& label_counts,
                                          double weight_mean) {
  if (classes < 2 || loss_name == "mean_squared_error" || !std::isfinite(loss)) return std::nullopt;
  // The loss is sum(w l) / n: with sample weights an untrained model scores
  // ln K x the batch's mean weight. Compare like with like.
  const double w = weight_mean > 0 && std::isfinite(weight_mean) ? weight_mean : 1;
  const bool weighted = std::fabs(w - 1) > 1e-6;
  const double chance = chance_loss(classes) * w;
  if (loss <= kInitialLossFactor * chance) return std::nullopt;
  const std::string expected = weighted
                                   ? fmt::format("ln({}) x the batch's mean sample weight {} = {}",
                                                 classes, short_number(w), short_number(chance))
                                   : fmt::format("ln({}) = {}", classes, short_number(chance));
  Finding f("initial-loss", Severity::warning,
            fmt::format("the loss before any update was {}, far above {} that an untrained "
                        "model should score",
                        short_number(loss), expected));
  f.add("initial_loss", loss, fmt::format("loss at the first step {}", short_number(loss)));
  f.add("chance_loss", chance, "expected " + expected);
  if (weighted)
    f.add("weight_mean", w,
          fmt::format("the first batch's mean sample weight {}", short_number(w)));
  if (!label_counts.empty())
    f.add("prior_entropy", label_entropy(label_counts),
          fmt::format("best constant prediction (class priors) scores {}",
                      short_number(label_entropy(label_counts))));
  f.threshold = fmt::format(
      "initial loss above {} x ln(K) (x the mean sample weight when samples "
      "are weighted)",
      kInitialLossFactor);
  f.source = kInitialLossSource;
  f.fix = "normalize the inputs; check the initialization (outputs should start near uniform)";
  return f;
}

void rule_initial_loss(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.steps.empty()) return;
  std::optional<Finding> f =
      check_initial_loss(r.initial_loss, r.classes, r.loss, r.label_counts, r.initial_weight_mean);
  if (!f) return;
  // Explained by the input scale (raw pixels, or inputs unlike a pretrained
  // base's) or the initialization: say so rather than raise a second alarm.
  attribute(*f, c, {"input-unnormalized", "preprocessing-mismatch", "exploding-gradients"});
  c.found.push_back(*f);
}

}  // namespace ck

namespace ck {

namespace {

// Smith's LR range test stops once the smoothed loss passes 4x the best; a
// training run whose smoothed loss passes 4x where it started (or ln K,
// whichever is larger) has diverged.
constexpr double kDivergeFactor = 4.0;
constexpr double kSmoothing = 0.98;  // the LR finder's exponential smoothing
// CS231n: updates ~1e-3 of the weights per step are healthy. Adam at its
// default rate runs near 1e-2 early on; steps of 30% of the weights and
// more mean the rate is far too high, below 1e-5 far too low.
constexpr double kUpdateRatioHigh = 0.3;
constexpr double kUpdateRatioLow = 1e-5;
// A loss that moved less than 1% over the run has not started to learn.
constexpr double kMinImprovement = 0.01;
// A model confidently wrong on 10% of an epoch's samples (loss past Keras's
// clip ceiling, -ln(1e-7)) was pushed there by its updates.
constexpr double kCappedShare = 0.1;
constexpr const char* kLrSource =
    "Smith, \"Cyclical Learning Rates for Training Neural Networks\" (2015/2017) LR range test "
    "(divergence at 4x the best loss); CS231n \"Neural Networks Part 3\" (update/weight ratio "
    "~1e-3); Keras TerminateOnNaN";

struct Divergence {
  bool found = false;
  int epoch = 0;
  int64_t step = 0;
  double smoothed = 0, reference = 0;
};

Divergence find_divergence(const RunRecord& r) {
  Divergence d;
  // A record resumed past its lost start has no initial loss (NaN): chance still holds.
  d.reference = r.classes > 0 ? std::isnan(r.initial_loss)
                                    ? training_chance_loss(r)
                                    : std::max(r.initial_loss, training_chance_loss(r))
                              : r.initial_loss;
  if (!std::isfinite(d.reference) || d.reference <= 0) return d;
  double average = 0;
  int64_t n = 0;
  for (const StepRecord& s : r.steps) {
    if (s.skipped || !std::isfinite(s.loss)) continue;
    average = kSmoothing * average + (1 - kSmoothing) * s.loss;
    const double smoothed = average / (1 - std::pow(kSmoothing, ++n));
    if (smoothed > kDivergeFactor * d.reference) {
      d = {true, s.epoch, s.step, smoothed, d.reference};
      return d;
    }
  }
  return d;
}

const RunEvent* first_nonfinite_event(const RunRecord& r) {
  for (const RunEvent& e : r.events)
    if (e.kind == "non-finite") return &e;
  return nullptr;
}

std::string event_pass(const RunEvent& e) { return e.detail.value("pass", std::string()); }

// The median update/weight ratio of the layers that receive a gradient, per epoch.
std::vector<double> update_ratio_medians(const RunRecord& r) {
  std::vector<double> out;
  for (const EpochRecord& e : r.epochs) {
    std::vector<double> ratios;
    for (size_t i : param_layers(r))
      if (i < e.layers.size() && e.layers[i].grad_norm > 0)
        ratios.push_back(e.layers[i].update_ratio);
    out.push_back(median(ratios));
  }
  return out;
}

double improvement(const RunRecord& r) {
  const double early = r.early_loss(), late = r.late_loss();
  return early > 0 ? (early - late) / early : 0;
}

}  // namespace

void rule_input_non_finite(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  const RunEvent* e = first_nonfinite_event(r);
  const bool in_events = e && event_pass(*e) == "input";
  if (!in_events && r.input_stats.nonfinite == 0) return;
  Finding f("input-non-finite", Severity::problem, "the training data holds NaN or Inf values");
  if (in_events) f.add("step", static_cast<double>(e->step + 1), e->message);
  if (r.input_stats.nonfinite > 0)
    f.add("nonfinite_values", static_cast<double>(r.input_stats.nonfinite),
          fmt::format("{} non-finite input values in the first epoch", r.input_stats.nonfinite));
  f.threshold = "any NaN or Inf in an input";
  f.source = "article 003 ex. 3 (missing values); Keras TerminateOnNaN";
  f.fix =
      "impute missing values (e.g. with the training mean) before training, and the same way at "
      "inference";
  c.found.push_back(f);
}

void rule_lr_too_high(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.steps.empty()) return;
  const RunEvent* nan = first_nonfinite_event(r);
  if (nan && event_pass(*nan) == "input") nan = nullptr;
  const Divergence diverged = find_divergence(r);
  double capped_share = 0;
  int capped_epoch = 0;
  for (const EpochRecord& e : r.epochs)
    if (e.samples > 0 && static_cast<double>(e.capped) / e.samples > capped_share)
      capped_share = static_cast<double>(e.capped) / e.samples, capped_epoch = e.epoch;
  const bool capped = capped_share >= kCappedShare && !c.has("input-unnormalized") &&
                      !(r.initial_loss >= kKerasLossCap);  // NaN: unknown
  const std::vector<double> ratios = update_ratio_medians(r);
  double top_ratio = 0;
  for (double x : ratios)
    if (std::isfinite(x)) top_ratio = std::max(top_ratio, x);
  const bool big_updates = top_ratio > kUpdateRatioHigh;
  const EpochRecord* last = r.epochs.empty() ? nullptr : &r.epochs.back();
  const bool stuck = last && r.classes > 0 && last->loss >= training_chance_loss(r);
  if (!(nan || diverged.found || capped || (big_updates && stuck))) return;

  const double lr = r.steps.front().learning_rate;
  Finding f("lr-too-high", Severity::problem,
            fmt::format("the learning rate ({}) is too high: ", short_number(lr)));
  f.add("learning_rate", lr, fmt::format("learning rate {} ({})", short_number(lr), r.optimizer));
  std::vector<std::string> what;
  if (nan) {
    what.push_back("the loss turned " + nan->detail.value("what", std::string("NaN")));
    f.add("nonfinite_step", static_cast<double>(nan->step + 1), nan->message);
    if (nan->detail.contains("loss_before"))
      f.add("loss_before_nonfinite", nan->detail["loss_before"].get<double>(),
            fmt::format("the loss was {} the step before",
                        short_number(nan->detail["loss_before"].get<double>())));
  }
  if (diverged.found) {
    what.push_back(fmt::format("the loss diverged to {}", short_number(diverged.smoothed)));
    f.add("diverged_loss", diverged.smoothed,
          fmt::format("smoothed loss {} at epoch {} step {}, over {}x its start ({})",
                      short_number(diverged.smoothed), diverged.epoch + 1, diverged.step + 1,
                      kDivergeFactor, short_number(diverged.reference)));
  }
  if (capped_share >= kCappedShare && !c.has("input-unnormalized")) {
    what.push_back("predictions became confidently wrong");
    f.add(
        "capped_share", capped_share,
        fmt::format("{:.0f}% of epoch {}'s samples had a loss past the clipped-probability ceiling "
                    "-ln(1e-7) = 16.1",
                    100 * capped_share, capped_epoch + 1));
  }
  if (big_updates) {
    if (stuck) what.push_back("each step rewrites the weights and the model no longer learns");
    f.add("update_ratio", top_ratio,
          fmt::format("update/weight ratio {} per step (healthy ~1e-3, CS231n)",
                      short_number(top_ratio)));
  }
  if (stuck)
    f.add("final_loss", last->loss,
          fmt::format("final training loss {} (chance: ln({}){} = {})", short_number(last->loss),
                      r.classes, r.sample_weights ? " x the mean sample weight" : "",
                      short_number(training_chance_loss(r))));
  f.title += what.empty() ? "training diverged" : what.front();
  for (size_t i = 1; i < what.size(); ++i)
    f.title += (i + 1 == what.size() ? " and " : ", ") + what[i];
  f.threshold = fmt::format(
      "a NaN/Inf loss; or the smoothed loss above {}x its start; or {:.0f}%+ of "
      "an epoch's samples past the loss ceiling; or update/weight ratios above "
      "{} with the loss no better than chance",
      kDivergeFactor, 100 * kCappedShare, kUpdateRatioHigh);
  f.source = kLrSource;
  f.fix = fmt::format(
      "lower the learning rate: {}, or run convkit lr-find; --on-nan rollback "
      "recovers automatically",
      lower_lr_advice(r));
  // A loss spike the run recovers from, with no NaN and no capped losses
  // left in its last epoch, is what unnormalized inputs do to the first
  // steps: a symptom, not a cause. Recovered: the run ends better than chance
  // (classifiers), or far below its peak; never judged against the first
  // batch, which may be unusual.
  const bool still_capped = capped && last && last->samples > 0 &&
                            static_cast<double>(last->capped) / last->samples >= kCappedShare;
  const bool recovered =
      last && std::isfinite(last->loss) &&
      (r.classes > 0 ? last->loss < training_chance_loss(r)
                     : diverged.found && last->loss < diverged.smoothed / kDivergeFactor);
  if (!attribute(f, c, {"exploding-gradients"}) && !nan && !still_capped &&
      !(big_updates && stuck) && recovered &&
      !attribute(f, c, {"input-unnormalized", "preprocessing-mismatch"})) {
    // With nothing to blame, a spike the run climbed out of (ending better
    // than chance) cost some steps, not the run: worth knowing, not an alarm.
    f.severity = Severity::note;
    f.title += fmt::format(" early on, and the run recovered (final training loss {})",
                           short_number(last->loss));
  }
  c.found.push_back(f);
}

void rule_non_finite(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  const RunEvent* e = first_nonfinite_event(r);
  if (!e || event_pass(*e) == "input" || c.has("lr-too-high")) return;
  Finding f("non-finite", Severity::problem, e->message);
  f.add("step", static_cast<double>(e->step + 1), e->message);
  f.threshold = "any NaN or Inf in the loss or the gradients";
  f.source =
      "Keras TerminateOnNaN; PyTorch anomaly detection (names the operation that produced NaN)";
  f.fix =
      fmt::format("lower the learning rate ({}), normalize the inputs, check the initialization",
                  lower_lr_advice(r));
  attribute(f, c, {"exploding-gradients", "input-unnormalized", "preprocessing-mismatch"});
  c.found.push_back(f);
}

namespace {
// "Slow": the loss fell in most epochs, over many steps, yet by little in all.
constexpr int64_t kSlowMinSteps = 50;
constexpr double kSlowMaxGain = 0.10;
constexpr double kSteadyShare = 0.8;
// SGD's step is lr x the gradient, and the gradient of sum(w l) / n scales
// with the mean sample weight: 1/count weights (mean K/n) shrink every step
// like a rate that much lower. Adam divides the scale out. A mean weight
// under 0.1 with the loss still near chance is a starved run.
constexpr double kTinyWeightMean = 0.1;
constexpr double kNearChance = 0.9;

// Share of epoch-to-epoch transitions in which the training loss fell.
double falling_share(const RunRecord& r) {
  if (r.epochs.size() < 2) return 0;
  int falls = 0;
  for (size_t i = 1; i < r.epochs.size(); ++i) falls += r.epochs[i].loss < r.epochs[i - 1].loss;
  return static_cast<double>(falls) / static_cast<double>(r.epochs.size() - 1);
}
}  // namespace

void rule_lr_too_low(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.steps.size() < 2 || r.epochs.empty()) return;
  const double ratio = median(update_ratio_medians(r));
  const double gain = improvement(r);
  const double lr = r.steps.front().learning_rate;
  const bool tiny_updates = ratio < kUpdateRatioLow && gain < kMinImprovement;
  const double effective_lr = lr * r.weight_mean;
  const bool starved = !tiny_updates && r.optimizer == "sgd" && r.classes > 0 &&
                       r.weight_mean < kTinyWeightMean &&
                       r.late_loss() > kNearChance * training_chance_loss(r);
  // Steady but slow: every epoch helps a little, and the budget is far too
  // small for the rate (article 003 ex. 1: 100 Adam steps at 1e-3, targets ~10).
  const bool slow = !tiny_updates && !starved &&
                    static_cast<int64_t>(r.steps.size()) >= kSlowMinSteps && gain > 0 &&
                    gain < kSlowMaxGain && falling_share(r) >= kSteadyShare;
  if (!tiny_updates && !slow && !starved) return;
  Finding f(
      "lr-too-low", tiny_updates || starved ? Severity::problem : Severity::warning,
      tiny_updates
          ? fmt::format("the learning rate ({}) is too low: the loss changed by {:.2f}% over "
                        "the run",
                        short_number(lr), -100 * gain)
      : starved
          ? fmt::format("the effective learning rate is too low: SGD at {} with sample weights of "
                        "mean {} takes steps like a rate of {}, and the loss stays near chance",
                        short_number(lr), short_number(r.weight_mean), short_number(effective_lr))
          : fmt::format("training is too slow for its budget: the loss fell steadily but "
                        "only {:.1f}% over {} steps at learning rate {}",
                        100 * gain, r.steps.size(), short_number(lr)));
  if (starved) {
    f.add("weight_mean", r.weight_mean,
          fmt::format("mean sample weight {} (the loss and every SGD step scale with it)",
                      short_number(r.weight_mean)));
    f.add("effective_learning_rate", effective_lr,
          fmt::format("learning rate {} x mean weight {} = {}", short_number(lr),
                      short_number(r.weight_mean), short_number(effective_lr)));
    f.add(
        "loss_vs_chance", r.late_loss() / training_chance_loss(r),
        fmt::format("loss over the last 10% of steps {} vs chance ln({}) x the mean weight = {}",
                    short_number(r.late_loss()), r.classes, short_number(training_chance_loss(r))));
  }
  f.add("update_ratio", ratio,
        fmt::format("median update/weight ratio {} per step (healthy ~1e-3, CS231n)",
                    short_number(ratio)));
  f.add("loss_improvement", gain,
        fmt::format("loss {} over the first 10% of steps, {} over the last 10%",
                    short_number(r.early_loss()), short_number(r.late_loss())));
  if (slow)
    f.add("falling_share", falling_share(r),
          fmt::format("the loss fell in {:.0f}% of the epochs", 100 * falling_share(r)));
  f.add("learning_rate", lr, fmt::format("learning rate {} ({})", short_number(lr), r.optimizer));
  f.threshold = fmt::format(
      "median update/weight ratio below {} and the loss improving less than {:.0f}%; or, over "
      "{}+ steps, a loss falling in {:.0f}%+ of epochs yet by under {:.0f}% in all; or SGD with "
      "a mean sample weight below {} and the loss above {} x chance (ln K x the mean weight)",
      kUpdateRatioLow, 100 * kMinImprovement, kSlowMinSteps, 100 * kSteadyShare, 100 * kSlowMaxGain,
      kTinyWeightMean, kNearChance);
  f.source = kLrSource;
  f.fix = starved
              ? "use sample weights with a mean of 1 (n / (K count), --class-weight balanced), or "
                "Adam, which divides the scale out"
              : fmt::format(
                    "raise the learning rate (x10 to x100: --lr {}), train for more epochs, or "
                    "run convkit lr-find",
                    short_number(lr * 100));
  attribute(f, c, {"dead-relu", "vanishing-gradients"});
  c.found.push_back(f);
}

}  // namespace ck
