#pragma once
// The options of `convkit train`, shared by the command, checkpoints (which
// store them, so `--resume DIR` continues a run exactly as it was started)
// and the training record in model files.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "apps/data_options.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ck {

struct TrainOptions {
  DataOptions data;
  std::string model = "fmnist-cnn";
  int epochs = 2;
  int batch = 32;
  std::string optimizer = "adam";
  float lr = 0;  // 0: the optimizer's default
  float momentum = 0;
  bool nesterov = false;
  std::string loss = "auto";
  uint64_t seed = 42;
  // Model files
  std::string save;
  std::string init_from;
  std::string freeze;
  // Checkpoints
  std::string checkpoint_dir;
  int keep_checkpoints = 3;
  int64_t checkpoint_every = 0;
  std::string resume;
  // Diagnostics
  std::string run_dir;         // record the run here (apps/run_record.h)
  std::string on_nan = "stop"; // stop | rollback (apps/train_guard.h)
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainOptions, data, model, epochs, batch, optimizer,
                                                lr, momentum, nesterov, loss, seed, save,
                                                init_from, freeze, checkpoint_dir,
                                                keep_checkpoints, checkpoint_every, resume,
                                                run_dir, on_nan)

void add_train_options(CLI::App& cmd, TrainOptions& options);

// The JSON record of a run's options, as the run was started (resume always
// ""); from_json throws ck::Error when malformed.
nlohmann::json train_options_json(const TrainOptions& options);
TrainOptions train_options_from_json(const nlohmann::json& j);

}  // namespace ck
