#include "apps/train_options.h"

#include <CLI/CLI.hpp>

#include "apps/commands.h"
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
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--batch", o.batch, "Samples per step")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--optimizer", o.optimizer, "adam or sgd")->capture_default_str();
  cmd.add_option("--lr", o.lr, "Learning rate (default: 0.001 for adam, 0.01 for sgd)")
      ->check(number_above(0, false, "POSITIVE"));
  cmd.add_option("--momentum", o.momentum, "SGD momentum, in [0, 1)")
      ->check(number_above(0, true, "NONNEGATIVE"));
  cmd.add_flag("--nesterov", o.nesterov, "SGD with Nesterov momentum");
  cmd.add_option("--loss", o.loss,
                 "auto, sparse_categorical_crossentropy (scce), binary_crossentropy (bce), or "
                 "mean_squared_error (mse); auto: mse for --regression, bce for one sigmoid "
                 "output, else scce")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "Seed for initialization, shuffling and dropout")
      ->capture_default_str()
      ->check(seed_value());
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
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--checkpoint-every", o.checkpoint_every,
                 "Also checkpoint every N steps within an epoch (0 = only at epoch ends)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--resume", o.resume,
                 "Continue the run whose checkpoints are in this directory, exactly as it was "
                 "started (only --epochs and --threads may be given with it)");
  cmd.add_option("--run-dir", o.run_dir,
                 "Record the run here: per-step and per-epoch metrics, layer health, input "
                 "statistics and the model (read by convkit diagnose, plot and report)");
  cmd.add_option("--on-nan", o.on_nan,
                 "When the loss turns NaN or Inf: stop (naming where it began), rollback (restore "
                 "the last good state and divide the learning rate by 10), or continue (warn once "
                 "and train on, as Keras does without TerminateOnNaN)")
      ->capture_default_str()
      ->check(CLI::IsMember({"stop", "rollback", "continue"}));
}

nlohmann::json train_options_json(const TrainOptions& o) {
  nlohmann::json j = o;
  // --resume is how a process continues the run, not one of the run's options:
  // a resumed run's record reads as the run was started (the recorder notes the resume).
  j["resume"] = "";
  return j;
}

TrainOptions train_options_from_json(const nlohmann::json& j) {
  try {
    return j.get<TrainOptions>();
  } catch (const nlohmann::json::exception& e) {
    fail("the run's recorded options are malformed ({})", e.what());
  }
}

}  // namespace ck
