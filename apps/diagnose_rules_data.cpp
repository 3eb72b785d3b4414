// Diagnosis rules about the data: input scale, preprocessing that differs
// from a pretrained base's, class imbalance, predictions collapsed onto one class.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "apps/diagnose_rules.h"

namespace ck {

namespace {

// Inputs are "normalized" when their scale is of order 1: weights initialized
// for unit-variance inputs (Glorot, He) then give unit-variance activations.
// Raw 8-bit pixels have std ~80, far outside; a double scaling (x/255/255)
// leaves values near 0.
constexpr double kMaxInputStd = 5.0;
constexpr double kMaxInputMean = 5.0;
constexpr double kMinInputStd = 0.01;
constexpr const char* kInputScaleSource =
    "LeCun, Bottou, Orr, Mueller, \"Efficient BackProp\" (1998) sec. 4.3: inputs with mean ~0 and "
    "variance ~1; CS231n \"Neural Networks Part 2\" (data preprocessing); article 000";

}  // namespace

std::optional<Finding> check_input_scale(const InputStats& s) {
  if (s.samples == 0) return std::nullopt;
  const ChannelStats& a = s.all;
  const bool large = a.std > kMaxInputStd || std::fabs(a.mean) > kMaxInputMean;
  const bool tiny =
      a.std < kMinInputStd && std::max(std::fabs(a.max), std::fabs(a.min)) < 0.05 && a.max > a.min;
  if (!large && !tiny) return std::nullopt;
  Finding f("input-unnormalized", Severity::problem, "");
  if (large)
    f.title = s.looks_like_raw_pixels()
                  ? fmt::format(
                        "the inputs are raw 0..255 pixels (mean {}, std {}): the model expects "
                        "values of order 1",
                        short_number(a.mean), short_number(a.std))
                  : fmt::format(
                        "the inputs are not normalized (mean {}, std {}): the model expects "
                        "values of order 1",
                        short_number(a.mean), short_number(a.std));
  else
    f.title = fmt::format("the inputs are nearly all zero (max {}, std {}): scaled twice?",
                          short_number(a.max), short_number(a.std));
  f.add("input_std", a.std,
        fmt::format("inputs as they enter the model: {} ({})", s.describe(), s.describe_range()));
  f.add("input_mean", a.mean, fmt::format("input mean {}", short_number(a.mean)));
  f.add("raw_pixels", s.looks_like_raw_pixels() ? 1 : 0,
        fmt::format("{:.0f}% whole numbers", 100 * s.whole_fraction));
  f.threshold = fmt::format(
      "input std above {} or |mean| above {} (or std below {} with every value "
      "near 0)",
      kMaxInputStd, kMaxInputMean, kMinInputStd);
  f.source = kInputScaleSource;
  f.fix = large
              ? (s.looks_like_raw_pixels()
                     ? "scale the pixels: --scale 1/255 (as the fixed article code divides by 255)"
                     : "standardize the inputs (subtract the training mean, divide by the training "
                       "std)")
              : "scale the inputs once, not twice";
  return f;
}

void rule_input_noise(DiagnosisContext& c) {
  // Natural images have strongly correlated neighbouring pixels (~0.9);
  // np.random images have none, and neither structure nor labels to learn.
  constexpr double kNoiseCorrelation = 0.1;
  const double r = c.run.input_stats.neighbor_correlation;
  if (!(std::fabs(r) < kNoiseCorrelation)) return;
  Finding f(
      "input-noise", Severity::note,
      fmt::format("the inputs look like random noise (adjacent pixels correlate at {}; natural "
                  "images near 0.9): a model can only memorize them",
                  short_number(r)));
  f.add("neighbor_correlation", r,
        fmt::format("correlation of horizontally adjacent input values {}", short_number(r)));
  f.threshold = fmt::format("|correlation of adjacent pixels| below {}", kNoiseCorrelation);
  f.source =
      "Zhang et al., \"Understanding deep learning requires rethinking generalization\" (ICLR "
      "2017): "
      "networks memorize random images and labels; ../shared/EXPERIMENTS.md (honest verdicts)";
  f.fix = "judge a fix on real data (e.g. Fashion-MNIST): on noise, only memorization can be seen";
  c.found.push_back(f);
}

void rule_input_scale(DiagnosisContext& c) {
  // A run that starts from a pretrained base is judged against that base's
  // inputs instead (rule_reference_mismatch): caffe-style inputs are fine there.
  if (c.run.reference_input_stats) return;
  if (std::optional<Finding> f = check_input_scale(c.run.input_stats)) c.found.push_back(*f);
}

}  // namespace ck

