// Diagnosis rules about fit: overfitting (train/validation gap), underfitting
// (too little capacity), and the notes of a run that was simply cut short.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "apps/diagnose_rules.h"

namespace ck {

namespace {

// AUTOTRAINER's "test_not_well" gap: train accuracy - validation accuracy
// >= 0.1 (>= 0.07 once training accuracy passes 0.9).
constexpr double kGapLowAccuracy = 0.1;
constexpr double kGapHighAccuracy = 0.07;
constexpr double kHighAccuracy = 0.9;
// Prechelt's generalization loss GL = 100 * (E_val / E_val_min - 1): early
// stopping criteria stop at GL of a few percent; 20% is well past that.
constexpr double kGeneralizationLoss = 0.2;
// Underfitting: the training loss still above half of chance (ln K) with
// train and validation alike, and either no progress (under 2% in the last
// epoch) or a layer narrower than the number of classes.
constexpr double kUnderfitLossFraction = 0.5;
constexpr double kSameAccuracy = 0.05;
constexpr double kPlateau = 0.02;
// Still improving: the training loss fell more than 5% in the last epoch.
constexpr double kStillImproving = 0.05;

double relative_drop(double before, double after) {
  return before > 0 && std::isfinite(before) && std::isfinite(after) ? (before - after) / before
                                                                     : 0;
}

// The held-out accuracy at the training class mix: each class's held-out
// recall weighted by its share of the training labels. Training accuracy is
// measured at the training mix; a held-out split with other class shares
// (a balanced test set for long-tailed training data) would otherwise show a
// gap that is the mix, not memorization. Nothing without a held-out
// confusion matrix or label counts.
std::optional<double> accuracy_at_training_mix(const RunRecord& r) {
  if (!r.confusion || r.confusion->source == "training sample" ||
      r.confusion->classes != r.classes || static_cast<int>(r.label_counts.size()) != r.classes)
    return std::nullopt;
  double weighted = 0, shares = 0;
  for (int k = 0; k < r.classes; ++k) {
    const double rk = recall(*r.confusion, k);
    if (!std::isfinite(rk) || r.label_counts[k] == 0) continue;
    weighted += static_cast<double>(r.label_counts[k]) * rk;
    shares += static_cast<double>(r.label_counts[k]);
  }
  if (shares <= 0) return std::nullopt;
  return weighted / shares;
}

}  // namespace

void rule_overfitting(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.epochs.size() < 2 || !eval_loss(r.epochs.back())) return;
  const std::string name = eval_name(r);
  size_t best = 0;
  for (size_t i = 0; i < r.epochs.size(); ++i)
    if (eval_loss(r.epochs[i]) && *eval_loss(r.epochs[i]) < *eval_loss(r.epochs[best])) best = i;
  const EpochRecord& last = r.epochs.back();
  const double min_loss = *eval_loss(r.epochs[best]);
  const double gl = min_loss > 0 ? *eval_loss(last) / min_loss - 1 : 0;
  const bool rising = gl > kGeneralizationLoss && best + 2 <= r.epochs.size() - 1 &&
                      last.loss < r.epochs[best].loss;
  double gap = 0, held_out = 0;
  bool wide = false;
  const std::optional<double> at_mix = accuracy_at_training_mix(r);
  // Training accuracy is measured at the training mix, the held-out one at
  // its own: memorization shows a gap at either mix, so the gap is taken
  // against the better of the two (a gap at one mix only is the mix, or the
  // noise of re-weighting onto a few classes' small held-out counts).
  const double train_accuracy = last.accuracy.value_or(0);
  if (r.classes > 0 && last.accuracy && eval_accuracy(last)) {
    held_out = at_mix ? std::max(*at_mix, *eval_accuracy(last)) : *eval_accuracy(last);
    gap = train_accuracy - held_out;
    wide = gap >= (train_accuracy > kHighAccuracy ? kGapHighAccuracy : kGapLowAccuracy);
  }
  if (!rising && !wide) return;
  const std::string held_out_text =
      at_mix ? fmt::format("{} accuracy {} as measured, {} at the training class mix", name,
                           short_number(*eval_accuracy(last)), short_number(*at_mix))
             : fmt::format("{} accuracy {}", name, short_number(held_out));
  Finding f("overfitting", Severity::warning,
            fmt::format("the model overfits: {}",
                        rising ? fmt::format("the {} loss rose {:.0f}% above its best "
                                             "(epoch {}) while the training loss kept falling",
                                             name, 100 * gl, best + 1)
                               : fmt::format("training accuracy {} vs {}",
                                             short_number(train_accuracy), held_out_text)));
  f.add(
      "generalization_loss", gl,
      best + 1 == r.epochs.size()
          ? fmt::format("{} loss {}, its lowest so far", name, short_number(min_loss))
          : fmt::format("{} loss {} now, {} at its best (epoch {}); training loss {} now, {} then",
                        name, short_number(*eval_loss(last)), short_number(min_loss), best + 1,
                        short_number(last.loss), short_number(r.epochs[best].loss)));
  if (r.classes > 0 && last.accuracy)
    f.add("accuracy_gap", gap,
          fmt::format("train accuracy {} - the better of {} = {}", short_number(train_accuracy),
                      held_out_text, short_number(gap)));
  f.threshold = fmt::format(
      "{} loss {:.0f}%+ above its minimum two or more epochs on (Prechelt's "
      "generalization loss)",
      name, 100 * kGeneralizationLoss);
  // A regression has no accuracy: the loss alone judges it.
  if (r.has_accuracy())
    f.threshold += fmt::format(
        ", or train - {} accuracy >= {} (>= {} above {} training accuracy; AUTOTRAINER), "
        "against the better of the held-out accuracy as measured and at the training class mix "
        "(per-class recall weighted by the training label shares)",
        name, kGapLowAccuracy, kGapHighAccuracy, kHighAccuracy);
  f.source =
      "Prechelt, \"Early Stopping - But When?\" (1998); AUTOTRAINER (ICSE 2021) test_not_well; "
      "Keras EarlyStopping";
  f.fix = fmt::format(
      "more data or augmentation, dropout or a smaller model, or stop at epoch {} "
      "(early stopping)",
      best + 1);
  // A run with a problem already named fits badly for that reason first; a
  // gap left while the model neglects its minority classes is judged again
  // once the imbalance is dealt with.
  for (const Finding& g : c.found)
    if (g.severity == Severity::problem) {
      f.severity = Severity::note;
      f.title += fmt::format(" (judge again once {} is fixed)", g.id);
      break;
    }
  if (f.severity != Severity::note) attribute(f, c, {"class-imbalance"});
  c.found.push_back(f);
}

