#include "apps/train_options.h"

#include "core/error.h"

namespace ck {

void add_train_options(CLI::App& cmd, TrainOptions& o) {
  add_data_options(cmd, o.data);
  cmd.add_option("--model", o.model,
                 "A preset (convkit summary --list) or a layer spec, e.g. "
                 "\"conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)\"")
      ->capture_default_str();
  cmd.add_option("--epochs", o.epochs, "Passes over the training data (with --resume: the total)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--batch", o.batch, "Samples per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--optimizer", o.optimizer, "adam or sgd")->capture_default_str();
  cmd.add_option("--lr", o.lr, "Learning rate (default: 0.001 for adam, 0.01 for sgd)");
  cmd.add_option("--momentum", o.momentum, "SGD momentum");
  cmd.add_flag("--nesterov", o.nesterov, "SGD with Nesterov momentum");
  cmd.add_option("--loss", o.loss,
                 "auto, sparse_categorical_crossentropy (scce), binary_crossentropy (bce), or "
                 "mean_squared_error (mse)")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "Seed for initialization, shuffling and dropout")
      ->capture_default_str();
  cmd.add_option("--save", o.save, "Save the trained model here (a .safetensors file)");
  cmd.add_option("--init-from", o.init_from,
                 "Start from the weights in this safetensors file (matched by name and shape)");
  cmd.add_option("--freeze", o.freeze,
                 "Layers not to train: names with * wildcards (conv2d*), comma-separated, or "
                 "\"imported\" for the layers --init-from loaded");
  cmd.add_option("--checkpoint-dir", o.checkpoint_dir,
                 "Save a checkpoint here after every epoch (model, optimizer state, position)");
  cmd.add_option("--keep-checkpoints", o.keep_checkpoints, "How many checkpoints to keep")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--checkpoint-every", o.checkpoint_every,
                 "Also checkpoint every N steps within an epoch (0 = only at epoch ends)")
      ->capture_default_str();
  cmd.add_option("--resume", o.resume,
                 "Continue the run whose checkpoints are in this directory, exactly as it was "
                 "started (only --epochs and --threads may be given with it)");
  cmd.add_option("--run-dir", o.run_dir,
                 "Record the run here: per-step and per-epoch metrics, layer health, input "
                 "statistics and the model (read by convkit diagnose, plot and report)");
  cmd.add_option("--on-nan", o.on_nan,
                 "When the loss turns NaN or Inf: stop (naming where it began) or rollback (restore "
                 "the last good state and divide the learning rate by 10)")
      ->capture_default_str()
      ->check(CLI::IsMember({"stop", "rollback"}));
}

nlohmann::json train_options_json(const TrainOptions& o) {
  return {{"data",
           {{"data", o.data.data},
            {"limit", o.data.limit},
            {"test_limit", o.data.test_limit},
            {"validation_split", o.data.validation_split},
            {"scale", o.data.scale}}},
          {"model", o.model},
          {"epochs", o.epochs},
          {"batch", o.batch},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"nesterov", o.nesterov},
          {"loss", o.loss},
          {"seed", o.seed},
          {"init_from", o.init_from},
          {"freeze", o.freeze},
          {"save", o.save},
          {"keep_checkpoints", o.keep_checkpoints},
          {"checkpoint_every", o.checkpoint_every},
          {"run_dir", o.run_dir},
          {"on_nan", o.on_nan}};
}

TrainOptions train_options_from_json(const nlohmann::json& j) {
  TrainOptions o;
  try {
    const nlohmann::json& d = j.at("data");
    o.data.data = d.at("data").get<std::string>();
    o.data.limit = d.at("limit").get<int64_t>();
    o.data.test_limit = d.at("test_limit").get<int64_t>();
    o.data.validation_split = d.at("validation_split").get<double>();
    o.data.scale = d.at("scale").get<std::string>();
    o.model = j.at("model").get<std::string>();
    o.epochs = j.at("epochs").get<int>();
    o.batch = j.at("batch").get<int>();
    o.optimizer = j.at("optimizer").get<std::string>();
    o.lr = j.at("lr").get<float>();
    o.momentum = j.at("momentum").get<float>();
    o.nesterov = j.at("nesterov").get<bool>();
    o.loss = j.at("loss").get<std::string>();
    o.seed = j.at("seed").get<uint64_t>();
    o.init_from = j.at("init_from").get<std::string>();
    o.freeze = j.at("freeze").get<std::string>();
    o.save = j.at("save").get<std::string>();
    o.keep_checkpoints = j.at("keep_checkpoints").get<int>();
    o.checkpoint_every = j.at("checkpoint_every").get<int64_t>();
    // Absent from records written before these options existed.
    o.run_dir = j.value("run_dir", std::string());
    o.on_nan = j.value("on_nan", std::string("stop"));
  } catch (const nlohmann::json::exception& e) {
    fail("the run's recorded options are malformed ({})", e.what());
  }
  return o;
}

}  // namespace ck
