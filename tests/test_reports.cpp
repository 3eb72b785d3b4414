// Text the user reads: durations in the progress line, the confusion matrix
// and recall of an evaluation.
#include <doctest/doctest.h>

#include <cmath>

#include "apps/eval_report.h"
#include "apps/progress.h"
#include "apps/trainer.h"

using namespace ck;

TEST_CASE("format_duration: ms, s, m ss, h mm, seconds and minutes never read 60") {
  CHECK(format_duration(0.85) == "850ms");
  CHECK(format_duration(42) == "42s");
  CHECK(format_duration(59.7) == "1m 00s");
  CHECK(format_duration(65) == "1m 05s");
  CHECK(format_duration(119.7) == "2m 00s");
  CHECK(format_duration(3599.9) == "1h 00m");
  CHECK(format_duration(3725) == "1h 02m");
  CHECK(format_duration(7199) == "2h 00m");
  CHECK(format_duration(90061) == "25h 01m");
}

TEST_CASE("confusion matrix report: rows true, columns predicted, recall per class") {
  EvalResult r;
  r.classes = 3;
  // true 0: 3 right, 1 as class 2; true 1: none; true 2: 2 as class 0, 2 right.
  r.confusion = {3, 0, 1, 0, 0, 0, 2, 0, 2};
  CHECK(r.recall(0) == doctest::Approx(0.75));
  CHECK(std::isnan(r.recall(1)));
  CHECK(r.recall(2) == doctest::Approx(0.5));
  const std::string s = format_confusion(r, {"cat", "dog", "bird"});
  CHECK(s.find("Confusion matrix (rows: true class, columns: predicted)") != std::string::npos);
  CHECK(s.find("0 cat") != std::string::npos);
  CHECK(s.find("0.750\n") != std::string::npos);
  CHECK(s.find("   -\n") != std::string::npos);  // no samples of dog
  CHECK(s.find("2 bird") != std::string::npos);
}
