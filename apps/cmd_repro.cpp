// convkit repro: replay the tutorial experiments (apps/repro.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "apps/commands.h"
#include "apps/repro.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/parallel.h"
#include "version.h"

namespace ck {

namespace {

struct ReproCommand {
  std::string what;
  ReproOptions options;
};

void list_experiments() {
  size_t width = 0, article = 0;
  for (const Experiment& e : experiments()) {
    width = std::max(width, std::string(e.id).size());
    article = std::max(article, std::string(e.article).size());
  }
  for (const Experiment& e : experiments())
    fmt::print("{:<{}}  {:<{}}  {}\n", e.id, width, e.article, article, e.lesson);
  fmt::print("\nconvkit repro ID runs one (add --quick for a reduced budget); convkit repro all runs "
             "every one.\n");
}

void run_repro(const ReproCommand& c) {
  if (c.what == "list") return list_experiments();
  std::vector<const Experiment*> chosen;
  if (c.what == "all") {
    for (const Experiment& e : experiments()) chosen.push_back(&e);
  } else if (const Experiment* e = find_experiment(c.what)) {
    chosen.push_back(e);
  } else {
    std::string ids;
    for (const Experiment& e : experiments()) ids += std::string(ids.empty() ? "" : ", ") + e.id;
    fail("unknown experiment \"{}\"; experiments: {} (or list, all)", c.what, ids);
  }
  fmt::print("convkit {} repro: {} experiment{}, {} budget, seed {}, {} threads\n", kVersion,
             chosen.size(), chosen.size() == 1 ? "" : "s", c.options.quick ? "quick" : "full",
             c.options.seed, threads());
  std::string report = fmt::format(
      "# convkit repro\n\nconvkit {}, {} budget, seed {}, {} threads.\n\n", kVersion,
      c.options.quick ? "quick (--quick)" : "full", c.options.seed, threads());
  int unsupported = 0;
  for (const Experiment* e : chosen) {
    ExperimentResult r = run_experiment(*e, c.options, stdout);
    report += r.markdown;
    for (const ReproCheck& check : r.checks) unsupported += !check.holds;
  }
  if (chosen.size() > 1)
    fmt::print("\n{} experiments run; {} check{} not supported by the numbers (see above).\n",
               chosen.size(), unsupported, unsupported == 1 ? " was" : "s were");
  if (!c.options.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(c.options.out_dir, ec);
    const std::string path = (std::filesystem::path(c.options.out_dir) / "report.md").string();
    write_file_atomically(path, report);
    fmt::print("Report: {} (per-epoch CSVs beside it, one folder per experiment)\n", path);
  }
}

}  // namespace

void setup_repro(CLI::App& cmd) {
  auto c = std::make_shared<ReproCommand>();
  cmd.add_option("experiment", c->what, "list, all, or an experiment id (see convkit repro list)")
      ->required();
  CLI::Option* quick =
      cmd.add_flag("--quick", c->options.quick, "A reduced budget: seconds per experiment");
  cmd.add_flag("--full", c->options.full,
               "Also the heavy as-written runs (VGG16 at 224x224: minutes of CPU per epoch)")
      ->excludes(quick);
  cmd.add_option("--seed", c->options.seed, "Seed shared by every run")->capture_default_str()
      ->check(seed_value());
  cmd.add_option("--out", c->options.out_dir,
                 "Write report.md and each run's per-epoch CSV here");
  cmd.add_option("--init-from", c->options.init_from,
                 "Pretrained weights (a convkit/safetensors file) for the as-written runs that "
                 "start from a pretrained base: VGG16 in pretrained-preprocessing (with --full)");
  add_compute_options(cmd);
  cmd.callback([c] { run_repro(*c); });
}

}  // namespace ck