namespace ck {

void rule_reference_mismatch(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (!r.reference_input_stats) {
    // Imported weights without a record of their inputs: the scale rule
    // cannot tell whether caffe-style inputs are what the base expects.
    if (r.pretrained)
      for (Finding& f : c.found)
        if (f.id == "input-unnormalized") {
          f.severity = Severity::note;
          f.title +=
              " (the imported weights may expect exactly this; their file does not record "
              "their training inputs)";
        }
    return;
  }
  for (Finding f : compare_input_stats(*r.reference_input_stats, r.input_stats)) {
    f.title = "the inputs differ from those the imported weights were trained on: " + f.title;
    f.fix = "preprocess the data as the pretrained base's model file says (convkit summary FILE)";
    c.found.push_back(f);
  }
}

namespace {

// cleanlab's Datalab flags the rarest class when its share is below
// threshold / K with threshold 0.1. A 4:1 majority:minority ratio is flagged
// too (binary data at 9:1, article 004, passes cleanlab's test yet routinely
// collapses onto the majority), provided the rare class falls short of its
// balanced share by more than chance: 3 binomial standard deviations, so a
// hundred randomly labelled samples are not called imbalanced.
constexpr double kCleanlabThreshold = 0.1;
constexpr double kImbalanceRatio = 4.0;
constexpr double kChanceDeviations = 3.0;
// The imbalance hurts when the minority classes are recalled, on average,
// at under half the rate of the other classes.
constexpr double kRecallRatio = 0.5;
// Collapse: nearly all predictions on one class while the other classes are
// recalled at under 20% on average.
constexpr double kCollapseShare = 0.9;
constexpr double kCollapseOtherRecall = 0.2;
constexpr double kStillLearning = 0.02;  // loss down 2%+ from the first to the last steps

std::string class_name(const RunRecord& r, int k) {
  return k < static_cast<int>(r.class_names.size()) ? fmt::format("{} ({})", k, r.class_names[k])
                                                    : std::to_string(k);
}

}  // namespace

void rule_class_imbalance(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  const std::vector<int64_t>& n = r.label_counts;
  if (r.classes < 2 || n.size() < 2) return;
  const int64_t total = std::accumulate(n.begin(), n.end(), int64_t{0});
  // Classes with no sample at all are absent, not rare: judge the others.
  int present = 0, common = -1;
  for (int k = 0; k < static_cast<int>(n.size()); ++k) {
    if (n[k] == 0) continue;
    ++present;
    if (common < 0 || n[k] > n[common]) common = k;
  }
  if (total == 0 || present < 2) return;
  // Every minority class, as cleanlab flags each class under its share (not
  // only the rarest): under threshold / K, or 4:1 below the commonest and
  // further below its balanced share than chance allows.
  const double cleanlab_limit = kCleanlabThreshold / present;
  const double p = 1.0 / present, expected = total * p;
  const double chance_floor = expected - kChanceDeviations * std::sqrt(total * p * (1 - p));
  std::vector<int> minority;
  for (int k = 0; k < static_cast<int>(n.size()); ++k) {
    if (n[k] == 0) continue;
    const double share = static_cast<double>(n[k]) / total;
    const bool by_ratio =
        static_cast<double>(n[common]) / n[k] >= kImbalanceRatio && n[k] < chance_floor;
    if (share < cleanlab_limit || by_ratio) minority.push_back(k);
  }
  if (minority.empty()) return;
  std::sort(minority.begin(), minority.end(), [&](int a, int b) { return n[a] < n[b]; });
  const int rare = minority.front();
  const double rare_share = static_cast<double>(n[rare]) / total;
  const double ratio = static_cast<double>(n[common]) / n[rare];
  std::string named;
  for (size_t i = 0; i < minority.size() && i < 6; ++i)
    named += fmt::format("{}{} ({})", i ? ", " : "", class_name(r, minority[i]), n[minority[i]]);
  if (minority.size() > 6) named += fmt::format(" and {} more", minority.size() - 6);

  Finding f(
      "class-imbalance", Severity::note,
      fmt::format("the classes are imbalanced: class {} has {} samples; {} minority class{}: {}",
                  class_name(r, common), n[common], minority.size(),
                  minority.size() > 1 ? "es" : "", named));
  f.add("imbalance_ratio", ratio, fmt::format("majority:minority {}:1", short_number(ratio)));
  f.add("rarest_share", rare_share,
        fmt::format("rarest class share {:.2f}% (cleanlab flags below {:.2f}%)", 100 * rare_share,
                    100 * cleanlab_limit));
  f.add("minority_classes", static_cast<double>(minority.size()),
        "minority classes (samples): " + named);
  f.threshold = fmt::format(
      "a class's share below {} / K (cleanlab), or {}:1 or more below the "
      "commonest with its count {} binomial stds below its balanced share; "
      "a warning when the minority classes' mean recall is under {} of the "
      "other classes'",
      kCleanlabThreshold, kImbalanceRatio, kChanceDeviations, kRecallRatio);
  f.source =
      "cleanlab Datalab ClassImbalanceIssueManager (threshold 0.1); article 004 ex. 3; Keras "
      "class_weight";
  f.fix =
      "weight the loss by inverse class frequency (class_weight), or over/undersample to balance "
      "the batches";
  if (r.confusion) {
    // Whether the model copes: the minority classes' recall against the rest's.
    double minority_recall = 0, other_recall = 0;
    int minority_seen = 0, others_seen = 0;
    std::string neglected;
    for (int k = 0; k < r.confusion->classes && k < static_cast<int>(n.size()); ++k) {
      const double rk = recall(*r.confusion, k);
      if (!std::isfinite(rk) || n[k] == 0) continue;
      if (std::find(minority.begin(), minority.end(), k) != minority.end())
        minority_recall += rk, ++minority_seen;
      else
        other_recall += rk, ++others_seen;
    }
    if (minority_seen > 0 && others_seen > 0) {
      minority_recall /= minority_seen, other_recall /= others_seen;
      for (int k : minority) {
        const double rk = k < r.confusion->classes ? recall(*r.confusion, k) : std::nan("");
        if (std::isfinite(rk) && rk < kRecallRatio * other_recall)
          neglected += fmt::format("{}{} {}", neglected.empty() ? "" : ", ", class_name(r, k),
                                   short_number(rk));
      }
      f.add(
          "minority_recall", minority_recall,
          fmt::format("mean recall {}: minority classes {}, the others {}{}", on_data(*r.confusion),
                      short_number(minority_recall), short_number(other_recall),
                      neglected.empty() ? "" : "; neglected: " + neglected));
      if (minority_recall < kRecallRatio * other_recall) {
        f.severity = Severity::warning;
        f.title += fmt::format("; the model recalls them at {} vs {} for the other classes{}",
                               short_number(minority_recall), short_number(other_recall),
                               neglected.empty() ? "" : " (neglected: " + neglected + ")");
        // Weights that were meant to compensate and did not are worth saying.
        if (r.sample_weights) f.title += "; the sample weights do not compensate";
        c.found.push_back(f);
        return;
      }
    }
  }
  if (r.sample_weights) f.title += "; sample weights compensate in the loss";
  c.found.push_back(f);
}

void rule_prediction_collapse(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.classes < 2 || r.epochs.empty() || !r.confusion) return;
  const std::vector<int64_t>& p = r.epochs.back().predicted;
  const int64_t total = std::accumulate(p.begin(), p.end(), int64_t{0});
  if (total == 0) return;
  const int top = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
  const double share = static_cast<double>(p[top]) / total;
  if (share < kCollapseShare) return;
  std::vector<double> others;
  for (int k = 0; k < r.confusion->classes; ++k)
    if (k != top) others.push_back(recall(*r.confusion, k));
  std::erase_if(others, [](double x) { return !std::isfinite(x); });
  const double other_recall =
      others.empty() ? 0 : std::accumulate(others.begin(), others.end(), 0.0) / others.size();
  if (other_recall >= kCollapseOtherRecall) return;

