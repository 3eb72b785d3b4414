#include "apps/run_record.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>

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

// ---- JSON pieces

nlohmann::json json_number(double x) {
  if (std::isfinite(x)) return x;
  return num(x);
}
nlohmann::json numbers_json(const std::vector<double>& xs) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : xs) a.push_back(json_number(x));
  return a;
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

}  // namespace ck
