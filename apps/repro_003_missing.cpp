// Article 003, example 3: missing values imputed with the training means,
// and the same imputer applied at inference (missing-values).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "apps/inference.h"
#include "apps/repro.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/rng.h"
#include "data/csv.h"
#include "data/sources.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

// The error prepare_training stops with, or "" when it accepts the options.
std::string refusal(const TrainOptions& o) {
  try {
    prepare_training(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every row of `csv` through `pre` as `convkit predict` reads it (row_input),
// then the model: the outputs (N, K), or the error predict stops with.
Tensor predict_rows(Model& model, const Preprocessing& pre, const CsvTable& t,
                    std::string* error = nullptr) {
  Tensor x({static_cast<int64_t>(t.rows.size()), static_cast<int64_t>(pre.columns.size())}), out;
  try {
    for (size_t r = 0; r < t.rows.size(); ++r)
      pre.row_input(t.header, t.rows[r],
                    fmt::format("{} line {}", fs::path(t.name).filename().string(), t.lines[r]),
                    x.data() + r * x.dim(1));
  } catch (const Error& e) {
    if (!error) throw;
    *error = e.what();
    return out;
  }
  model.predict(x, out);
  return out;
}

// Fashion-MNIST pooled to 7x7 (the mean of each 4x4 block, rounded): 49
// pixel features with real signal, small enough to train in a second.
struct Table49 {
  std::vector<std::array<int, 49>> rows;
  std::vector<int> labels;
  std::vector<std::vector<int>> gaps;  // per row: the features missing
};

Table49 pooled(const Dataset& d, int64_t n, double gap_share, uint64_t seed) {
  Table49 t;
  std::vector<float> x(d.sample_size());
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    d.copy_sample(i, x.data());
    std::array<int, 49> row{};
    for (int by = 0; by < 7; ++by)
      for (int bx = 0; bx < 7; ++bx) {
        double s = 0;
        for (int y = 0; y < 4; ++y)
          for (int xx = 0; xx < 4; ++xx) s += x[(4 * by + y) * 28 + 4 * bx + xx];
        row[by * 7 + bx] = static_cast<int>(std::lround(s / 16));
      }
    // Half the rows lose 1..12 features, missing completely at random.
    std::vector<int> gaps;
    if (rng.uniform() < gap_share) {
      std::vector<int> all(49);
      for (int j = 0; j < 49; ++j) all[j] = j;
      rng.shuffle(std::span<int>(all));
      gaps.assign(all.begin(), all.begin() + 1 + rng.below(12));
      std::sort(gaps.begin(), gaps.end());
    }
    t.rows.push_back(row);
    t.labels.push_back(d.label(i));
    t.gaps.push_back(std::move(gaps));
  }
  return t;
}

enum class Cells { gaps, complete, complete_rows_only, zero_filled };

void write_table(const std::string& path, const Table49& t, Cells cells) {
  std::string s;
  for (int j = 0; j < 49; ++j) s += fmt::format("p{},", j);
  s += "label\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (cells == Cells::complete_rows_only && !t.gaps[r].empty()) continue;
    for (int j = 0; j < 49; ++j) {
      const bool gap = std::find(t.gaps[r].begin(), t.gaps[r].end(), j) != t.gaps[r].end();
      if (gap && cells == Cells::gaps)
        s += ",";
      else if (gap && cells == Cells::zero_filled)
        s += "0,";
      else
        s += fmt::format("{},", t.rows[r][j]);
    }
    s += fmt::format("{}\n", t.labels[r]);
  }
  write_file_atomically(path, s);
}

// Share of `rows` (or of every row) whose largest output is the label.
double accuracy(const Tensor& out, const Table49& t, bool gapped_rows) {
  int64_t right = 0, n = 0;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.gaps[r].empty() == gapped_rows) continue;
    const float* p = out.data() + r * out.dim(1);
    right += std::max_element(p, p + out.dim(1)) - p == t.labels[r];
    ++n;
  }
  return n ? double(right) / n : std::nan("");
}

}  // namespace