  const std::vector<int64_t>& n = r.label_counts;
  const bool majority = !n.empty() && top == std::max_element(n.begin(), n.end()) - n.begin() &&
                        c.has("class-imbalance");
  const int64_t labels = std::accumulate(n.begin(), n.end(), int64_t{0});
  Finding f("prediction-collapse", Severity::problem,
            fmt::format("the model predicts class {} for {:.0f}% of the training sample{}",
                        class_name(r, top), 100 * share,
                        majority ? ": it collapsed onto the majority class" : ""));
  f.add("top_prediction_share", share,
        fmt::format("{} of {} probe predictions are class {}", p[top], total, class_name(r, top)));
  if (labels > 0 && top < static_cast<int>(n.size()))
    f.add("top_label_share", static_cast<double>(n[top]) / labels,
          fmt::format("class {} is {:.0f}% of the labels", class_name(r, top),
                      100.0 * n[top] / labels));
  f.add("other_recall", other_recall,
        fmt::format("mean recall of the other classes {}: {}", on_data(*r.confusion),
                    short_number(other_recall)));
  f.threshold = fmt::format(
      "{:.0f}%+ of predictions on one class while the other classes' mean "
      "recall is below {}",
      100 * kCollapseShare, kCollapseOtherRecall);
  f.source =
      "Karpathy, \"A Recipe for Training Neural Networks\" (2019): visualize predictions; "
      "AUTOTRAINER (Zhang et al., ICSE 2021): accuracy that does not move";
  f.fix = majority
              ? "balance the classes: class weights (inverse frequency) or oversampling the rare "
                "classes"
              : "check the learning rate, the input scale and the initialization: a model that "
                "outputs one class has stopped using its input";
  const bool explained =
      attribute(f, c,
                {"lr-too-high", "exploding-gradients", "dead-relu", "vanishing-gradients",
                 "input-unnormalized", "lr-too-low", "non-finite", "input-non-finite"});
  // With balanced labels and nothing broken, a model that answers one class
  // while its loss still falls has simply not learned yet (random labels do
  // this for many steps); it is a problem once the loss stops moving.
  const double early = r.early_loss(), late = r.late_loss();
  const bool learning = early > 0 && (early - late) / early >= kStillLearning;
  if (!explained && !majority) {
    f.severity = learning ? Severity::note : Severity::warning;
    if (learning) f.title += " (its loss is still falling: it has not learned yet)";
  }
  c.found.push_back(f);
  // An imbalance the model collapsed onto is more than a note.
  if (majority && f.severity == Severity::problem)
    for (Finding& g : c.found)
      if (g.id == "class-imbalance" && g.severity == Severity::note) g.severity = Severity::warning;
}

}  // namespace ck
