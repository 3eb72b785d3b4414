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
