#include "apps/repro.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "apps/diagnose.h"
#include "apps/progress.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string pad(const std::string& s, size_t width, bool right) {
  // Width in characters, counting UTF-8 continuation bytes as nothing.
  size_t shown = 0;
  for (unsigned char c : s) shown += (c & 0xC0) != 0x80;
  if (shown >= width) return s;
  return right ? std::string(width - shown, ' ') + s : s + std::string(width - shown, ' ');
}

// A shell word: quoted when it holds anything a shell would interpret.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./:=,+") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

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

// --- Table ------------------------------------------------------------------------------------

std::string Table::text() const {
  std::vector<size_t> widths(columns.size(), 0);
  auto shown = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t c = 0; c < columns.size(); ++c) widths[c] = shown(columns[c]);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], shown(row[c]));
  std::string s = title.empty() ? "" : title + "\n";
  for (size_t c = 0; c < columns.size(); ++c)
    s += (c ? "  " : "  ") + pad(columns[c], widths[c], c > 0);
  s += "\n";
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      s += "  " + pad(row[c], widths[c], c > 0);
    s += "\n";
  }
  return s;
}

std::string Table::markdown() const {
  std::string s = title.empty() ? "" : "**" + title + "**\n\n";
  s += "|";
  for (const std::string& c : columns) s += " " + c + " |";
  s += "\n|";
  for (size_t c = 0; c < columns.size(); ++c) s += c ? "---:|" : "---|";
  s += "\n";
  for (const auto& row : rows) {
    s += "|";
    for (const std::string& cell : row) s += " " + cell + " |";
    s += "\n";
  }
  return s + "\n";
}

// --- ReproRun ---------------------------------------------------------------------------------

std::string ReproRun::command() const {
  // Every option that differs from `convkit train`'s default, as its flag.
  const nlohmann::json given = train_options_json(options);
  const nlohmann::json defaults = train_options_json(TrainOptions{});
  std::string s = "convkit train";
  auto add = [&](const std::string& key, const nlohmann::json& value, const nlohmann::json& base) {
    if (value == base || key == "resume") return;
    std::string flag = key == "cache_limit_mb" ? "cache-limit" : key;
    for (char& c : flag) c = c == '_' ? '-' : c;
    if (value.is_boolean()) {
      if (value.get<bool>()) s += " --" + flag;
      return;
    }
    std::string text = value.is_string() ? value.get<std::string>()
                       : value.is_number_float() ? fmt::format("{}", value.get<double>())
                                                 : value.dump();
    if (value.is_number_float()) text = fmt::format("{}", value.get<float>());
    s += " --" + flag + " " + shell_word(text);
  };
  // The data and the model first, as a person would write them.
  add("data", given["data"]["data"], defaults["data"]["data"]);
  for (const char* key : {"model", "epochs", "batch", "optimizer", "lr"})
    add(key, given[key], defaults[key]);
  for (auto& [key, value] : given["data"].items())
    if (key != "data") add(key, value, defaults["data"][key]);
  for (auto& [key, value] : given.items())
    if (key != "data" && key != "model" && key != "epochs" && key != "batch" &&
        key != "optimizer" && key != "lr")
      add(key, value, defaults[key]);
  return s;
}

double ReproRun::figure(const std::string& name, int e) const {
  if (e < 0 || e >= epochs()) return kNaN;
  const EpochResult& r = outcome.epochs[e];
  if (name == "loss") return r.train.mean();
  if (name == "accuracy") return r.train.accuracy();
  if (name == "val_loss") return r.validation ? r.validation->loss() : kNaN;
  if (name == "val_accuracy") return r.validation ? r.validation->accuracy() : kNaN;
  if (name == "test_loss") return r.test ? r.test->loss() : kNaN;
  if (name == "test_accuracy") return r.test ? r.test->accuracy() : kNaN;
  if (name == "seconds") return r.seconds;
  if (name == "capped") return r.train.count ? double(r.train.capped) / r.train.count : kNaN;
  if (name == "grad_norm") {
    if (!outcome.record) return kNaN;
    double sum = 0;
    int n = 0;
    for (const StepRecord& s : outcome.record->steps)
      if (s.epoch == r.epoch && !s.skipped) sum += s.grad_norm, ++n;
    return n ? sum / n : kNaN;
  }
  fail("repro: unknown per-epoch figure \"{}\"", name);
}

