// convkit diagnose DIR: reads a run directory (convkit train --run-dir) and
// says which failure it shows, with the evidence, threshold and source of
// each finding.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/diagnose.h"
#include "apps/finding.h"
#include "apps/run_record.h"

namespace ck {

namespace {

std::string run_summary(const RunRecord& r) {
  std::string s = fmt::format("Run: {} on {}\n", r.model_spec, r.config.value("data", std::string("?")));
  s += fmt::format("  {}; {} epoch{} of {} planned, {} steps each; {}\n",
                   r.config.value("optimizer", r.optimizer), r.epochs.size(),
                   r.epochs.size() == 1 ? "" : "s", r.epochs_planned, r.steps_per_epoch, r.status);
  if (r.input_stats.samples > 0)
    s += fmt::format("  inputs: {} ({})\n", r.input_stats.describe(), r.input_stats.describe_range());
  if (!r.epochs.empty()) {
    const EpochRecord& e = r.epochs.back();
    s += fmt::format("  last epoch: loss {}", short_number(e.loss));
    if (e.accuracy) s += fmt::format(", accuracy {}", short_number(*e.accuracy));
    if (e.val_loss) s += fmt::format("; validation loss {}", short_number(*e.val_loss));
    if (e.val_accuracy) s += fmt::format(", accuracy {}", short_number(*e.val_accuracy));
    if (e.test_loss) s += fmt::format("; test loss {}", short_number(*e.test_loss));
    if (e.test_accuracy) s += fmt::format(", accuracy {}", short_number(*e.test_accuracy));
    s += "\n";
  }
  return s;
}

}  // namespace

void setup_diagnose(CLI::App& cmd) {
  struct Options {
    std::string dir;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  cmd.add_option("dir", o->dir, "A run directory (convkit train --run-dir DIR)")->required();
  cmd.add_flag("--json", o->json, "Print the findings as JSON");
  cmd.callback([o] {
    RunRecord run = read_run_dir(o->dir);
    std::vector<Finding> findings = diagnose(run);
    if (o->json) {
      fmt::print("{}\n", findings_json(findings).dump(2));
      return;
    }
    fmt::print("{}\n{}", run_summary(run), format_findings(findings));
  });
}

}  // namespace ck
