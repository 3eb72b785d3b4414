#pragma once
// The rules of convkit's diagnosis (apps/diagnose.h), one small function
// each, with their thresholds named and cited beside them. docs/diagnose.md
// lists every finding, its rule, threshold and source.
//
// Rules run in a fixed order (root causes first) and may read what earlier
// rules found: a symptom explained by a root cause already named (dead ReLUs
// after a diverged learning rate, say) is reported as a note pointing at it.
#include <optional>
#include <string>
#include <vector>

#include "apps/finding.h"
#include "apps/run_record.h"

namespace ck {

struct DiagnosisContext {
  const RunRecord& run;
  std::vector<Finding> found;

  const Finding* get(const std::string& id) const;
  bool has(const std::string& id) const { return get(id) != nullptr; }
};

// The checks the live guard also makes at the first step (apps/train_guard.h).
std::optional<Finding> check_input_scale(const InputStats& inputs);
// loss_name: loss_name(LossKind); classes: K (2 for binary); label_counts may be empty;
// weight_mean: the batch's mean sample weight (the loss is sum(w l) / n, so
// chance scores ln K x weight_mean).
std::optional<Finding> check_initial_loss(double initial_loss, int classes,
                                          const std::string& loss_name,
                                          const std::vector<int64_t>& label_counts,
                                          double weight_mean = 1);

// Data (apps/diagnose_rules_data.cpp)
void rule_input_scale(DiagnosisContext& c);
void rule_input_noise(DiagnosisContext& c);
void rule_reference_mismatch(DiagnosisContext& c);
void rule_class_imbalance(DiagnosisContext& c);
void rule_prediction_collapse(DiagnosisContext& c);
// Optimization (apps/diagnose_rules_optim.cpp)
void rule_input_non_finite(DiagnosisContext& c);
void rule_non_finite(DiagnosisContext& c);
void rule_lr_too_high(DiagnosisContext& c);
void rule_lr_too_low(DiagnosisContext& c);
void rule_initial_loss(DiagnosisContext& c);
// Layers (apps/diagnose_rules_layers.cpp)
void rule_vanishing_gradients(DiagnosisContext& c);
void rule_exploding_gradients(DiagnosisContext& c);
void rule_dead_relu(DiagnosisContext& c);
// Fit (apps/diagnose_rules_fit.cpp)
void rule_overfitting(DiagnosisContext& c);
void rule_underfitting(DiagnosisContext& c);
void rule_still_improving(DiagnosisContext& c);
void rule_no_validation(DiagnosisContext& c);

// Shared measurements and helpers.
// A symptom explained by a root cause already found becomes a note saying so.
// Returns whether it was explained.
bool attribute(Finding& symptom, const DiagnosisContext& c,
               std::initializer_list<const char*> causes);
// Layers with parameters, in model order.
std::vector<size_t> param_layers(const RunRecord& run);
double median(std::vector<double> values);
// The recall of class k in a confusion matrix (NaN without samples).
double recall(const Confusion& confusion, int k);
// "on the test set", "on a sample of the training data"
std::string on_data(const Confusion& confusion);
// "--lr 0.001 (the optimizer's default)" or a tenth of the current rate.
std::string lower_lr_advice(const RunRecord& run);
// Where the validation figures come from: "validation", "test" or nothing.
std::optional<double> eval_loss(const EpochRecord& e);
std::optional<double> eval_accuracy(const EpochRecord& e);
std::string eval_name(const RunRecord& run);
// Shannon entropy (nats) of the label distribution; ln K for balanced labels.
double label_entropy(const std::vector<int64_t>& counts);
// The chance-level loss of an untrained classifier: ln K (ln 2 for binary).
double chance_loss(int classes);
// The same on the scale of the run's (weighted) training loss: ln K x the
// first epoch's mean sample weight. Held-out losses are unweighted: use chance_loss(K).
double training_chance_loss(const RunRecord& run);

}  // namespace ck
