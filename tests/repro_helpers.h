#pragma once
// Helpers for the repro tests (tests/test_repro*.cpp): run an experiment at
// --quick in process and read its checks and diagnoses.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "apps/repro.h"

namespace ck::test {

inline ExperimentResult quick(const std::string& id) {
  const Experiment* e = find_experiment(id);
  REQUIRE(e != nullptr);
  ReproOptions o;
  o.quick = true;
  return run_experiment(*e, o, nullptr);
}

// The ids of a run's problems and warnings (notes left out).
inline std::vector<std::string> alarms(const ExperimentResult& r, const std::string& run) {
  const std::vector<Finding>* f = r.findings(run);
  REQUIRE_MESSAGE(f != nullptr, "no run labelled ", run);
  std::vector<std::string> ids;
  for (const Finding& x : *f)
    if (x.severity != Severity::note) ids.push_back(x.id);
  return ids;
}

inline bool has(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

inline bool holds(const ExperimentResult& r, const std::string& claim) {
  const ReproCheck* c = r.check(claim);
  REQUIRE_MESSAGE(c != nullptr, "no check starting with: ", claim);
  INFO(c->claim, " -- ", c->evidence);
  return c->holds;
}

}  // namespace ck::test
