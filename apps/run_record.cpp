#include "apps/run_record.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

double mean_loss(const std::vector<StepRecord>& steps, size_t begin, size_t end) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = begin; i < end; ++i)
    if (!steps[i].skipped) sum += steps[i].loss, ++n;
  return n ? sum / n : kNaN;
}

// ---- CSV: numbers in their shortest exact form, "nan"/"inf" as such, empty = missing.

std::string num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return fmt::format("{}", x);
}
std::string opt(const std::optional<double>& x) { return x ? num(*x) : ""; }

class RecordCsv {
 public:
  RecordCsv(const std::string& path, const std::string& text) : path_(path) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line)) fail("{} is empty; it should start with a header row", path);
    header_ = split(line);
    for (size_t i = 0; i < header_.size(); ++i) column_[header_[i]] = i;
    int row = 1;
    while (std::getline(in, line)) {
      ++row;
      if (line.empty()) continue;
      std::vector<std::string> cells = split(line);
      if (cells.size() != header_.size())
        fail("{} row {}: {} values for {} columns", path, row, cells.size(), header_.size());
      rows_.push_back(std::move(cells));
    }
  }
  size_t size() const { return rows_.size(); }
  // A header without these is a damaged file, even with no rows to read.
  void require(std::initializer_list<const char*> columns) const {
    for (const char* c : columns)
      if (!column_.count(c)) fail("{} has no column \"{}\"", path_, c);
  }
  const std::string& text(size_t row, const std::string& column) const {
    auto it = column_.find(column);
    if (it == column_.end()) fail("{} has no column \"{}\"", path_, column);
    return rows_[row][it->second];
  }
  double number(size_t row, const std::string& column) const {
    const std::string& t = text(row, column);
    char* stop = nullptr;
    double v = std::strtod(t.c_str(), &stop);
    if (t.empty() || *stop)
      fail("{} row {}, column {}: \"{}\" is not a number", path_, row + 2, column, t);
    return v;
  }
  std::optional<double> maybe(size_t row, const std::string& column) const {
    if (text(row, column).empty()) return std::nullopt;
    return number(row, column);
  }

 private:
  static std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> cells;
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      cells.push_back(
          line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!cells.empty() && !cells.back().empty() && cells.back().back() == '\r')
      cells.back().pop_back();
    return cells;
  }
  std::string path_;
  std::vector<std::string> header_;
  std::map<std::string, size_t> column_;
  std::vector<std::vector<std::string>> rows_;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- JSON pieces

nlohmann::json json_number(double x) {
  if (std::isfinite(x)) return x;
  return num(x);
}
double number_of(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  return std::strtod(j.get<std::string>().c_str(), nullptr);
}
nlohmann::json numbers_json(const std::vector<double>& xs) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : xs) a.push_back(json_number(x));
  return a;
}
std::vector<double> numbers_of(const nlohmann::json& j) {
  std::vector<double> xs;
  for (const auto& x : j) xs.push_back(number_of(x));
  return xs;
}

std::string steps_csv(const RunRecord& run) {
  std::string s =
      "epoch,step,iteration,loss,accuracy,learning_rate,grad_norm,capped,samples,skipped\n";
  // The iteration is the step's place in the whole run, not a row count: a
  // record with a gap (a "gap" event) keeps its numbering.
  for (const StepRecord& r : run.steps)
    s +=
        fmt::format("{},{},{},{},{},{},{},{},{},{}\n", r.epoch + 1, r.step + 1,
                    r.epoch * run.steps_per_epoch + r.step + 1, num(r.loss), opt(r.accuracy),
                    num(r.learning_rate), num(r.grad_norm), r.capped, r.samples, r.skipped ? 1 : 0);
  return s;
}

std::string epochs_csv(const RunRecord& run) {
  std::string s =
      "epoch,loss,accuracy,val_loss,val_accuracy,test_loss,test_accuracy,learning_rate,seconds,"
      "capped,samples,probe_loss,probe_accuracy\n";
  for (const EpochRecord& e : run.epochs)
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", e.epoch + 1, num(e.loss),
                     opt(e.accuracy), opt(e.val_loss), opt(e.val_accuracy), opt(e.test_loss),
                     opt(e.test_accuracy), num(e.learning_rate), num(e.seconds), e.capped,
                     e.samples, num(e.probe_loss), opt(e.probe_accuracy));
  return s;
}

