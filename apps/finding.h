#pragma once
// A finding of convkit's diagnosis: what is wrong with a run (or with the
// data given to a model), the numbers that show it, the threshold they
// crossed, where that rule of thumb comes from, and what to try.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ck {

// problem: the run cannot work as it is; warning: it works worse than it
// should; note: worth knowing, nothing to fix. A healthy run has no problem
// and no warning.
enum class Severity { note, warning, problem };
std::string severity_name(Severity severity);

struct Evidence {
  std::string name;   // stable key, e.g. "initial_loss"
  double value = 0;
  std::string shown;  // as a person reads it: "initial loss 254.1"
};

struct Finding {
  Finding() = default;
  Finding(std::string id, Severity severity, std::string title)
      : id(std::move(id)), severity(severity), title(std::move(title)) {}

  std::string id;  // stable, e.g. "lr-too-high" (docs/diagnose.md lists them)
  Severity severity = Severity::note;
  std::string title;  // one line
  std::vector<Evidence> evidence;
  std::string threshold;  // the rule, with its numbers
  std::string source;     // where the heuristic comes from
  std::string fix;        // what to try

  // The value of evidence `name`, or NaN when there is none.
  double value(const std::string& name) const;
  Finding& add(std::string name, double value, std::string shown);
};

// For a terminal: one block per finding, most severe first as given.
std::string format_findings(const std::vector<Finding>& findings);
nlohmann::json findings_json(const std::vector<Finding>& findings);

// The finding with this id, or null when there is none.
const Finding* find_finding(const std::vector<Finding>& findings, const std::string& id);

// True when some finding is a problem or a warning.
bool has_alarm(const std::vector<Finding>& findings);

// "3.2e+08", "0.0012", "2.303": compact numbers for evidence lines.
std::string short_number(double x);

}  // namespace ck