void repro_missing_values(ReproContext& ctx) {
  ctx.heading(
      "As written: feature1 = [1, 2, NaN, 4], feature2 = [5, 6, 7, 8], target = [9, 10, 11, 12]");
  ctx.say(
      "The article fits scikit-learn's SimpleImputer(strategy='mean') on the training frame and "
      "applies it unchanged to a test frame with a gap (feature1 = [3, NaN]). It trains no model "
      "('Train model on imputed data'); convkit uses example 1's Dense(1) with Adam and MSE, at "
      "the budget that converges there (lr 0.1, 300 epochs), so the predictions mean something. "
      "The gaps are an empty cell, as pandas writes NaN to CSV, and NaN.");
  const fs::path dir = ctx.work_dir();
  const std::string train_csv = (dir / "train.csv").string(),
                    test_csv = (dir / "test.csv").string();
  write_file_atomically(train_csv, "feature1,feature2,target\n1,5,9\n2,6,10\n,7,11\n4,8,12\n");
  write_file_atomically(test_csv, "feature1,feature2,target\n3,9,13\nNaN,10,14\n");
  TrainOptions plain = repro_options(ctx, train_csv, "dense(1)", 300);
  plain.lr = 0.1f;
  plain.data.label_column = "target";
  plain.data.regression = true;
  plain.loss = "mse";
  const std::string refused = refusal(plain);
  ctx.preformatted("$ " + train_command(plain) +
                   "\nconvkit: " + (refused.empty() ? "(it trained)" : refused));
  TrainOptions imputed = plain;
  imputed.data.impute = "mean";
  imputed.save = (dir / "imputed.safetensors").string();
  ReproRun& a = ctx.train("as written: --impute mean", imputed);
  save_model(imputed.save, a.run->model, trained_model_info(*a.run, a.outcome));
  LoadedModel saved = load_model(imputed.save);
  const CsvTable test = read_csv(test_csv);
  const Tensor predicted = predict_rows(saved.model, saved.info.preprocessing, test);
  // The gap filled by hand with the mean of feature1's training values (1, 2, 4).
  const double mean1 = (1.0 + 2.0 + 4.0) / 3;
  CsvTable by_hand = test;
  by_hand.rows[1][0] = fmt::format("{:.9g}", mean1);
  const Tensor manual = predict_rows(saved.model, saved.info.preprocessing, by_hand);
  std::string no_imputer;
  std::string skipped;
  predict_rows(saved.model, without_preprocessing(saved.info.preprocessing, skipped), test,
               &no_imputer);
  // What Keras does with the gap: the NaN goes into the model.
  Tensor nan_row({1, 2}), nan_out;
  nan_row[0] = std::nanf(""), nan_row[1] = 10;
  saved.model.predict(nan_row, nan_out);
  ctx.preformatted(
      fmt::format("saved fill values (training means): {}\n"
                  "predict test.csv:              line 2 -> {:.4f}, line 3 (feature1 missing) -> "
                  "{:.4f} (targets 13, 14)\n"
                  "feature1 = {:.4f} typed by hand: line 3 -> {:.4f}\n"
                  "predict --no-preprocess:       convkit: {}\n"
                  "the NaN row given to the model as Keras would: {}",
                  fmt::join(saved.info.preprocessing.fill, ", "), predicted[0], predicted[1], mean1,
                  manual[1], no_imputer.empty() ? "(it predicted)" : no_imputer, nan_out[0]));
  ctx.number("as_written.fill", saved.info.preprocessing.fill.empty()
                                    ? std::nan("")
                                    : saved.info.preprocessing.fill[0]);
  ctx.number("as_written.gap_prediction", predicted[1]);
  ctx.number("as_written.manual_prediction", manual[1]);
  const bool names_cell = ctx.check(
      "Without an imputer convkit refuses to train, naming the line and column of the gap",
      refused.find("line 4") != std::string::npos &&
          refused.find("\"feature1\"") != std::string::npos,
      fmt::format("prepare_training: {}", refused.empty() ? "(accepted the gap)" : refused));
  const bool matches = ctx.check(
      "With the saved imputer the gap gets the training mean: the same prediction as the row "
      "filled by hand",
      std::isfinite(predicted[1]) &&
          std::fabs(predicted[1] - manual[1]) <= 1e-6 * std::max(1.0f, std::fabs(manual[1])),
      fmt::format(
          "fill {:.6g} (mean of 1, 2, 4 = {:.6g}); prediction {:.6f} imputed vs {:.6f} by hand",
          saved.info.preprocessing.fill.empty() ? std::nan("") : saved.info.preprocessing.fill[0],
          mean1, predicted[1], manual[1]));
  const bool predict_refuses = ctx.check(
      "predict without the imputer (--no-preprocess) refuses the gap, naming the row and column",
      no_imputer.find("line 3") != std::string::npos &&
          no_imputer.find("\"feature1\"") != std::string::npos,
      no_imputer.empty() ? "it predicted" : no_imputer);

  ctx.heading("Real-data twin: Fashion-MNIST as 49 pooled pixel features, half the rows with gaps");
  const int64_t train_rows = ctx.pick<int64_t>(2000, 12000),
                test_rows = ctx.pick<int64_t>(1000, 5000);
  const DataSplits fm = load_data("fashion-mnist");
  const Table49 train = pooled(fm.train, train_rows, 0.5, ctx.seed());
  const Table49 held = pooled(*fm.test, test_rows, 0.5, ctx.seed() + 1);
  const auto path = [&](const char* name) { return (dir / name).string(); };
  write_table(path("fm-train.csv"), train, Cells::gaps);
  write_table(path("fm-test.csv"), held, Cells::gaps);
  write_table(path("fm-train-complete.csv"), train, Cells::complete);
  write_table(path("fm-test-complete.csv"), held, Cells::complete);
  write_table(path("fm-train-dropped.csv"), train, Cells::complete_rows_only);
  write_table(path("fm-test-dropped.csv"), held, Cells::complete_rows_only);
  write_table(path("fm-test-zero.csv"), held, Cells::zero_filled);
  ctx.say(fmt::format(
      "Each 4x4 block of a Fashion-MNIST image becomes one feature (49 columns, 10 classes); "
      "in {} training and {} test rows, half the rows lose 1 to 12 features at random. Model "
      "dense(64, relu) -> dense(10, softmax), z-scored features, Adam, same seed and budget for "
      "every run.",
      train_rows, test_rows));
  TrainOptions base =
      repro_options(ctx, path("fm-train.csv"), "dense(64,relu) dense(10,softmax)", ctx.pick(5, 10));
  base.data.test_data = path("fm-test.csv");
  base.data.scale = "zscore";
  const std::string twin_refused = refusal(base);
  TrainOptions complete = base, dropped = base, mean = base;
  complete.data.data = path("fm-train-complete.csv");
  complete.data.test_data = path("fm-test-complete.csv");
  dropped.data.data = path("fm-train-dropped.csv");
  dropped.data.test_data = path("fm-test-dropped.csv");
  mean.data.impute = "mean";
  mean.save = path("fm-imputed.safetensors");
  ReproRun& c = ctx.train("complete: no gaps (reference)", complete);
  ReproRun& d = ctx.train("dropped: rows with gaps removed", dropped);
  ReproRun& m = ctx.train("imputed: --impute mean", mean);
  ctx.table(epoch_table("Per epoch", {&c, &d, &m}, {"loss", "test_accuracy"}));

  save_model(mean.save, m.run->model, trained_model_info(*m.run, m.outcome));
  LoadedModel twin = load_model(mean.save);
  const Tensor out =
      predict_rows(twin.model, twin.info.preprocessing, read_csv(path("fm-test.csv")));
  const Tensor zero =
      predict_rows(twin.model, twin.info.preprocessing, read_csv(path("fm-test-zero.csv")));
  int64_t finite = 0;
  for (int64_t k = 0; k < out.size(); ++k) finite += std::isfinite(out[k]);
  const int64_t kept = d.run->data->train->samples(), covered = d.run->data->splits.test->size();
  const double gapped_mean = accuracy(out, held, true), gapped_zero = accuracy(zero, held, true);
  const double complete_rows = accuracy(out, held, false);
  Table t;
  t.title = "Test accuracy by rows (the imputed model read through its file, as predict does)";
  t.columns = {"run", "training rows", "test rows it can predict", "accuracy"};
  t.rows = {
      {"complete (no gaps)", with_commas(train_rows), with_commas(test_rows),
       fmt::format("{:.3f}", c.last("test_accuracy"))},
      {"no imputer", "refused", "0", "-"},
      {"dropped rows with gaps", with_commas(kept), with_commas(covered),
       fmt::format("{:.3f}", d.last("test_accuracy"))},
      {"imputed: all rows", with_commas(train_rows), with_commas(test_rows),
       fmt::format("{:.3f}", m.last("test_accuracy"))},
      {"imputed: rows without gaps", "", "", fmt::format("{:.3f}", complete_rows)},
      {"imputed: rows with gaps", "", "", fmt::format("{:.3f}", gapped_mean)},
      {"imputed, gaps filled with 0 at inference", "", "", fmt::format("{:.3f}", gapped_zero)}};
  ctx.table(t);
  ctx.number("real.complete.test_accuracy", c.last("test_accuracy"));
  ctx.number("real.dropped.test_accuracy", d.last("test_accuracy"));
  ctx.number("real.imputed.test_accuracy", m.last("test_accuracy"));
  ctx.number("real.imputed.gapped_accuracy", gapped_mean);
  ctx.number("real.imputed.complete_rows_accuracy", complete_rows);
  ctx.number("real.zero_filled.gapped_accuracy", gapped_zero);
  ctx.number("real.dropped.coverage", double(covered) / test_rows);
  ctx.number("real.imputed.finite_share", double(finite) / out.size());

  const bool twin_names =
      ctx.check("On the real table too, no imputer means no training: the first gap is named",
                twin_refused.find(" line ") != std::string::npos &&
                    twin_refused.find("column \"p") != std::string::npos,
                twin_refused.empty() ? "(accepted)" : twin_refused);
  const bool all_finite =
      ctx.check("With the saved imputer every test row, gaps or not, gets a finite prediction",
                finite == out.size(), fmt::format("{} of {} outputs finite", finite, out.size()));
  const double noise = 2 * std::sqrt(0.25 / (test_rows / 2.0));
  const bool close = ctx.check(
      "Mean imputation predicts the rows with gaps nearly as well as the complete rows",
      gapped_mean > complete_rows - 0.1,
      fmt::format(
          "accuracy {:.3f} on test rows with gaps vs {:.3f} on rows without; the complete-data "
          "reference reaches {:.3f}",
          gapped_mean, complete_rows, c.last("test_accuracy")));
  const bool coverage =
      ctx.check("Dropping rows with gaps throws away data and leaves test rows unpredictable",
                kept < train_rows * 0.6 && covered < test_rows * 0.6,
                fmt::format("{} of {} training rows kept; {} of {} test rows can be predicted "
                            "(accuracy {:.3f} on them)",
                            kept, train_rows, covered, test_rows, d.last("test_accuracy")));
  const bool skew = gapped_mean - gapped_zero > noise;
  ctx.check("Filling gaps at inference with another value than training's (0) costs accuracy", skew,
            fmt::format("rows with gaps: {:.3f} with the saved means, {:.3f} with 0 ({:+.1f} "
                        "points; two standard errors {:.1f})",
                        gapped_mean, gapped_zero, 100 * (gapped_zero - gapped_mean), 100 * noise));

  std::string v;
  v += names_cell && predict_refuses
           ? "convkit never lets NaN reach a model: training without an imputer stops at the "
             "first gap, naming its line and column, and so does predict without the saved one. "
           : "convkit did NOT refuse the gap as expected (see the checks). ";
  v += fmt::format(
      "The article says the gap 'will result in errors'; in Keras it would not: the "
      "NaN row goes through the model and comes out as {}, with no error. ",
      std::isnan(nan_out[0]) ? "NaN" : fmt::format("{:.3f}", nan_out[0]));
  v += matches ? fmt::format(
                     "With --impute mean, the fill value {:.4f} (the mean of feature1's "
                     "training values) is stored in the model file and predict applies "
                     "it: the row with the gap predicts {:.4f}, exactly the row filled "
                     "by hand. ",
                     saved.info.preprocessing.fill[0], predicted[1])
               : "The imputed prediction did NOT match the row filled by hand. ";
  v += fmt::format(
      "On the real table, mean imputation {} ({:.1f}% on rows with gaps, {:.1f}% on "
      "rows without, {:.1f}% with complete data), ",
      close ? "costs little" : "costs MORE than expected", 100 * gapped_mean, 100 * complete_rows,
      100 * c.last("test_accuracy"));
  v += coverage ? fmt::format(
                      "while dropping incomplete rows keeps only {} of {} training rows "
                      "and cannot predict {:.0f}% of the test rows at all. ",
                      kept, train_rows, 100.0 * (test_rows - covered) / test_rows)
                : "and dropping incomplete rows kept more than expected. ";
  v += skew ? fmt::format(
                  "Applying the imputer unchanged matters: filling the test gaps with 0 "
                  "instead of the saved means drops accuracy on those rows to {:.1f}%.",
                  100 * gapped_zero)
            : fmt::format(
                  "Filling the test gaps with 0 instead of the saved means changed "
                  "accuracy on those rows by only {:+.1f} points here ({:.1f}%): on these "
                  "pixels 0 is close to what the model saw.",
                  100 * (gapped_zero - gapped_mean), 100 * gapped_zero);
  if (all_finite && twin_names) v += " Every imputed prediction is finite.";
  ctx.verdict(v);
}

}  // namespace ck