std::string layers_csv(const RunRecord& run) {
  std::string s =
      "epoch,layer,kind,activation,units,act_mean,act_std,near_zero,dead_fraction,param_norm,"
      "grad_norm,update_ratio\n";
  for (const EpochRecord& e : run.epochs)
    for (size_t i = 0; i < e.layers.size() && i < run.layers.size(); ++i) {
      const LayerHealth& h = e.layers[i];
      const LayerInfo& l = run.layers[i];
      s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", e.epoch + 1, l.name, l.kind,
                       l.activation, h.units, num(h.act_mean), num(h.act_std), num(h.near_zero),
                       h.dead_fraction < 0 ? "" : num(h.dead_fraction), num(h.param_norm),
                       num(h.grad_norm), num(h.update_ratio));
    }
  return s;
}

}  // namespace

double RunRecord::early_loss(double fraction) const {
  const size_t n = std::max<size_t>(1, static_cast<size_t>(steps.size() * fraction));
  return mean_loss(steps, 0, std::min(n, steps.size()));
}

double RunRecord::late_loss(double fraction) const {
  const size_t n = std::max<size_t>(1, static_cast<size_t>(steps.size() * fraction));
  return mean_loss(steps, steps.size() - std::min(n, steps.size()), steps.size());
}

nlohmann::json run_json(const RunRecord& run) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerInfo& l : run.layers)
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"activation", l.activation},
                      {"output_shape", l.output_shape},
                      {"params", l.params}});
  nlohmann::json events = nlohmann::json::array();
  for (const RunEvent& e : run.events)
    events.push_back({{"kind", e.kind},
                      {"epoch", e.epoch + 1},
                      {"step", e.step + 1},
                      {"message", e.message},
                      {"detail", e.detail}});
  nlohmann::json predicted = nlohmann::json::array();
  for (const EpochRecord& e : run.epochs) predicted.push_back(e.predicted);
  nlohmann::json j = {{"format", "convkit-run"},
                      {"status", run.status},
                      {"config", run.config},
                      {"model", run.model_spec},
                      {"loss", run.loss},
                      {"classes", run.classes},
                      {"class_names", run.class_names},
                      {"layers", layers},
                      {"optimizer", run.optimizer},
                      {"steps_per_epoch", run.steps_per_epoch},
                      {"batch_size", run.batch_size},
                      {"epochs_planned", run.epochs_planned},
                      {"label_counts", run.label_counts},
                      {"sample_weights", run.sample_weights},
                      {"initial_weight_mean", json_number(run.initial_weight_mean)},
                      {"weight_mean", json_number(run.weight_mean)},
                      {"input_stats", run.input_stats.to_json()},
                      {"pretrained", run.pretrained},
                      {"initial_loss", json_number(run.initial_loss)},
                      {"initial_grad_norms", numbers_json(run.initial_grad_norms)},
                      {"initial_param_norms", numbers_json(run.initial_param_norms)},
                      {"events", events},
                      {"probe_predicted", predicted},
                      {"sample_labels", run.sample_labels},
                      {"sample_predictions", run.sample_predictions}};
  if (run.reference_input_stats) j["reference_input_stats"] = run.reference_input_stats->to_json();
  if (run.confusion)
    j["confusion"] = {{"source", run.confusion->source},
                      {"classes", run.confusion->classes},
                      {"counts", run.confusion->counts}};
  return j;
}

constexpr const char* kRunFiles[] = {"run.json",          "steps.csv",   "epochs.csv",
                                     "layers.csv",        "samples.png", "samples.safetensors",
                                     "model.safetensors", "plots",       "report.html"};

std::vector<std::string> run_files_in_writing(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const char* file : kRunFiles)
      if (name.starts_with(fmt::format(".{}.tmp.", file))) found.push_back(name);
  }
  return found;
}

std::vector<std::string> run_files_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const char* name : kRunFiles) {
    std::error_code ec;
    const fs::path path = fs::path(dir) / name;
    if (fs::exists(path, ec)) found.push_back(fs::is_directory(path, ec) ? name + std::string("/") : name);
  }
  return found;
}

