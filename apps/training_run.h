#pragma once
// A training run exactly as `convkit train` makes one, for every command that
// trains: `train` itself, and `repro`, whose broken and fixed runs are each a
// set of train options (so each one is a command line a user can rerun).
//
//   auto run = prepare_training(options);     // data, model, optimizer, record
//   TrainingOutcome out = execute_training(*run, how);
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/checkpoint.h"
#include "apps/data_options.h"
#include "apps/model_file.h"
#include "apps/run_record.h"
#include "apps/train_guard.h"
#include "apps/train_options.h"
#include "apps/trainer.h"
#include "optim/optimizer.h"

namespace ck {

struct TrainingRun {
  TrainOptions options;
  std::unique_ptr<PreparedData> data;
  Model model;                            // built, compiled, initialized, imported, frozen
  std::unique_ptr<Optimizer> optimizer;
  ModelInfo info;                         // what --save writes with the weights
  std::string setup_notes;                // --init-from / --freeze report lines

  // The run header `convkit train` prints: data, preprocessing, model, optimizer.
  std::string header() const;
  bool has_accuracy() const { return model.loss() != LossKind::mean_squared_error; }
};

// Loads and prepares the data, builds the model for it and checks that the
// two fit (classes, targets), initializes it from the seed, imports and
// freezes weights as asked, and makes the optimizer. Throws ck::Error.
std::unique_ptr<TrainingRun> prepare_training(const TrainOptions& options);

struct ExecuteOptions {
  TrainPosition start;                      // resuming: where the checkpoint left off
  std::vector<nlohmann::json> history;      // resuming: the epochs already done
  nlohmann::json run_record;                // resuming: the checkpoint's recorder state
  TrainObserver* progress = nullptr;        // e.g. the progress bar
  std::string checkpoint_dir;               // write checkpoints here (and roll back to them)
  std::string run_dir;                      // record the run here
  bool record = false;                      // record in memory even without run_dir
  bool resuming = false;                    // continue run_dir's record
  std::string resumed_from;                 // resuming: the checkpoint file
  std::FILE* warnings = stderr;             // the guard's warnings
};

struct TrainingOutcome {
  std::vector<EpochResult> epochs;          // those finished, even when stopped
  std::vector<nlohmann::json> history;      // every epoch of the run (epoch_json)
  std::optional<RunRecord> record;          // when recorded
  InputStats input_stats;                   // as the inputs entered the model
  std::vector<std::string> warnings;        // the guard's
  std::string stopped;                      // why the guard stopped the run, or empty
  double seconds() const;
};

// Trains run.model with the guard (--on-nan) always on, the recorder and the
// checkpoint writer when asked. A run the guard stops returns with `stopped`
// set; other errors are thrown. After Ctrl-C the record (marked interrupted)
// and a checkpoint of the position are written, and Interrupted says where.
TrainingOutcome execute_training(TrainingRun& run, const ExecuteOptions& how);

// run.info with the run's history and input statistics, ready for save_model.
ModelInfo trained_model_info(const TrainingRun& run, const TrainingOutcome& outcome);

}  // namespace ck
