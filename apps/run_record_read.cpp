// Reading a run directory back (read_run_dir in apps/run_record.h): run.json
// and the CSV files that apps/run_record.cpp writes, each damaged or missing
// piece named in the error.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>

#include "apps/run_record.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

// A CSV file as run_record.cpp writes it: a header row, then rows of the same
// number of cells; numbers in their shortest exact form, "nan"/"inf" as such,
// empty = missing.
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

// One of the record's files. Every record write makes all of them, so a
// missing one means the directory was cut short or edited.
std::string read_text(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail("{} is missing: this run directory is incomplete (convkit train --run-dir writes {} "
         "with the record's first save; copy the whole directory, or record the run again)",
         path.string(), path.filename().string());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {} (check its permissions)", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double number_of(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  return std::strtod(j.get<std::string>().c_str(), nullptr);
}
std::vector<double> numbers_of(const nlohmann::json& j) {
  std::vector<double> xs;
  for (const auto& x : j) xs.push_back(number_of(x));
  return xs;
}

}  // namespace

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
