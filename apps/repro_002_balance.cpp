// Article 002, "Why is my TensorFlow image classification model failing to
// learn?", example 3 (and article 004, example 3): class_weight = 1 / count
// on a long-tailed training set, against balanced weights, oversampling and
// undersampling (class-weights).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "apps/repro.h"
#include "apps/repro_002_measures.h"
#include "core/format.h"
#include "data/export.h"
#include "data/sources.h"

namespace ck {

void repro_class_weights(ReproContext& ctx) {
  ctx.heading("As written: class_weight = {label: 1.0 / count}");
  ctx.say(
      "The article weights each class by the inverse of its count, so every sample's loss is "
      "multiplied by 1 / n_k. Two things in its three lines are off. It passes class_weight to "
      "model.compile(), which has no such argument: class_weight belongs to fit() (Keras 3's "
      "compile() raises TypeError; TensorFlow 2.0's silently ignored unknown arguments, so the "
      "weights never applied). convkit runs what the article means, fit(class_weight=...). And "
      "1 / n_k are tiny numbers: Keras sums weight x loss over the batch and divides by the "
      "batch size, not by the sum of the weights, so the loss and every gradient shrink by the "
      "mean weight. scikit-learn's 'balanced' weights n / (K n_k) give the same ratios at a mean "
      "of 1. Whether the scale matters depends on the optimizer: Adam divides each step by the "
      "gradient's own magnitude, SGD does not.");

  // A long-tailed Fashion-MNIST: class k keeps n_max * ratio^(-k/9) training
  // images (class order, no choice of which classes are rare); the test split
  // stays balanced.
  const int64_t n_max = ctx.pick<int64_t>(300, 1000), per_class_test = ctx.pick<int64_t>(50, 1000);
  const double ratio = 100;
  const DataSplits fmnist = load_data("fashion-mnist");
  const int K = fmnist.train.num_classes();
  ExportOptions train_export;
  train_export.seed = ctx.seed();
  std::string shares;
  for (int k = 0; k < K; ++k) {
    const double n = std::round(n_max * std::pow(ratio, -k / (K - 1.0)));
    train_export.imbalance.push_back(n);
    train_export.limit += static_cast<int64_t>(n);
    shares += fmt::format("{}{:g}", k ? ":" : "", n);
  }
  ExportOptions test_export;
  test_export.seed = ctx.seed();
  test_export.limit = per_class_test * K;
  const std::string dir = ctx.work_dir() + "/longtail";
  export_images(fmnist.train, dir + "/train", train_export);
  export_images(*fmnist.test, dir + "/test", test_export);
  ctx.say(fmt::format(
      "Real data: Fashion-MNIST exported as a PNG folder with a long tail in class order, {} "
      "training images from {} of class 0 down to {:g} of class {} ({:g}:1), and a balanced test "
      "split of {} per class, so test accuracy is balanced accuracy (the mean of the per-class "
      "recalls). The folder is `convkit data export --to longtail --split both --limit {} "
      "--test-limit {} --imbalance {} --seed {}`. LeNet-5, Adam, batch 32, {} epochs; the tail "
      "is the 5 rarest classes, the head the 5 commonest.",
      with_commas(train_export.limit), n_max, train_export.imbalance.back(), K - 1, ratio,
      per_class_test, train_export.limit, test_export.limit, shares, ctx.seed(), ctx.pick(3, 10)));

  const int epochs = ctx.pick(3, 10);
  TrainOptions none = repro_options(ctx, dir, "lenet5", epochs);
  TrainOptions inverse = none, balanced = none, over = none, under = none;
  inverse.data.class_weight = "inverse";
  balanced.data.class_weight = "balanced";
  over.data.resample = "over";
  under.data.resample = "under";
  ReproRun& b = ctx.train("none: no remedy", none);
  ReproRun& inv = ctx.train("inverse: class_weight 1/count", inverse);
  ReproRun& bal = ctx.train("balanced: class_weight n/(K count)", balanced);
  ReproRun& ov = ctx.train("over: oversampling", over);
  ReproRun& un = ctx.train("under: undersampling", under);
  TrainOptions sgd_inverse = inverse, sgd_balanced = balanced;
  sgd_inverse.optimizer = sgd_balanced.optimizer = "sgd";
  sgd_inverse.momentum = sgd_balanced.momentum = 0.9f;
  ReproRun& si = ctx.train("sgd-inverse: SGD, 1/count", sgd_inverse);
  ReproRun& sb = ctx.train("sgd-balanced: SGD, n/(K count)", sgd_balanced);
  const std::vector<ReproRun*> runs = {&b, &inv, &bal, &ov, &un, &si, &sb};

  const Dataset& train = b.run->data->train_set();
  const std::vector<int64_t> counts = train.class_counts(b.run->data->train_indices);
  const std::vector<int> rarest = classes_by_count(counts, true),
                         commonest = classes_by_count(counts, false);
  const std::vector<int> tail(rarest.begin(), rarest.begin() + K / 2),
      head(commonest.begin(), commonest.begin() + K / 2);
  auto tail_of = [&](const ReproRun& r) { return mean_recall(*r.final_eval(), tail); };
  auto head_of = [&](const ReproRun& r) { return mean_recall(*r.final_eval(), head); };

  ctx.table(epoch_table("Per epoch: no remedy vs the article's weights vs balanced weights",
                        {&b, &inv, &bal}, {"loss", "test_accuracy"}));
  Table per_epoch;
  per_epoch.title = "Mean test recall of the tail (the 5 rarest classes), per epoch";
  per_epoch.columns = {"epoch"};
  for (const ReproRun* r : runs) per_epoch.columns.push_back(run_name(*r));
  for (int e = 0; e < epochs; ++e) {
    std::vector<std::string> row = {std::to_string(e + 1)};
    for (const ReproRun* r : runs)
      row.push_back(e < r->epochs() && r->outcome.epochs[e].test
                        ? fmt::format("{:.3f}", mean_recall(*r->outcome.epochs[e].test, tail))
                        : "");
    per_epoch.rows.push_back(row);
  }
  ctx.table(per_epoch);
  Table per_class;
  per_class.title = fmt::format("Test recall per class after {} epochs", epochs);
  per_class.columns = {"class", "training images"};
  for (const ReproRun* r : runs) per_class.columns.push_back(run_name(*r));
  for (int k : commonest) {
    std::vector<std::string> row = {train.class_names[k], with_commas(counts[k])};
    for (const ReproRun* r : runs) row.push_back(fmt::format("{:.3f}", r->final_eval()->recall(k)));
    per_class.rows.push_back(row);
  }
  ctx.table(per_class);

  Table t;
  t.title = fmt::format("After {} epochs on the balanced test split", epochs);
  t.columns = {"run",
               "optimizer",
               "samples/epoch",
               "mean weight",
               "accuracy at the training mix",
               "balanced accuracy",
               "macro F1",
               "tail recall",
               "head recall",
               "worst class",
               "diagnosis"};
  for (const ReproRun* r : runs) {
    const EvalResult& e = *r->final_eval();
    const double w = mean_class_weight(*r, counts);
    const int worst = worst_class(e);
    const std::string id = "real." + run_name(*r);
    ctx.number(id + ".balanced_accuracy", r->balanced_accuracy());
    ctx.number(id + ".macro_f1", r->macro_f1());
    ctx.number(id + ".tail_recall", tail_of(*r));
    ctx.number(id + ".head_recall", head_of(*r));
    ctx.number(id + ".worst_recall", e.recall(worst));
    ctx.number(id + ".mix_accuracy", mix_accuracy(e, counts));
    ctx.number(id + ".mean_weight", w);
    t.rows.push_back(
        {run_name(*r), r->options.optimizer, with_commas(r->run->data->train->samples()),
         fmt::format("{:.4g}", w), fmt::format("{:.3f}", mix_accuracy(e, counts)),
         fmt::format("{:.3f}", r->balanced_accuracy()), fmt::format("{:.3f}", r->macro_f1()),
         fmt::format("{:.3f}", tail_of(*r)), fmt::format("{:.3f}", head_of(*r)),
         fmt::format("{} {:.3f}", worst, e.recall(worst)), r->diagnosis()});
  }
  ctx.table(t);
  ctx.table(epoch_table(
      "Per epoch under SGD (lr 0.01, momentum 0.9): the article's weights vs balanced weights",
      {&si, &sb}, {"loss", "grad_norm", "test_accuracy"}));

  // The remedies against none.
  const int worst = worst_class(*b.final_eval());
  const bool neglected = ctx.check(
      "Without a remedy the tail is recalled worse than the head (by more than 5 points)",
      tail_of(b) < head_of(b) - 0.05,
      fmt::format("mean recall {:.3f} for the 5 rarest classes vs {:.3f} for the 5 commonest; "
                  "weakest class {} ({} training images) at {:.3f}",
                  tail_of(b), head_of(b), train.class_names[worst], counts[worst],
                  b.final_eval()->recall(worst)));
  const bool weights_help = ctx.check(
      "The article's 1/count weights raise the tail's recall, balanced accuracy and macro F1",
      tail_of(inv) > tail_of(b) && inv.balanced_accuracy() > b.balanced_accuracy() &&
          inv.macro_f1() > b.macro_f1(),
      fmt::format("tail recall {:.3f} vs {:.3f}; balanced accuracy {:.3f} vs {:.3f}; macro F1 "
                  "{:.3f} vs {:.3f}",
                  tail_of(inv), tail_of(b), inv.balanced_accuracy(), b.balanced_accuracy(),
                  inv.macro_f1(), b.macro_f1()));
  const double mix_cost =
      mix_accuracy(*b.final_eval(), counts) - mix_accuracy(*inv.final_eval(), counts);
  ctx.number("real.mix_cost_of_weights", mix_cost);
  const bool over_helps = ctx.check(
      "Oversampling raises balanced accuracy", ov.balanced_accuracy() > b.balanced_accuracy(),
      fmt::format("{:.3f} vs {:.3f} without a remedy (tail recall {:.3f})", ov.balanced_accuracy(),
                  b.balanced_accuracy(), tail_of(ov)));
  // Oversampling shows the rarest images dozens of times an epoch.
  const double over_train_tail = mean_recall(on_training_images(ov), tail);
  ctx.number("real.over.train_tail_recall", over_train_tail);
  const bool memorized = over_train_tail > tail_of(ov) + 0.1;
  const bool under_helps = ctx.check(
      "Undersampling raises balanced accuracy", un.balanced_accuracy() > b.balanced_accuracy(),
      fmt::format(
          "{:.3f} vs {:.3f} without a remedy, training on {} samples per epoch instead of {}",
          un.balanced_accuracy(), b.balanced_accuracy(), un.run->data->train->samples(),
          b.run->data->train->samples()));

  // 1/count is n/(K count) times K/n: the same weighting, scaled.
  const double scale = mean_class_weight(inv, counts) / mean_class_weight(bal, counts);
  const double loss_ratio = inv.initial_loss() / bal.initial_loss();
  const double grad_ratio = inv.figure("grad_norm", 0) / bal.figure("grad_norm", 0);
  ctx.number("as_written.weight_scale", scale);
  ctx.number("as_written.initial_loss_ratio", loss_ratio);
  ctx.number("as_written.grad_norm_ratio", grad_ratio);
  const bool scaled = ctx.check(
      "The article's 1/count weights scale the loss down by the mean weight",
      std::fabs(loss_ratio / scale - 1) < 0.01,
      fmt::format("first-batch loss {} with 1/count vs {} with n/(K count): ratio {:.4g}, mean "
                  "weight {:.4g}; epoch-1 gradient norm ratio {:.4g}",
                  metric_text(inv.initial_loss(), 6), metric_text(bal.initial_loss()), loss_ratio,
                  scale, grad_ratio));
  const double adam_diff = inv.balanced_accuracy() - bal.balanced_accuracy();
  const double sgd_diff = sb.balanced_accuracy() - si.balanced_accuracy();
  const double inv_step = first_update_ratio(inv), bal_step = first_update_ratio(bal);
  ctx.number("real.adam_scale_effect", adam_diff);
  ctx.number("real.sgd_scale_effect", sgd_diff);
  ctx.number("real.inverse.update_ratio", inv_step);
  ctx.number("real.balanced.update_ratio", bal_step);
  const bool adam_invariant = ctx.check(
      "With Adam the scale hardly changes the step: first-epoch update/weight ratios within 30%",
      std::fabs(inv_step / bal_step - 1) <= 0.3,
      fmt::format("median update/weight ratio in epoch 1 {:.2g} with 1/count vs {:.2g} with n/(K "
                  "count), for gradients {:.0f}x smaller; balanced accuracy {:.3f} vs {:.3f}",
                  inv_step, bal_step, 1 / grad_ratio, inv.balanced_accuracy(),
                  bal.balanced_accuracy()));
  const bool sgd_starved = ctx.check(
      "With SGD the scale matters: 1/count learns far less than n/(K count)", sgd_diff > 0.1,
      fmt::format("balanced accuracy {:.3f} with 1/count vs {:.3f} with n/(K count); training "
                  "loss {} -> {} vs {} -> {}",
                  si.balanced_accuracy(), sb.balanced_accuracy(), metric_text(si.initial_loss(), 6),
                  metric_text(si.last("loss"), 6), metric_text(sb.initial_loss()),
                  metric_text(sb.last("loss"))));
  // What the SGD run with 1/count weights learned: its share of test
  // predictions on the head, and its loss against chance (ln K x the mean weight).
  const EvalResult& si_eval = *si.final_eval();
  int64_t on_head = 0, predictions = 0;
  for (int truth = 0; truth < K; ++truth)
    for (int p = 0; p < K; ++p) {
      predictions += si_eval.confusion[truth * K + p];
      if (std::find(head.begin(), head.end(), p) != head.end())
        on_head += si_eval.confusion[truth * K + p];
    }
  const double head_share = static_cast<double>(on_head) / predictions;
  const double si_chance = std::log(static_cast<double>(K)) * mean_class_weight(si, counts);
  ctx.number("real.sgd-inverse.head_prediction_share", head_share);

  std::string v = neglected
                      ? fmt::format(
                            "Without a remedy the tail is neglected: the 5 rarest classes "
                            "are recalled at {:.1f}% against {:.1f}% for the 5 commonest, "
                            "the weakest, {} ({} training images), at {:.1f}% (diagnosis: {}). ",
                            100 * tail_of(b), 100 * head_of(b), train.class_names[worst],
                            counts[worst], 100 * b.final_eval()->recall(worst), b.diagnosis())
                      : fmt::format(
                            "Without a remedy the tail is NOT clearly neglected here "
                            "({:.1f}% recall vs {:.1f}% for the head; diagnosis: {}). ",
                            100 * tail_of(b), 100 * head_of(b), b.diagnosis());
  // diagnose's class-imbalance rule weighs every minority class's recall
  // against the other classes'; say so when it lets a neglected tail pass.
  const Finding* imbalance = nullptr;
  for (const Finding& f : b.findings)
    if (f.id == "class-imbalance") imbalance = &f;
  const bool imbalance_named = imbalance && imbalance->severity != Severity::note;
  if (neglected && !imbalance_named)
    v += imbalance ? fmt::format(
                         "diagnose names the imbalance only as a note: the minority classes' mean "
                         "recall ({:.3f}) is not under half the other classes'. ",
                         imbalance->value("minority_recall"))
                   : "diagnose does not name the imbalance. ";
  v += weights_help ? fmt::format(
                          "The article's 1/count weights work once passed to fit(): tail recall "
                          "{:.1f}% -> {:.1f}%, balanced accuracy {:.1f}% -> {:.1f}%, macro F1 "
                          "{:.3f} -> {:.3f}",
                          100 * tail_of(b), 100 * tail_of(inv), 100 * b.balanced_accuracy(),
                          100 * inv.balanced_accuracy(), b.macro_f1(), inv.macro_f1())
                    : fmt::format(
                          "The article's 1/count weights do NOT help on every count here: tail "
                          "recall {:.1f}% vs {:.1f}%, balanced accuracy {:.1f}% vs {:.1f}%, macro "
                          "F1 {:.3f} vs {:.3f}",
                          100 * tail_of(inv), 100 * tail_of(b), 100 * inv.balanced_accuracy(),
                          100 * b.balanced_accuracy(), inv.macro_f1(), b.macro_f1());
  v += mix_cost > 0 ? fmt::format(
                          ", at a cost of {:.1f} points of accuracy at the training "
                          "mix, where the head dominates: plain accuracy on imbalanced "
                          "data rewards neglecting the tail. ",
                          100 * mix_cost)
                    : fmt::format(
                          ", and even the accuracy at the training mix does not drop "
                          "({:+.1f} points). ",
                          -100 * mix_cost);
  v += over_helps
           ? fmt::format("Oversampling raises balanced accuracy too ({:.1f}% -> {:.1f}%)",
                         100 * b.balanced_accuracy(), 100 * ov.balanced_accuracy())
           : fmt::format("Oversampling does NOT raise balanced accuracy ({:.1f}% vs {:.1f}%)",
                         100 * ov.balanced_accuracy(), 100 * b.balanced_accuracy());
  v += memorized ? fmt::format(
                       ", but it shows the rarest class's {} images about {:.0f} times an "
                       "epoch and the model memorizes the tail: {:.1f}% recall on its "
                       "training images against {:.1f}% on the test images (diagnosis: {}). ",
                       counts[rarest[0]], double(counts[commonest[0]]) / counts[rarest[0]],
                       100 * over_train_tail, 100 * tail_of(ov), ov.diagnosis())
                 : fmt::format(" (diagnosis: {}). ", ov.diagnosis());
  v += fmt::format("Undersampling {} ({:.1f}%, training on {} images per epoch; diagnosis: {}). ",
                   under_helps ? "helps" : "does NOT help: it throws most of the data away",
                   100 * un.balanced_accuracy(), un.run->data->train->samples(), un.diagnosis());
  v += scaled ? fmt::format(
                    "As written the weights also shrink the loss and its gradients "
                    "{:.0f}-fold (mean weight {:.3g}). ",
                    1 / scale, scale)
              : fmt::format(
                    "The loss did NOT scale with the mean weight as expected (ratio "
                    "{:.3g} vs {:.3g}). ",
                    loss_ratio, scale);
  v += adam_invariant
           ? fmt::format(
                 "Adam cancels most of it: it divides each step by the gradient's own "
                 "size, so its first-epoch steps are {:.0f}% {} (update/weight ratio {:.2g} "
                 "vs {:.2g}) and it ends {:+.1f} points of balanced accuracy from balanced "
                 "weights; ",
                 100 * std::fabs(inv_step / bal_step - 1),
                 inv_step < bal_step ? "shorter" : "longer", inv_step, bal_step, 100 * adam_diff)
           : fmt::format(
                 "Even Adam's steps change: its epsilon (1e-7, added to the uncorrected "
                 "sqrt(v) as Keras does) is no longer negligible next to gradients that "
                 "small (update/weight ratio {:.2g} vs {:.2g}), and it ends {:+.1f} points "
                 "from balanced weights; ",
                 inv_step, bal_step, 100 * adam_diff);
  v += sgd_starved
           ? fmt::format(
                 "SGD cannot: its steps shrink by the same factor and it ends at {:.1f}% "
                 "balanced accuracy against {:.1f}% with n/(K count) weights (diagnosis: {}). ",
                 100 * si.balanced_accuracy(), 100 * sb.balanced_accuracy(), si.diagnosis())
           : fmt::format(
                 "and SGD does NOT suffer as much as expected ({:.1f}% vs {:.1f}% "
                 "balanced accuracy). ",
                 100 * si.balanced_accuracy(), 100 * sb.balanced_accuracy());
  if (sgd_starved && si.last("loss") > 0.9 * si_chance)
    v += fmt::format(
        "That run learns nothing: its weighted loss stays at chance ({} in epoch 1, "
        "{} at the end; ln {} x the mean weight = {}) and {:.0f}% of its test "
        "predictions fall on the head. ",
        metric_text(si.figure("loss", 0), 6), metric_text(si.last("loss"), 6), K,
        metric_text(si_chance, 6), 100 * head_share);
  // Overfitting named on a run that trains on the long-tailed mix: the gap
  // between its training accuracy and the balanced test split's is the mix.
  for (const ReproRun* r : {&b, &inv, &bal, &si, &sb}) {
    const double mix = mix_accuracy(*r->final_eval(), counts);
    if (r->diagnosis().find("overfitting") != std::string::npos &&
        r->last("accuracy") - r->last("test_accuracy") >= 0.1 && r->last("accuracy") - mix < 0.05)
      v += fmt::format(
          "diagnose calls {} overfitting, which misreads it: its training accuracy "
          "{:.3f} is what its test recalls give at the training mix ({:.3f}); the gap "
          "to the balanced test split ({:.3f}) is the class mix, not memorization. ",
          run_name(*r), r->last("accuracy"), mix, r->last("test_accuracy"));
  }
  // initial-loss named on a weighted run: the run without a remedy starts
  // from the same weights and the same first batch, unweighted.
  for (const ReproRun* r : {&bal, &sb})
    if (r->diagnosis().find("initial-loss") != std::string::npos &&
        b.initial_loss() < 1.5 * std::log(double(K)))
      v += fmt::format(
          "diagnose's initial-loss warning on {} reads the weighted loss: the same "
          "first batch scores {} unweighted (ln {} = {:.3f}); weights up to {:.3g} "
          "raise it to {}. ",
          run_name(*r), metric_text(b.initial_loss()), K, std::log(double(K)),
          *std::max_element(r->run->data->train->class_weights().begin(),
                            r->run->data->train->class_weights().end()),
          metric_text(r->initial_loss()));
  v += "Weights with a mean of 1 (n / (K n_k)) give the same balance without changing the scale.";
  ctx.verdict(v);
}

}  // namespace ck
