#include "apps/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/format.h"
#include "core/gemm.h"
#include "core/parallel.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

bool is_checkpoint_name(const std::string& name) {
  return name.rfind("ckpt-e", 0) == 0 && name.size() > 12 &&
         name.substr(name.size() - 12) == ".safetensors";
}

std::vector<fs::path> checkpoints_in(const std::string& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && is_checkpoint_name(entry.path().filename().string()))
      found.push_back(entry.path());
  // Zero-padded names sort by (epoch, step).
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string dir, int keep, int64_t every_steps, Model& model,
                                   Optimizer& optimizer, const ModelInfo& info,
                                   nlohmann::json options, std::vector<nlohmann::json> history)
    : dir_(std::move(dir)),
      keep_(std::max(keep, 1)),
      every_steps_(every_steps),
      model_(model),
      optimizer_(optimizer),
      info_(info),
      options_(std::move(options)),
      history_(std::move(history)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!fs::is_directory(dir_, ec)) fail("--checkpoint-dir {}: cannot create the directory", dir_);
  // A run killed while saving leaves its temporary file behind (never a
  // partial checkpoint): clear those.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".ckpt-e", 0) == 0 && name.find(".tmp.") != std::string::npos)
      fs::remove(entry.path(), ec);
  }
}

void CheckpointWriter::on_step_end(const StepInfo& s) {
  if (every_steps_ <= 0 || s.step + 1 == s.steps || (s.step + 1) % every_steps_ != 0) return;
  save({s.epoch, s.step + 1, s.running, s.images});
}

void CheckpointWriter::on_epoch_end(const EpochResult& r, int) {
  history_.push_back(epoch_json(r));
  save({r.epoch + 1, 0, {}, 0});
}

void CheckpointWriter::on_stop(const TrainPosition& next) {
  // At an epoch's end, on_epoch_end has just saved this position.
  if (next.step > 0) save(next);
}

void CheckpointWriter::save(const TrainPosition& next) {
  nlohmann::json run_record = before_save_ ? before_save_() : nlohmann::json();
  std::vector<std::pair<std::string, const Tensor*>> state;
  for (auto& [name, t] : optimizer_.state()) state.emplace_back(name, t);
  nlohmann::json record = {
      {"epoch", next.epoch},
      {"step", next.step},
      {"running", loss_stats_json(next.running)},
      {"images", next.images},
      {"optimizer", optimizer_.name()},
      {"iterations", optimizer_.iterations},
      {"learning_rate", optimizer_.learning_rate},
      {"history", history_},
      {"options", options_},
      {"threads", threads()},
      {"gemm", gemm_backend_name(gemm_backend())},
  };
  if (!run_record.is_null()) record["run_record"] = run_record;
  const std::string name = fmt::format("ckpt-e{:04d}-s{:07d}.safetensors", next.epoch, next.step);
  const std::string path = (fs::path(dir_) / name).string();
  save_model(path, model_, info_, state, {{"checkpoint", record.dump()}});
  last_saved_ = path;
  std::vector<fs::path> all = checkpoints_in(dir_);
  for (size_t i = 0; i + keep_ < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
}

void require_no_checkpoints(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec))
    fail("--checkpoint-dir {} is a file, not a folder; choose a folder", dir);
  std::vector<fs::path> all = checkpoints_in(dir);
  if (all.empty()) return;
  const std::string newest = all.back().filename().string();
  std::string model;
  try {
    model = ", model " + read_checkpoint(all.back().string()).options.at("model").get<std::string>();
  } catch (const std::exception&) {
    // A malformed record: the file name alone names the run.
  }
  fail("--checkpoint-dir {} already holds checkpoints of another run ({}{}); resume it with "
       "convkit train --resume {}, or choose an empty folder",
       dir, newest, model, shell_word(dir));
}

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("--resume {}: not a directory of checkpoints", dir);
  std::vector<fs::path> all = checkpoints_in(dir);
  if (all.empty()) return std::nullopt;
  return all.back().string();
}

Checkpoint read_checkpoint(const std::string& path) {
  SafeTensors file = read_safetensors(path);
  auto it = file.metadata.find("checkpoint");
  if (it == file.metadata.end()) fail("{} is a model file, not a checkpoint", path);
  Checkpoint c;
  c.path = path;
  try {
    nlohmann::json r = nlohmann::json::parse(it->second);
    c.position.epoch = r.at("epoch").get<int>();
    c.position.step = r.at("step").get<int64_t>();
    c.position.running = loss_stats_from_json(r.at("running"));
    c.position.images = r.at("images").get<int64_t>();
    c.options = r.at("options");
    c.history = r.at("history").get<std::vector<nlohmann::json>>();
    c.threads = r.at("threads").get<int>();
    c.gemm = r.at("gemm").get<std::string>();
    if (r.contains("run_record")) c.run_record = r.at("run_record");
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the checkpoint record is malformed ({})", path, e.what());
  }
  return c;
}

Checkpoint restore_checkpoint(const std::string& path, Model& model, Optimizer& optimizer) {
  LoadedModel saved = load_model(path);
  Checkpoint c = read_checkpoint(path);
  nlohmann::json record = nlohmann::json::parse(saved.file.metadata.at("checkpoint"));
  if (record.at("optimizer").get<std::string>() != optimizer.name())
    fail("{} was saved with the {} optimizer, not {}", path,
         record.at("optimizer").get<std::string>(), optimizer.name());
  std::vector<Param*> params = model.params();
  std::vector<Param*> saved_params = saved.model.params();
  if (params.size() != saved_params.size())
    fail("{}: the checkpoint's architecture differs from the model being resumed", path);
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i]->name != saved_params[i]->name ||
        params[i]->value.shape() != saved_params[i]->value.shape())
      fail("{}: the checkpoint's architecture differs from the model being resumed", path);
    params[i]->value.copy_from(saved_params[i]->value);
    params[i]->trainable = saved_params[i]->trainable;
  }
  optimizer.prepare(params);
  for (auto& [name, t] : optimizer.state()) {
    const Tensor* s = saved.file.find(name);
    if (!s || s->shape() != t->shape()) fail("{}: optimizer state \"{}\" is missing or malformed", path, name);
    t->copy_from(*s);
  }
  optimizer.iterations = record.at("iterations").get<int64_t>();
  optimizer.learning_rate = record.at("learning_rate").get<float>();
  return c;
}

}  // namespace ck