void rule_underfitting(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.classes < 2 || r.epochs.empty() || !r.epochs.back().accuracy ||
      !eval_accuracy(r.epochs.back()))
    return;
  for (const Finding& f : c.found)
    if (f.severity == Severity::problem) return;  // a root cause explains the poor fit
  const EpochRecord& last = r.epochs.back();
  const double chance = training_chance_loss(r);  // the training loss is weighted
  const double fraction = last.loss / chance;
  const double gap = *last.accuracy - *eval_accuracy(last);
  if (!(fraction > kUnderfitLossFraction) || std::fabs(gap) >= kSameAccuracy) return;
  const double drop =
      r.epochs.size() >= 2 ? relative_drop(r.epochs[r.epochs.size() - 2].loss, last.loss) : 1;
  // The narrowest hidden representation, in values per sample (units of a
  // dense layer; height x width x channels of a convolution, whose every
  // position carries its channels to the next layer). The output layer's
  // logits are a linear map of it: under K - 1 values confine them to a
  // subspace of too few dimensions to place K classes freely.
  const std::vector<size_t> layers = param_layers(r);
  int64_t narrowest = 0;
  size_t at = 0;
  for (size_t k = 0; k + 1 < layers.size(); ++k) {
    const Shape& s = r.layers[layers[k]].output_shape;
    if (s.empty()) continue;
    int64_t values = 1;
    for (int64_t d : s) values *= std::max<int64_t>(d, 1);
    if (narrowest == 0 || values < narrowest) narrowest = values, at = layers[k];
  }
  const bool bottleneck = narrowest > 0 && narrowest < r.classes - 1;
  const bool plateau = r.epochs.size() >= 3 && drop < kPlateau;
  if (!bottleneck && !plateau) return;
  Finding f(
      "underfitting", Severity::warning,
      fmt::format("the model underfits: training loss {} ({:.0f}% of chance) with training and {} "
                  "accuracy alike ({} vs {}){}",
                  short_number(last.loss), 100 * fraction, eval_name(r),
                  short_number(*last.accuracy), short_number(*eval_accuracy(last)),
                  bottleneck ? fmt::format(": {} passes on {} values per sample for {} classes",
                                           r.layers[at].name, narrowest, r.classes)
                             : ": it stopped improving"));
  f.add("loss_fraction_of_chance", fraction,
        fmt::format("training loss {} vs ln({}){} = {}", short_number(last.loss), r.classes,
                    r.sample_weights ? " x the mean sample weight" : "", short_number(chance)));
  f.add("accuracy_gap", gap,
        fmt::format("train - {} accuracy {}", eval_name(r), short_number(gap)));
  f.add("last_epoch_improvement", drop,
        fmt::format("the training loss fell {:.1f}% in the last epoch", 100 * drop));
  if (narrowest > 0)
    f.add("narrowest_layer", static_cast<double>(narrowest),
          fmt::format(
              "narrowest hidden layer: {} with {} values per sample ({}); {} parameters in all",
              r.layers[at].name, narrowest, shape_compact(r.layers[at].output_shape),
              r.config.value("params", int64_t{0})));
  f.threshold = fmt::format(
      "training loss above {} x ln(K), |train - validation accuracy| below {}, "
      "and either a hidden layer passing on fewer than K - 1 values per sample (all "
      "positions and channels) or under {:.0f}% progress in the last epoch",
      kUnderfitLossFraction, kSameAccuracy, 100 * kPlateau);
  f.source =
      "Goodfellow, Bengio, Courville, \"Deep Learning\" (2016) sec. 5.2 (capacity, under- and "
      "overfitting); Karpathy (2019): overfit first, then regularize";
  f.fix =
      "give the model more capacity: wider layers (at least as many units as classes), more "
      "filters, or another convolution block";
  c.found.push_back(f);
}

