// convkit repro: each experiment at --quick runs in process and its result
// points the way the lesson says (the full budget's numbers are in
// docs/experiments.md).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "apps/repro.h"
#include "helpers.h"
#include "repro_helpers.h"

using namespace ck;
using namespace ck::test;

TEST_CASE("repro raw-pixels: raw inputs start far from ln 10, random labels teach nothing, scaled "
          "real data is better calibrated") {
  ExperimentResult r = quick("raw-pixels");
  CHECK(r.number("as_written.raw.initial_loss") > 10 * r.number("as_written.scaled.initial_loss"));
  CHECK(holds(r, "Raw 0..255 inputs start far"));
  CHECK(holds(r, "With random labels neither run learns"));
  CHECK(r.number("real.scaled.test_loss") < r.number("real.raw.test_loss"));
  CHECK(holds(r, "Scaled inputs give a lower test loss"));
  CHECK(!r.verdict.empty());
  // diagnose names the broken runs and passes the fixed ones.
  CHECK(has(alarms(r, "raw"), "input-unnormalized"));
  CHECK(alarms(r, "scaled").empty());
}

TEST_CASE("repro learning-rate-10: lr 10 ends near chance, lr 1e-3 learns, the range test finds "
          "a workable rate") {
  ExperimentResult r = quick("learning-rate-10");
  CHECK(holds(r, "At lr = 10 the training diverges"));
  CHECK(r.number("real.lr10.test_accuracy") < 0.2);
  CHECK(r.number("real.lr0.001.test_accuracy") > 0.6);
  CHECK(holds(r, "On real data lr = 10 ends near chance"));
  CHECK(has(alarms(r, "lr 10: as written"), "lr-too-high"));
  CHECK(has(alarms(r, "lr 10"), "lr-too-high"));
  CHECK(alarms(r, "lr 0.001").empty());
  const double suggested = r.number("real.lr_find.suggested");
  CHECK(suggested >= 1e-4);
  CHECK(suggested <= 3e-2);
}

TEST_CASE("repro: every experiment is listed with an id, its article and a lesson") {
  CHECK(experiments().size() >= 2);
  for (const Experiment& e : experiments()) {
    CHECK(std::string(e.id).size() > 0);
    CHECK(std::string(e.article).size() > 0);
    CHECK(std::string(e.lesson).size() > 10);
    CHECK(find_experiment(e.id) == &e);
  }
  std::string out;
  CHECK(test::run_convkit("repro nonsense", out) == 1);
  CHECK(out.find("unknown experiment \"nonsense\"; experiments: raw-pixels") != std::string::npos);
  CHECK(test::run_convkit("repro list", out) == 0);
  CHECK(out.find("learning-rate-10") != std::string::npos);
}
