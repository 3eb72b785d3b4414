#include "apps/repro.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "apps/diagnose.h"
#include "apps/interrupt.h"
#include "apps/progress.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

std::string slug(const std::string& label) {
  std::string s;
  for (char c : label) {
    if (std::isalnum(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(c));
    else if (!s.empty() && s.back() != '-') s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? "run" : s;
}

}  // namespace

// --- ReproContext -----------------------------------------------------------------------------

ReproContext::ReproContext(const ReproOptions& options, std::string id, std::FILE* out)
    : options_(options), out_(out) {
  result_.id = std::move(id);
}

ReproContext::~ReproContext() {
  if (own_work_dir_) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

const std::string& ReproContext::work_dir() {
  if (!work_dir_.empty()) return work_dir_;
  std::error_code ec;
  if (!options_.out_dir.empty()) {
    work_dir_ = (fs::path(options_.out_dir) / result_.id / "work").string();
    fs::remove_all(work_dir_, ec);
  } else {
    work_dir_ = (fs::temp_directory_path() /
                 fmt::format("convkit-repro-{}-{}", result_.id, ::getpid())).string();
    fs::remove_all(work_dir_, ec);
    own_work_dir_ = true;
  }
  fs::create_directories(work_dir_, ec);
  if (ec) fail("cannot create the work directory {}: {}", work_dir_, ec.message());
  return work_dir_;
}

void ReproContext::emit(const std::string& text, const std::string& markdown) {
  // Between two pieces of the experiment: a safe point to stop at.
  throw_if_interrupted("stopped before it finished");
  if (out_) {
    fmt::print(out_, "{}", text);
    std::fflush(out_);
  }
  result_.markdown += markdown;
}

void ReproContext::heading(const std::string& text) {
  emit(fmt::format("\n{}\n{}\n", text, std::string(std::min<size_t>(text.size(), 78), '-')),
       fmt::format("\n### {}\n\n", text));
}

void ReproContext::say(const std::string& text) {
  // Wrap at 78 columns for the terminal.
  std::string wrapped, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > 78) {
      wrapped += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) wrapped += line + "\n";
  emit(wrapped + "\n", text + "\n\n");
}

void ReproContext::table(const Table& t) { emit(t.text() + "\n", t.markdown()); }

void ReproContext::preformatted(const std::string& text) {
  emit(text + "\n", "\n```\n" + text + "\n```\n\n");
}

ReproRun& ReproContext::train(const std::string& label, TrainOptions options) {
  auto r = std::make_unique<ReproRun>();
  r->label = label;
  r->options = options;
  r->run = prepare_training(options);
  ExecuteOptions how;
  how.record = true;
  how.warnings = nullptr;  // collected in the outcome and shown in the summary
  r->outcome = execute_training(*r->run, how);
  if (r->outcome.record) r->findings = diagnose(*r->outcome.record);
  // --save as `convkit train` does it: the weights with the preprocessing and
  // the input statistics, for runs that start from this one (--init-from).
  if (!options.save.empty())
    save_model(options.save, r->run->model, trained_model_info(*r->run, r->outcome));
  // Follow-up measurements need the trained weights and the data, not the
  // training scratch or the optimizer's moments: freed here, so an experiment
  // holds one run's training memory at a time (learning-rate-10's two 224x224
  // runs held about 2 GB each until the experiment ended).
  r->run->model.release_scratch();
  r->run->optimizer.reset();

  std::string line = fmt::format("  {}: {} epochs in {}", label, r->epochs(),
                                 format_duration(r->outcome.seconds()));
  if (r->epochs() > 0) {
    // From before the first update (as the tables' "initial loss") to the last epoch.
    const double before = r->initial_loss();
    line += fmt::format(", loss {} -> {}", metric_text(std::isnan(before) ? r->figure("loss", 0) : before),
                        metric_text(r->last("loss")));
    if (r->run->has_accuracy())
      line += r->epochs() == 1 ? fmt::format(", accuracy {:.3f}", r->last("accuracy"))
                               : fmt::format(", accuracy {:.3f} -> {:.3f}", r->figure("accuracy", 0),
                                             r->last("accuracy"));
    if (!std::isnan(r->last("test_accuracy")))
      line += fmt::format(", test accuracy {:.3f}", r->last("test_accuracy"));
  }
  std::string text = line + "\n    " + r->command() + "\n";
  if (own_work_dir_ && !temporary_data_named_ && r->command().find(work_dir_) != std::string::npos) {
    text += fmt::format("    ({} is removed when repro ends: add --out DIR to keep the data and "
                        "rerun these commands)\n",
                        work_dir_);
    temporary_data_named_ = true;
  }
  text += "    diagnosis: " + r->diagnosis() + "\n";
  for (const std::string& w : r->outcome.warnings) text += "    warning: " + w + "\n";
  if (!r->outcome.stopped.empty()) text += "    stopped: " + r->outcome.stopped + "\n";
  emit(text, fmt::format("- **{}**: `{}` — diagnosis: {}\n", label, r->command(), r->diagnosis()));

  if (!options_.out_dir.empty() && r->epochs() > 0) {
    // The run's per-epoch figures as CSV.
    const std::vector<std::string> figures = {"loss", "accuracy", "val_loss", "val_accuracy",
                                              "test_loss", "test_accuracy", "grad_norm", "capped",
                                              "seconds"};
    std::string csv = "epoch";
    for (const std::string& f : figures) csv += "," + f;
    csv += "\n";
    for (int e = 0; e < r->epochs(); ++e) {
      csv += std::to_string(e + 1);
      for (const std::string& f : figures) {
        const double v = r->figure(f, e);
        csv += ',';
        if (!std::isnan(v)) csv += fmt::format("{}", v);  // an empty cell where there is none
      }
      csv += "\n";
    }
    const fs::path dir = fs::path(options_.out_dir) / result_.id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomically((dir / (slug(label) + ".csv")).string(), csv);
  }
  result_.diagnoses.emplace_back(label, r->findings);
  runs_.push_back(std::move(r));
  return *runs_.back();
}

void ReproContext::number(const std::string& name, double value) { result_.numbers[name] = value; }

bool ReproContext::check(const std::string& claim, bool holds, const std::string& evidence) {
  result_.checks.push_back({claim, holds, evidence});
  emit(fmt::format("  {} {}\n    {}\n", holds ? "supported:    " : "NOT supported:", claim, evidence),
       fmt::format("- {} **{}** — {}\n", holds ? "✔ supported:" : "✘ **not supported**:", claim,
                   evidence));
  return holds;
}

void ReproContext::verdict(const std::string& text) {
  result_.verdict.push_back(text);
  emit("\nVerdict: ", "\n**Verdict.** ");
  say(text);
}

// --- Running experiments ----------------------------------------------------------------------

const Experiment* find_experiment(const std::string& id) {
  for (const Experiment& e : experiments())
    if (id == e.id) return &e;
  return nullptr;
}

ExperimentResult run_experiment(const Experiment& experiment, const ReproOptions& options,
                                std::FILE* out) {
  const auto start = std::chrono::steady_clock::now();
  ReproContext ctx(options, experiment.id, out);
  const std::string title = fmt::format("{} (article {}): {}", experiment.id, experiment.article,
                                        experiment.lesson);
  if (out) fmt::print(out, "\n{}\n{}\n", title, std::string(std::min<size_t>(title.size(), 78), '='));
  ctx.result().markdown = fmt::format("## {}\n\nArticle {}. {}\n\n", experiment.id, experiment.article,
                                      experiment.lesson);
  {
    // Ctrl-C stops at the next training step or printed line, and unwinding
    // ~ReproContext removes the temporary work folder.
    StopPoint stop_point;
    try {
      experiment.run(ctx);
    } catch (const Interrupted& e) {
      throw Interrupted(fmt::format("repro {}: {}", experiment.id, e.what()));
    }
  }
  ExperimentResult result = ctx.result();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.markdown += fmt::format("\n_{} in {}._\n\n", experiment.id, format_duration(result.seconds));
  return result;
}

TrainOptions repro_options(const ReproContext& ctx, const std::string& data,
                           const std::string& model, int epochs) {
  TrainOptions o;
  o.data.data = data;
  o.model = model;
  o.epochs = epochs;
  o.seed = ctx.seed();
  o.on_nan = "continue";
  return o;
}

}  // namespace ck
