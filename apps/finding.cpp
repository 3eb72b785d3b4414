#include "apps/finding.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace ck {

const Finding* find_finding(const std::vector<Finding>& findings, const std::string& id) {
  for (const Finding& f : findings)
    if (f.id == id) return &f;
  return nullptr;
}

std::string severity_name(Severity s) {
  switch (s) {
    case Severity::note: return "note";
    case Severity::warning: return "warning";
    case Severity::problem: return "problem";
  }
  return "?";
}

double Finding::value(const std::string& name) const {
  for (const Evidence& e : evidence)
    if (e.name == name) return e.value;
  return std::numeric_limits<double>::quiet_NaN();
}

Finding& Finding::add(std::string name, double value, std::string shown) {
  evidence.push_back({std::move(name), value, std::move(shown)});
  return *this;
}

std::string short_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  const double a = std::fabs(x);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) return fmt::format("{:.2g}", x);
  return fmt::format("{:.4g}", x);
}

std::string format_findings(const std::vector<Finding>& findings) {
  if (findings.empty()) return "No problems found: the run looks healthy.\n";
  std::string s;
  for (const Finding& f : findings) {
    s += fmt::format("{} [{}] {}\n", severity_name(f.severity), f.id, f.title);
    for (const Evidence& e : f.evidence) s += fmt::format("    evidence:  {}\n", e.shown);
    if (!f.threshold.empty()) s += fmt::format("    rule:      {}\n", f.threshold);
    if (!f.source.empty()) s += fmt::format("    source:    {}\n", f.source);
    if (!f.fix.empty()) s += fmt::format("    try:       {}\n", f.fix);
  }
  if (!has_alarm(findings)) s += "No problems or warnings: the run looks healthy.\n";
  return s;
}

nlohmann::json findings_json(const std::vector<Finding>& findings) {
  nlohmann::json all = nlohmann::json::array();
  for (const Finding& f : findings) {
    nlohmann::json evidence = nlohmann::json::object();
    for (const Evidence& e : f.evidence)
      evidence[e.name] = std::isfinite(e.value) ? nlohmann::json(e.value) : nlohmann::json(short_number(e.value));
    all.push_back({{"id", f.id},
                   {"severity", severity_name(f.severity)},
                   {"title", f.title},
                   {"evidence", evidence},
                   {"threshold", f.threshold},
                   {"source", f.source},
                   {"fix", f.fix}});
  }
  return all;
}

bool has_alarm(const std::vector<Finding>& findings) {
  for (const Finding& f : findings)
    if (f.severity != Severity::note) return true;
  return false;
}

}  // namespace ck
