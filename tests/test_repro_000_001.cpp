// convkit repro: pretrained-preprocessing (article 000 ex. 3), resize-220 and
// shallow-model (article 001 ex. 1 and 2) at --quick, in process: each
// result points the way the lesson says, and diagnose names the broken runs
// and passes the fixed ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "apps/repro.h"
#include "tests/helpers.h"
#include "tests/repro_helpers.h"

using namespace ck;
using namespace ck::test;

TEST_CASE("repro pretrained-preprocessing: VGG16 is caffe (not -1..1), a base fed other inputs "
          "than it was trained on loses accuracy or calibration, diagnose names the mismatch") {
  ExperimentResult r = quick("pretrained-preprocessing");
  // As written: the architecture is built, not trained without --full.
  CHECK(r.number("as_written.params") == 14714688 + 25088 * 10 + 10);
  CHECK(holds(r, "The article's comment \"VGG16 uses -1 to 1 range\" is wrong"));
  CHECK(r.findings("as written") == nullptr);
  // The base itself: -1..1 costs accuracy; raw pixels (a pure scale) cost calibration.
  const double base = r.number("real.base.test_accuracy");
  CHECK(base > 0.7);
  CHECK(r.number("real.base.tf_accuracy") < base - 0.05);
  CHECK(holds(r, "The pretrained base itself loses accuracy on -1..1 inputs"));
  CHECK(r.number("real.base.raw_loss") > 10 * r.number("real.base.test_loss"));
  // Transferred under a new head: the mismatched runs do worse.
  const double matching = r.number("real.matching.test_accuracy");
  CHECK(matching > 0.7);
  CHECK(matching > r.number("real.tf.test_accuracy"));
  CHECK(r.number("real.raw.test_loss") > 2 * r.number("real.matching.test_loss"));
  CHECK(holds(r, "Transferred with raw 0..255 pixels, the model is overconfident"));
  CHECK(holds(r, "diagnose names preprocessing-mismatch"));
  CHECK(alarms(r, "base").empty());
  CHECK(alarms(r, "matching").empty());
  CHECK(has(alarms(r, "raw"), "preprocessing-mismatch"));
  CHECK(has(alarms(r, "tf"), "preprocessing-mismatch"));
  CHECK(!r.verdict.empty());
}

TEST_CASE("repro resize-220: 220x220 trains like 224x224, and the saved model resizes at inference") {
  ExperimentResult r = quick("resize-220");
  CHECK(holds(r, "Training at 220x220 runs to the end"));
  CHECK(std::isfinite(r.number("as_written.220.loss")));
  CHECK(alarms(r, "220: as written").empty());
  CHECK(alarms(r, "224: as the comment").empty());
  CHECK(holds(r, "On real images 220x220 and 224x224 learn alike"));
  CHECK(r.number("real.220.test_accuracy") > 0.4);
  CHECK(r.number("real.224.test_accuracy") > 0.4);
  // Whatever diagnose finds in the article's model on real images, the size
  // does not change it.
  CHECK(holds(r, "diagnose reads each 220x220 run as it reads its 224x224 twin"));
  CHECK(holds(r, "The saved 220x220 model resizes"));
}

TEST_CASE("repro resize-220 --out a relative folder: the list file's paths are found") {
  // The list of three JPEGs holds paths relative to itself, as list files are
  // read: written as repro/resize-220/work/three/..., they were looked for
  // under repro/resize-220/work/repro/resize-220/work/three/... and the
  // experiment stopped.
  const test::TempDir temp;
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(temp.path);
  ReproOptions o;
  o.quick = true;
  o.out_dir = "repro";
  std::string error;
  try {
    const ExperimentResult r = run_experiment(*find_experiment("resize-220"), o, nullptr);
    CHECK(holds(r, "Training at 220x220 runs to the end"));
  } catch (const Error& e) {
    error = e.what();
  }
  std::filesystem::current_path(before);
  CHECK(error == "");
  CHECK(std::filesystem::exists(temp.path / "repro" / "resize-220" / "work" / "three.txt"));
}

TEST_CASE("repro shallow-model: the 'too shallow' model memorizes random labels, on real data "
          "convolutions beat a dense layer") {
  ExperimentResult r = quick("shallow-model");
  CHECK(r.number("as_written.accuracy") > r.number("as_written.first_accuracy") + 0.3);
  CHECK(!holds(r, "The article's claim: the shallow model's training accuracy remains"));
  CHECK(holds(r, "Held-out accuracy stays at chance"));
  // Memorizing is overfitting, never underfitting; the early loss spike it recovers from is a note.
  const std::vector<Finding>* as_written = r.findings("shallow: as written");
  REQUIRE(as_written != nullptr);
  CHECK(std::any_of(as_written->begin(), as_written->end(),
                    [](const Finding& f) { return f.id == "overfitting"; }));
  CHECK(!has(alarms(r, "shallow: as written"), "underfitting"));
  CHECK(!has(alarms(r, "shallow: as written"), "lr-too-high"));
  CHECK(r.number("real.shallow.test_accuracy") > r.number("real.dense.test_accuracy"));
  CHECK(holds(r, "On real images the shallow CNN beats"));
  CHECK(holds(r, "diagnose finds no capacity problem"));
  CHECK(alarms(r, "dense").empty());
  CHECK(alarms(r, "shallow: the article's").empty());
  CHECK(alarms(r, "deeper").empty());
}
