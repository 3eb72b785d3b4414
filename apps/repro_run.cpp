// Table, ReproRun and ExperimentResult: the figures of one experiment's runs
// and how they are printed (text and Markdown) and replayed (convkit train).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/repro.h"
#include "core/format.h"

namespace ck {

namespace {

std::string pad(const std::string& s, size_t width, bool right) {
  // Width in characters, counting UTF-8 continuation bytes as nothing.
  size_t shown = 0;
  for (unsigned char c : s) shown += (c & 0xC0) != 0x80;
  if (shown >= width) return s;
  return right ? std::string(width - shown, ' ') + s : s + std::string(width - shown, ' ');
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
  // A blank line first: right after a list item, Markdown would fold the
  // title into the item.
  std::string s = title.empty() ? "\n" : "\n**" + title + "**\n\n";
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

std::string train_command(const TrainOptions& options) {
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
    std::string text = value.is_string()         ? value.get<std::string>()
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

double ReproRun::peak(const std::string& name) const {
  double peak = -INFINITY;
  for (int e = 0; e < epochs(); ++e)
    peak = std::isfinite(figure(name, e)) ? std::max(peak, figure(name, e)) : INFINITY;
  return peak;
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
    for (int j = 0; j < K; ++j)
      actual += e->confusion[k * K + j], predicted += e->confusion[j * K + k];
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
        if (e >= r->epochs())
          row.push_back("");
        else if (f == "capped")
          row.push_back(std::isnan(v) ? "nan" : fmt::format("{:.0f}%", 100 * v));
        else if (f == "grad_norm")
          row.push_back(short_number(v));
        else
          row.push_back(metric_text(v));
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

int64_t first_dense_inputs(const Model& model) {
  for (const auto& layer : model.layers())
    if (layer->kind() == "dense") return shape_size(layer->input_shape);
  return 0;
}

double accuracy_noise(int64_t n) { return 2 * 0.5 / std::sqrt(static_cast<double>(n)); }

}  // namespace ck
