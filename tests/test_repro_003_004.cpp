// convkit repro, articles 003 and 004: each experiment at --quick, in
// process; the numbers must point the way the lesson says, and diagnose must
// name the broken runs and pass the fixed ones.
#include <doctest/doctest.h>

#include <cmath>

#include "repro_helpers.h"

using namespace ck;
using namespace ck::test;

TEST_CASE(
    "repro inference-normalization: 100 steps at lr 1e-3 stay far from 16, a converged model "
    "hits it through its saved z-score and misses it on the raw row") {
  ExperimentResult r = quick("inference-normalization");
  CHECK(r.number("exact") == doctest::Approx(16));
  const double spread = std::sqrt(6.0);  // the std of the targets 7, 10, 13
  CHECK(r.number("as_written.error") > spread);
  CHECK(holds(r, "100 Adam steps at lr 1e-3 leave the model far"));
  CHECK(r.number("converged.error") < 0.1 * spread);
  CHECK(holds(r, "With a budget that converges"));
  CHECK(r.number("converged.raw_error") > spread);
  CHECK(holds(r, "The raw [[7, 8]] given to the normalized model is far off"));
  CHECK(holds(r, "convkit names the raw input as a preprocessing mismatch"));
  // The mistake is made at inference: the converged training run is healthy.
  CHECK(alarms(r, "converged").empty());
  CHECK(!r.verdict.empty());
}

TEST_CASE(
    "repro resize-at-inference: Flatten models stop with both shapes, the file carries the "
    "resize, a global-pooling model silently loses accuracy at other sizes") {
  ExperimentResult r = quick("resize-at-inference");
  CHECK(holds(r, "A model trained on images resized outside convkit refuses an un-resized image"));
  CHECK(holds(r, "predict --no-preprocess (the article's load_img without target_size) stops"));
  CHECK(holds(r, "The model file carries its resize"));
  CHECK(r.number("flatten.predict_accuracy") ==
        doctest::Approx(r.number("flatten.test_accuracy")).epsilon(0.01));
  // The size-agnostic model runs at every size and is best at the training size.
  const double at64 = r.number("gap.accuracy_64");
  CHECK(at64 == doctest::Approx(r.number("gap.test_accuracy")).epsilon(0.01));
  CHECK(at64 > 0.8);
  CHECK(r.number("gap.accuracy_native") < at64);
  CHECK(r.number("gap.accuracy_128") < at64 - 0.1);
  CHECK(holds(r, "Built for any size, the global-pooling model runs"));
  CHECK(r.number("gap.flagged_share") == 1.0);
  CHECK(holds(r, "convkit's input check names the size mismatch"));
  for (const char* run : {"outside", "flatten", "globalavgpool"}) {
    INFO(run);
    CHECK(alarms(r, run).empty());
  }
}

TEST_CASE(
    "repro missing-values: NaN is refused with its line and column, the saved imputer fills "
    "gaps with the training mean and NaN reaches no prediction") {
  ExperimentResult r = quick("missing-values");
  CHECK(holds(r, "Without an imputer convkit refuses to train, naming the line and column"));
  CHECK(r.number("as_written.fill") == doctest::Approx(7.0 / 3.0));
  CHECK(std::isfinite(r.number("as_written.gap_prediction")));
  CHECK(r.number("as_written.gap_prediction") ==
        doctest::Approx(r.number("as_written.manual_prediction")));
  CHECK(holds(r, "With the saved imputer the gap gets the training mean"));
  CHECK(holds(r, "predict without the imputer (--no-preprocess) refuses the gap"));
  CHECK(holds(r, "On the real table too, no imputer means no training"));
  CHECK(r.number("real.imputed.finite_share") == 1.0);
  CHECK(holds(r, "With the saved imputer every test row"));
  // The imputed model learns from every row and predicts every row.
  CHECK(r.number("real.imputed.test_accuracy") > 0.6);
  CHECK(r.number("real.imputed.gapped_accuracy") >
        r.number("real.imputed.complete_rows_accuracy") - 0.1);
  CHECK(r.number("real.dropped.coverage") < 0.6);
  CHECK(holds(r, "Dropping rows with gaps"));
  CHECK(r.number("real.zero_filled.gapped_accuracy") < r.number("real.imputed.gapped_accuracy"));
  for (const char* run : {"imputed", "complete", "dropped"}) {
    INFO(run);
    CHECK(alarms(r, run).empty());
  }
}

TEST_CASE(
    "repro raw-binary: Flatten on (None, None, 3) is refused at build time, on 9:1 JPEG files "
    "raw pixels are named, class weights lift the rare class, accuracy misleads") {
  ExperimentResult r = quick("raw-binary");
  CHECK(holds(r, "Flatten after an unknown spatial size is a build-time error"));
  CHECK(holds(r, "Decoded files of different sizes stop training"));
  CHECK(r.number("raw.test_loss") > r.number("scaled.test_loss"));
  CHECK(holds(r, "Fix 1 lowers the test loss"));
  CHECK(r.number("weights.rare_recall") > r.number("scaled.rare_recall"));
  CHECK(holds(r, "Class weights raise the rare class's recall"));
  CHECK(holds(r, "Plain accuracy misleads"));
  // diagnose names the raw inputs. (It also calls the raw run lr-too-high,
  // from a loss spike in its first steps that the run recovers from: a
  // symptom of the raw inputs, reported, not asserted either way here.)
  CHECK(has(alarms(r, "raw"), "input-unnormalized"));
  for (const char* run : {"scaled", "flip", "weights"}) {
    INFO(run);
    CHECK(alarms(r, run).empty());
  }
}
