#pragma once
// The data side of a training run: which data, how it is split, preprocessed
// and batched. Shared by the commands that train or evaluate.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/preprocess.h"
#include "data/sources.h"

namespace ck {

struct DataOptions {
  std::string data = "fashion-mnist";
  int64_t limit = 0;
  int64_t test_limit = 0;
  double validation_split = 0;
  std::string scale = "1/255";
};

void add_data_options(CLI::App& cmd, DataOptions& options);

// Loaded data with its fitted preprocessing and its loaders. Held by pointer:
// the loaders refer to the datasets and preprocessing inside it.
struct PreparedData {
  DataSplits splits;
  Preprocessing preprocessing;
  std::vector<int64_t> train_indices, validation_indices;
  std::unique_ptr<Loader> train, validation, test;  // validation/test may be null

  const Dataset& train_set() const { return splits.train; }
  // Lines describing the data and its preprocessing, for the run header.
  std::string describe() const;
};

// Loads, limits, splits, fits the preprocessing on the training part only,
// and makes the loaders (training: shuffled with `seed`; others in order).
std::unique_ptr<PreparedData> prepare_data(const DataOptions& options, int batch, uint64_t seed);

}  // namespace ck