void rule_still_improving(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.epochs.size() < 2 || has_alarm(c.found)) return;
  const double drop = relative_drop(r.epochs[r.epochs.size() - 2].loss, r.epochs.back().loss);
  if (drop <= kStillImproving) return;
  Finding f(
      "still-improving", Severity::note,
      fmt::format("the training loss was still falling ({:.0f}% in the last epoch): more epochs "
                  "would likely help",
                  100 * drop));
  f.add("last_epoch_improvement", drop,
        fmt::format("training loss {} -> {}", short_number(r.epochs[r.epochs.size() - 2].loss),
                    short_number(r.epochs.back().loss)));
  f.threshold =
      fmt::format("training loss down more than {:.0f}% in the last epoch", 100 * kStillImproving);
  f.source =
      "Keras EarlyStopping (min_delta): training stops paying off once the loss stops falling";
  f.fix = "train for more epochs (--epochs; --resume continues a checkpointed run)";
  c.found.push_back(f);
}

void rule_no_validation(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.epochs.empty() || eval_loss(r.epochs.back())) return;
  Finding f("no-validation", Severity::note,
            "no validation or test data: over- and underfitting cannot be judged");
  f.threshold = "no held-out figures in the run";
  f.source = "Keras validation_split; Goodfellow et al. (2016) sec. 5.3";
  f.fix = "hold out data: --validation-split 0.1";
  c.found.push_back(f);
}

}  // namespace ck
