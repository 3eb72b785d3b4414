// Diagnosis rules about layers: exploding and vanishing gradients, dead ReLUs.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "apps/diagnose_rules.h"

namespace ck {

namespace {

// AUTOTRAINER (Zhang et al., ICSE 2021, utils/monitor.py defaults): with
// gradient norms of the first and last layers g1, gL, vanishing when
// g1/gL < 1e-3 and g1 < 1e-4 (beta_1, beta_2), exploding when g1/gL > 70
// (beta_3), judged only while training does not converge (accuracy below
// Theta = 0.7).
constexpr double kVanishRatio = 1e-3;
constexpr double kVanishFirst = 1e-4;
constexpr double kExplodeRatio = 70;
constexpr double kConvergedAccuracy = 0.7;
// Gradients larger than 10x the weights they update, before any update,
// mean the initialization (or the input) is far too large: healthy layers
// start near 1.
constexpr double kInitialGradToWeight = 10;
// ... for layers of up to ~1,000 inputs per unit (Fashion-MNIST's 784-pixel
// Dense). A layer's gradient is its input times the error, so with order-1
// inputs its norm grows like sqrt(fan-in) while Glorot/He weight norms do
// not: a healthy Flatten->Dense of 760,000 inputs starts near 20x. Wider
// layers get the bar raised by sqrt(fan-in / 1,000).
constexpr double kReferenceFanIn = 1000;
// Dying ReLU: AUTOTRAINER flags 70% zero gradients (gamma); fastai's
// activation stats track the share of outputs near zero. Here a layer with
// 90% of its units never firing on any probe input is dead (a problem); 50%
// is a warning when it grew by 25 points since epoch 1 (units are dying).
constexpr double kDeadWarning = 0.5;
constexpr double kDeadGrowth = 0.25;
constexpr double kDeadProblem = 0.9;
constexpr const char* kAutotrainerSource =
    "AUTOTRAINER (Zhang et al., \"AUTOTRAINER: An Automatic DNN Training Problem Detection and "
    "Repair System\", ICSE 2021): gradient-norm ratio of first to last layer";

// A regression has no accuracy: it converges when its loss halves from the
// first to the last tenth of the steps.
constexpr double kConvergedLossFraction = 0.5;

// Training is not converging: AUTOTRAINER judges gradients only then.
bool not_converging(const RunRecord& r) {
  if (r.epochs.empty()) return true;
  const EpochRecord& last = r.epochs.back();
  if (!std::isfinite(last.loss)) return true;
  if (r.has_accuracy() && last.accuracy)
    return *last.accuracy < kConvergedAccuracy || last.loss >= training_chance_loss(r);
  const double early = r.early_loss(), late = r.late_loss();
  return !(late < kConvergedLossFraction * early);
}

// The evidence and the rule of not_converging, in the figures it judged.
std::string not_converging_evidence(const RunRecord& r) {
  const EpochRecord& last = r.epochs.back();
  if (r.has_accuracy() && last.accuracy)
    return fmt::format("training does not converge: final loss {}, accuracy {}",
                       short_number(last.loss), short_number(*last.accuracy));
  return fmt::format(
      "training does not converge: final loss {}; loss {} over the last tenth of the steps vs {} "
      "over the first",
      short_number(last.loss), short_number(r.late_loss()), short_number(r.early_loss()));
}
std::string not_converging_rule(const RunRecord& r) {
  if (r.has_accuracy())
    return fmt::format("accuracy below {} or loss no better than chance", kConvergedAccuracy);
  return fmt::format("the loss over the last tenth of the steps above {} x that over the first",
                     kConvergedLossFraction);
}

}  // namespace

void rule_exploding_gradients(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  const std::vector<size_t> layers = param_layers(r);
  if (layers.size() < 1 || r.epochs.empty() || !not_converging(r)) return;
  // Before any update: gradients against the weights they will move. Only
  // for cross-entropy, whose output gradient is bounded: a regression's
  // gradient grows with its targets' scale, which Adam shrugs off.
  double init_ratio = 0, init_bar = kInitialGradToWeight, init_excess = 0;
  size_t init_layer = 0;
  for (size_t i : layers)
    if (r.classes > 0 && i < r.initial_grad_norms.size() && i < r.initial_param_norms.size() &&
        r.initial_param_norms[i] > 0) {
      const double ratio = r.initial_grad_norms[i] / r.initial_param_norms[i];
      // Inputs per unit: (fan-in + 1) x units parameters, dense or convolution.
      const Shape& out = r.layers[i].output_shape;
      const double units =
          out.empty() ? 1.0 : static_cast<double>(std::max<int64_t>(out.back(), 1));
      const double fan_in = std::max(1.0, static_cast<double>(r.layers[i].params) / units - 1);
      const double bar = kInitialGradToWeight * std::sqrt(std::max(1.0, fan_in / kReferenceFanIn));
      if (ratio / bar > init_excess)
        init_excess = ratio / bar, init_ratio = ratio, init_bar = bar, init_layer = i;
    }
  const EpochRecord& first = r.epochs.front();
  if (first.layers.size() < r.layers.size()) return;
  const double g1 = first.layers[layers.front()].grad_norm,
               gL = first.layers[layers.back()].grad_norm;
  const double first_last = layers.size() > 1 && gL > 0 ? g1 / gL : 0;
  const bool at_init = init_excess > 1;
  const bool ratio = first_last > kExplodeRatio;
  if (!at_init && !ratio) return;
  Finding f("exploding-gradients", Severity::problem,
            at_init
                ? fmt::format("the gradients are exploding from the start: {}'s gradient is {}x "
                              "its weights before any update",
                              r.layers[init_layer].name, short_number(init_ratio))
                : fmt::format("the gradients are exploding: the first layer's gradient is {}x the "
                              "last layer's",
                              short_number(first_last)));
  if (at_init)
    f.add("initial_grad_to_weight", init_ratio,
          fmt::format("{}: gradient norm {} vs weight norm {} at the first step (bar for its "
                      "fan-in: {}x)",
                      r.layers[init_layer].name, short_number(r.initial_grad_norms[init_layer]),
                      short_number(r.initial_param_norms[init_layer]), short_number(init_bar)));
  if (layers.size() > 1)
    f.add("first_last_ratio", first_last,
          fmt::format("epoch 1 mean gradient norm: {} {} / {} {} = {}",
                      r.layers[layers.front()].name, short_number(g1), r.layers[layers.back()].name,
                      short_number(gL), short_number(first_last)));
  f.add("final_loss", r.epochs.back().loss, not_converging_evidence(r));
  f.threshold = fmt::format(
      "a layer's gradient above {}x its weights at the first step (x sqrt(fan-in / {}) "
      "for wider layers), or first/last layer gradient ratio above {} (AUTOTRAINER beta_3), "
      "while training does not converge ({})",
      kInitialGradToWeight, kReferenceFanIn, kExplodeRatio, not_converging_rule(r));
  f.source = std::string(kAutotrainerSource) +
             "; Pascanu, Mikolov, Bengio, \"On the difficulty of training recurrent neural "
             "networks\" (2013)";
  f.fix =
      "use Keras's default initialization (glorot_uniform) or smaller initial weights, clip the "
      "gradient norm, or normalize the inputs";
  // Raw 0..255 inputs (or inputs unlike a pretrained base's) make every
  // gradient of the first layer 100x larger: the input is the cause.
  attribute(f, c, {"input-unnormalized", "preprocessing-mismatch", "input-non-finite"});
  c.found.push_back(f);
}

void rule_vanishing_gradients(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  const std::vector<size_t> layers = param_layers(r);
  if (layers.size() < 2 || r.epochs.empty() || !not_converging(r)) return;
  // Judged on the first epoch, before later symptoms (dead units) muddy it.
  const EpochRecord& e = r.epochs.front();
  if (e.layers.size() < r.layers.size()) return;
  const double g1 = e.layers[layers.front()].grad_norm, gL = e.layers[layers.back()].grad_norm;
  if (!(gL > 0) || !(g1 / gL < kVanishRatio) || !(g1 < kVanishFirst)) return;
  Finding f("vanishing-gradients", Severity::problem,
            fmt::format("the gradients vanish before they reach the first layers: {}'s gradient is "
                        "{} of {}'s",
                        r.layers[layers.front()].name, short_number(g1 / gL),
                        r.layers[layers.back()].name));
  std::string profile;
  for (size_t i : layers)
    profile += fmt::format("{}{} {}", profile.empty() ? "" : ", ", r.layers[i].name,
                           short_number(e.layers[i].grad_norm));
  f.add("first_last_ratio", g1 / gL, "epoch 1 mean gradient norms, input to output: " + profile);
  f.add("first_grad_norm", g1, fmt::format("first layer gradient norm {}", short_number(g1)));
  const EpochRecord& last = r.epochs.back();
  if (r.has_accuracy() && last.accuracy)
    f.add("final_accuracy", *last.accuracy, not_converging_evidence(r));
  else
    f.add("final_loss", last.loss, not_converging_evidence(r));
  f.threshold = fmt::format(
      "first/last layer gradient ratio below {} and first-layer gradient below "
      "{} (AUTOTRAINER beta_1, beta_2), while training does not converge ({})",
      kVanishRatio, kVanishFirst, not_converging_rule(r));
  f.source = std::string(kAutotrainerSource) + "; Glorot & Bengio (2010) on saturating sigmoids";
  f.fix =
      "use ReLU instead of sigmoid/tanh in hidden layers, a shallower model, or batch "
      "normalization";
  attribute(f, c, {"dead-relu", "lr-too-high", "exploding-gradients"});
  c.found.push_back(f);
}

void rule_dead_relu(DiagnosisContext& c) {
  const RunRecord& r = c.run;
  if (r.epochs.empty()) return;
  const EpochRecord& first = r.epochs.front();
  const EpochRecord& e = r.epochs.back();
  double worst = 0, grew = 0;
  size_t at = 0;
  for (size_t i = 0; i < e.layers.size() && i < r.layers.size(); ++i)
    if (e.layers[i].dead_fraction > worst) {
      worst = e.layers[i].dead_fraction, at = i;
      grew = r.epochs.size() > 1 && i < first.layers.size() ? worst - first.layers[i].dead_fraction
                                                            : 0;
    }
  // Half dead from the first epoch on and stable is what inputs without
  // structure (random noise) do to any ReLU layer: every input looks alike,
  // so a unit is on for all or for none. Units that keep dying, or a layer
  // nearly all dead, are the failure.
  const Severity severity = worst >= kDeadProblem                          ? Severity::problem
                            : worst >= kDeadWarning && grew >= kDeadGrowth ? Severity::warning
                                                                           : Severity::note;
  if (severity == Severity::note) return;
  const LayerHealth& h = e.layers[at];
  const int64_t dead = std::llround(worst * h.units);
  Finding f(
      "dead-relu", severity,
      fmt::format("{:.0f}% of {}'s ReLU units are dead: they never fire on any of the probe inputs",
                  100 * worst, r.layers[at].name));
  f.add("dead_fraction", worst,
        fmt::format("{}: {} of {} units never positive over the probe (epoch {})",
                    r.layers[at].name, dead, h.units, e.epoch + 1));
  std::string others;
  for (size_t i = 0; i < e.layers.size() && i < r.layers.size(); ++i)
    if (e.layers[i].dead_fraction >= 0)
      others += fmt::format("{}{} {:.0f}%", others.empty() ? "" : ", ", r.layers[i].name,
                            100 * e.layers[i].dead_fraction);
  f.add("near_zero", h.near_zero, "dead units per ReLU layer: " + others);
  if (r.epochs.size() > 1)
    f.add(
        "dead_growth", grew,
        fmt::format("{:.0f}% dead after epoch 1, {:.0f}% now", 100 * (worst - grew), 100 * worst));
  f.threshold = fmt::format(
      "{:.0f}%+ of a ReLU layer's units never positive over the probe (a problem), "
      "or {:.0f}%+ after growing by {:.0f} points since epoch 1 (a warning)",
      100 * kDeadProblem, 100 * kDeadWarning, 100 * kDeadGrowth);
  f.source =
      "AUTOTRAINER (ICSE 2021) dying-ReLU rule; fastai ActivationStats (share of activations near "
      "zero)";
  f.fix =
      "lower the learning rate, initialize biases at 0 (Keras's default), or use fewer/normalized "
      "inputs";
  attribute(f, c,
            {"lr-too-high", "exploding-gradients", "input-unnormalized", "input-non-finite",
             "non-finite"});
  c.found.push_back(f);
}

}  // namespace ck