void write_run_files(const std::string& dir, const RunRecord& run, bool with_epochs) {
  const fs::path d(dir);
  write_file_atomically((d / "run.json").string(), run_json(run).dump(1) + "\n");
  write_file_atomically((d / "steps.csv").string(), steps_csv(run));
  if (!with_epochs) return;
  write_file_atomically((d / "epochs.csv").string(), epochs_csv(run));
  write_file_atomically((d / "layers.csv").string(), layers_csv(run));
  if (!run.samples.empty())
    write_safetensors((d / "samples.safetensors").string(), {{"inputs", &run.samples}}, {});
}

RunRecord read_run_dir(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  if (!fs::exists(d, ec))
    fail("{}: no such directory (a run directory is written by convkit train --run-dir)", dir);
  if (!fs::is_directory(d, ec))
    fail("{} is not a directory (a run directory is written by convkit train --run-dir)", dir);
  if (!fs::exists(d / "run.json", ec))
    fail("{} is not a run directory: it has no run.json (convkit train --run-dir {} writes one)",
         dir, dir);
  RunRecord run;
  const std::string json_path = (d / "run.json").string();
  try {
    const nlohmann::json j = nlohmann::json::parse(read_text(d / "run.json"));
    if (j.value("format", "") != "convkit-run") fail("{} is not a convkit run record", json_path);
    run.status = j.at("status").get<std::string>();
    run.config = j.at("config");
    run.model_spec = j.at("model").get<std::string>();
    run.loss = j.at("loss").get<std::string>();
    run.classes = j.at("classes").get<int>();
    run.class_names = j.at("class_names").get<std::vector<std::string>>();
    for (const auto& l : j.at("layers"))
      run.layers.push_back({l.at("name").get<std::string>(), l.at("kind").get<std::string>(),
                            l.at("activation").get<std::string>(),
                            l.at("output_shape").get<Shape>(), l.at("params").get<int64_t>()});
    run.optimizer = j.at("optimizer").get<std::string>();
    run.steps_per_epoch = j.at("steps_per_epoch").get<int64_t>();
    run.batch_size = j.at("batch_size").get<int64_t>();
    run.epochs_planned = j.at("epochs_planned").get<int>();
    run.label_counts = j.at("label_counts").get<std::vector<int64_t>>();
    run.sample_weights = j.at("sample_weights").get<bool>();
    // Older records have no weight means: 1 is right for runs without weights.
    if (j.contains("initial_weight_mean"))
      run.initial_weight_mean = number_of(j.at("initial_weight_mean"));
    if (j.contains("weight_mean")) run.weight_mean = number_of(j.at("weight_mean"));
    run.input_stats = InputStats::from_json(j.at("input_stats"));
    if (j.contains("reference_input_stats"))
      run.reference_input_stats = InputStats::from_json(j.at("reference_input_stats"));
    run.pretrained = j.at("pretrained").get<bool>();
    run.initial_loss = number_of(j.at("initial_loss"));
    run.initial_grad_norms = numbers_of(j.at("initial_grad_norms"));
    run.initial_param_norms = numbers_of(j.at("initial_param_norms"));
    for (const auto& e : j.at("events"))
      run.events.push_back({e.at("kind").get<std::string>(), e.at("epoch").get<int>() - 1,
                            e.at("step").get<int64_t>() - 1, e.at("message").get<std::string>(),
                            e.at("detail")});
    if (j.contains("confusion")) {
      const auto& c = j.at("confusion");
      run.confusion = Confusion{c.at("source").get<std::string>(), c.at("classes").get<int>(),
                                c.at("counts").get<std::vector<int64_t>>()};
      const int64_t K = run.confusion->classes;
      if (K < 0 || static_cast<int64_t>(run.confusion->counts.size()) != K * K)
        fail("{}: the confusion matrix has {} counts for {} classes", json_path,
             run.confusion->counts.size(), K);
    }
    if (run.classes < 0) fail("{}: {} classes", json_path, run.classes);
    if (run.initial_grad_norms.size() != run.initial_param_norms.size())
      fail("{}: {} initial gradient norms but {} weight norms", json_path,
           run.initial_grad_norms.size(), run.initial_param_norms.size());
    run.sample_labels = j.at("sample_labels").get<std::vector<int>>();
    run.sample_predictions = j.at("sample_predictions").get<std::vector<int>>();

    const RecordCsv steps((d / "steps.csv").string(), read_text(d / "steps.csv"));
    for (size_t r = 0; r < steps.size(); ++r) {
      StepRecord s;
      s.epoch = static_cast<int>(steps.number(r, "epoch")) - 1;
      s.step = static_cast<int64_t>(steps.number(r, "step")) - 1;
      s.loss = steps.number(r, "loss");
      s.accuracy = steps.maybe(r, "accuracy");
      s.learning_rate = steps.number(r, "learning_rate");
      s.grad_norm = steps.number(r, "grad_norm");
      s.capped = static_cast<int64_t>(steps.number(r, "capped"));
      s.samples = static_cast<int64_t>(steps.number(r, "samples"));
      s.skipped = steps.number(r, "skipped") != 0;
      if (!run.has_accuracy()) s.accuracy = std::nullopt;  // 0 in older records
      run.steps.push_back(s);
    }
    const RecordCsv epochs((d / "epochs.csv").string(), read_text(d / "epochs.csv"));
    const auto& predicted = j.at("probe_predicted");
    for (size_t r = 0; r < epochs.size(); ++r) {
      EpochRecord e;
      e.epoch = static_cast<int>(epochs.number(r, "epoch")) - 1;
      e.loss = epochs.number(r, "loss");
      e.accuracy = epochs.maybe(r, "accuracy");
      e.val_loss = epochs.maybe(r, "val_loss");
      e.val_accuracy = epochs.maybe(r, "val_accuracy");
      e.test_loss = epochs.maybe(r, "test_loss");
      e.test_accuracy = epochs.maybe(r, "test_accuracy");
      e.learning_rate = epochs.number(r, "learning_rate");
      e.seconds = epochs.number(r, "seconds");
      e.capped = static_cast<int64_t>(epochs.number(r, "capped"));
      e.samples = static_cast<int64_t>(epochs.number(r, "samples"));
      e.probe_loss = epochs.number(r, "probe_loss");
      e.probe_accuracy = epochs.maybe(r, "probe_accuracy");
      if (r < predicted.size()) e.predicted = predicted[r].get<std::vector<int64_t>>();
      // Records written before regression runs left accuracy out hold 0 there.
      if (!run.has_accuracy())
        e.accuracy = e.val_accuracy = e.test_accuracy = e.probe_accuracy = std::nullopt;
      run.epochs.push_back(e);
    }
    const RecordCsv layers((d / "layers.csv").string(), read_text(d / "layers.csv"));
    layers.require({"epoch", "units", "act_mean", "act_std", "near_zero", "dead_fraction",
                    "param_norm", "grad_norm", "update_ratio"});
    const size_t L = run.layers.size();
    // A kill between replacing epochs.csv and layers.csv leaves the last epoch
    // without layer rows: drop it (its checkpoint comes later; a resume redoes it).
    if (L > 0 && !run.epochs.empty() && layers.size() + L == L * run.epochs.size())
      run.epochs.pop_back();
    if (layers.size() != L * run.epochs.size())
      fail("{}: {} rows for {} layers x {} epochs", (d / "layers.csv").string(), layers.size(), L,
           run.epochs.size());
    for (size_t r = 0; r < layers.size(); ++r) {
      LayerHealth h;
      h.units = static_cast<int64_t>(layers.number(r, "units"));
      h.act_mean = layers.number(r, "act_mean");
      h.act_std = layers.number(r, "act_std");
      h.near_zero = layers.number(r, "near_zero");
      h.dead_fraction = layers.maybe(r, "dead_fraction").value_or(-1);
      h.param_norm = layers.number(r, "param_norm");
      h.grad_norm = layers.number(r, "grad_norm");
      h.update_ratio = layers.number(r, "update_ratio");
      run.epochs[r / L].layers.push_back(h);
    }
    if (fs::exists(d / "samples.safetensors", ec)) {
      SafeTensors samples = read_safetensors((d / "samples.safetensors").string());
      if (const Tensor* t = samples.find("inputs")) run.samples = t->clone();
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{} is malformed ({})", json_path, e.what());
  }
  return run;
}

}  // namespace ck