const EvalResult* ReproRun::final_eval() const {
  if (outcome.epochs.empty()) return nullptr;
  const EpochResult& r = outcome.epochs.back();
  if (r.test) return &*r.test;
  if (r.validation) return &*r.validation;
  return nullptr;
}

double ReproRun::balanced_accuracy() const {
  const EvalResult* e = final_eval();
  if (!e || e->classes == 0) return kNaN;
  double sum = 0;
  int n = 0;
  for (int k = 0; k < e->classes; ++k) {
    const double r = e->recall(k);
    if (!std::isnan(r)) sum += r, ++n;
  }
  return n ? sum / n : kNaN;
}

double ReproRun::macro_f1() const {
  const EvalResult* e = final_eval();
  if (!e || e->classes == 0) return kNaN;
  const int K = e->classes;
  double sum = 0;
  int n = 0;
  for (int k = 0; k < K; ++k) {
    int64_t tp = e->confusion[k * K + k], actual = 0, predicted = 0;
    for (int j = 0; j < K; ++j) actual += e->confusion[k * K + j], predicted += e->confusion[j * K + k];
    if (actual == 0) continue;
    sum += tp == 0 ? 0.0 : 2.0 * tp / (actual + predicted);
    ++n;
  }
  return n ? sum / n : kNaN;
}

double ReproRun::initial_loss() const {
  return outcome.record ? outcome.record->initial_loss : kNaN;
}

std::string ReproRun::diagnosis() const {
  std::string s;
  for (const Finding& f : findings)
    if (f.severity != Severity::note) s += (s.empty() ? "" : ", ") + f.id;
  return s.empty() ? "healthy" : s;
}

Table epoch_table(const std::string& title, const std::vector<const ReproRun*>& runs,
                  const std::vector<std::string>& figures) {
  Table t;
  t.title = title;
  t.columns.push_back("epoch");
  int epochs = 0;
  for (const ReproRun* r : runs) {
    epochs = std::max(epochs, r->epochs());
    const std::string who = r->label.substr(0, r->label.find(':'));
    for (const std::string& f : figures) t.columns.push_back(who + " " + f);
  }
  for (int e = 0; e < epochs; ++e) {
    std::vector<std::string> row = {std::to_string(e + 1)};
    for (const ReproRun* r : runs)
      for (const std::string& f : figures) {
        const double v = r->figure(f, e);
        if (e >= r->epochs()) row.push_back("");
        else if (f == "capped") row.push_back(std::isnan(v) ? "nan" : fmt::format("{:.0f}%", 100 * v));
        else if (f == "grad_norm") row.push_back(short_number(v));
        else row.push_back(metric_text(v));
      }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// --- ExperimentResult -------------------------------------------------------------------------

double ExperimentResult::number(const std::string& name) const {
  auto it = numbers.find(name);
  return it == numbers.end() ? kNaN : it->second;
}

const ReproCheck* ExperimentResult::check(const std::string& prefix) const {
  for (const ReproCheck& c : checks)
    if (c.claim.rfind(prefix, 0) == 0) return &c;
  return nullptr;
}

const std::vector<Finding>* ExperimentResult::findings(const std::string& prefix) const {
  for (const auto& [label, f] : diagnoses)
    if (label.rfind(prefix, 0) == 0) return &f;
  return nullptr;
}

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
  if (out_) {
    fmt::print(out_, "{}", text);
    std::fflush(out_);
  }
  result_.markdown += markdown;
}

void ReproContext::heading(const std::string& text) {
  emit(fmt::format("\n{}\n{}\n", text, std::string(std::min<size_t>(text.size(), 78), '-')),
       fmt::format("### {}\n\n", text));
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
  emit(text + "\n", "```\n" + text + "\n```\n\n");
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

  std::string line = fmt::format("  {}: {} epochs in {}", label, r->epochs(),
                                 format_duration(r->outcome.seconds()));
  if (r->epochs() > 0) {
    line += fmt::format(", loss {} -> {}", metric_text(r->figure("loss", 0)), metric_text(r->last("loss")));
    if (r->run->has_accuracy())
      line += fmt::format(", accuracy {:.3f} -> {:.3f}", r->figure("accuracy", 0), r->last("accuracy"));
    if (!std::isnan(r->last("test_accuracy")))
      line += fmt::format(", test accuracy {:.3f}", r->last("test_accuracy"));
  }
  std::string text = line + "\n    " + r->command() + "\n    diagnosis: " + r->diagnosis() + "\n";
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
        csv += "," + (std::isnan(v) ? std::string() : fmt::format("{}", v));
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
  experiment.run(ctx);
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
