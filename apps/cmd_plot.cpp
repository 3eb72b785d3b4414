// convkit plot DIR and convkit report DIR: pictures of a recorded run.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "apps/commands.h"
#include "apps/diagnose.h"
#include "apps/report_html.h"
#include "apps/run_plots.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace ck {

void setup_plot(CLI::App& cmd) {
  struct Options {
    std::string dir, out;
  };
  auto o = std::make_shared<Options>();
  cmd.add_option("dir", o->dir, "A run directory (convkit train --run-dir DIR)")->required();
  cmd.add_option("--out", o->out, "Where to write the pictures (default: DIR/plots)");
  cmd.callback([o] {
    RunRecord run = read_run_dir(o->dir);
    const std::string out = o->out.empty() ? (fs::path(o->dir) / "plots").string() : o->out;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (!fs::is_directory(out, ec)) fail("--out {}: cannot create the directory", out);
    for (const NamedPlot& p : run_plots(run)) {
      const std::string stem = (fs::path(out) / p.name).string();
      write_file_atomically(stem + ".svg", plot_svg(p.plot));
      plot_png(p.plot).write_png(stem + ".png");
      fmt::print("{}.svg  {}.png  ({})\n", stem, stem, p.plot.title);
    }
    // An unfinished run's curves stop short: say why.
    if (run.status != "finished")
      fmt::print("Run status: {} (the curves end where the record does)\n", run.status);
    for (const RunEvent& e : run.events)
      if (e.kind == "gap")
        fmt::print("Record gap: {} (the curves break there, marked where the record resumes)\n",
                   e.message);
  });
}

void setup_report(CLI::App& cmd) {
  struct Options {
    std::string dir, out;
  };
  auto o = std::make_shared<Options>();
  cmd.add_option("dir", o->dir, "A run directory (convkit train --run-dir DIR)")->required();
  cmd.add_option("--out", o->out, "The HTML file to write (default: DIR/report.html)");
  cmd.callback([o] {
    RunRecord run = read_run_dir(o->dir);
    const std::string out = o->out.empty() ? (fs::path(o->dir) / "report.html").string() : o->out;
    write_file_atomically(out, run_report_html(run, diagnose(run)));
    fmt::print("{} (one self-contained page: open it in any browser)\n", out);
  });
}

}  // namespace ck
