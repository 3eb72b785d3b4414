#pragma once
// The data side of a training run: which data, how it is read, split,
// preprocessed, augmented, balanced and batched. Shared by the commands that
// train or look at data (train, data stats/preview/bench).
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/loader.h"
#include "data/preprocess.h"
#include "data/sources.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ck {

struct DataOptions {
  // Source: what to read and how (add_source_options).
  std::string data = "fashion-mnist";
  std::string test_data;
  int64_t limit = 0;
  int64_t test_limit = 0;
  std::string resize;                    // HxW
  std::string resize_method = "bilinear";
  int channels = 0;
  std::string label_column = "label";
  std::string image_shape;               // CSV rows of pixels
  bool regression = false;
  std::string impute = "none";
  std::string on_bad_image = "stop";
  int64_t cache_limit_mb = 2048;
  // Training: split, preprocessing, augmentation, balance (add_data_options).
  double validation_split = 0;
  bool stratify = false;
  std::string scale = "auto";
  std::string augment;
  std::string class_weight;
  std::string resample;
};

// JSON form (checkpoints and model files record the options of a run);
// absent keys keep their defaults.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataOptions, data, test_data, limit, test_limit,
                                                resize, resize_method, channels, label_column,
                                                image_shape, regression, impute, on_bad_image,
                                                cache_limit_mb, validation_split, stratify, scale,
                                                augment, class_weight, resample)

// The source options only (for commands that look at data without training).
void add_source_options(CLI::App& cmd, DataOptions& options);
// Every option: source, split, preprocessing, augmentation, class balance.
void add_data_options(CLI::App& cmd, DataOptions& options);
// --on-bad-image stop|skip (train, evaluate, predict): one wording and check.
void add_on_bad_image_option(CLI::App& cmd, std::string& on_bad_image);

// The options as data/ takes them; throws ck::Error for malformed values.
SourceOptions source_options(const DataOptions& options);
// Loads --data (and --test-data), prints load warnings to stderr, shuffles
// class-sorted image folders with `seed` (as Keras's
// image_dataset_from_directory) and applies --limit/--test-limit.
// `for_stats`: tables may have gaps and images differ in size (no --impute or
// --resize needed to look at them).
DataSplits load_splits(const DataOptions& options, uint64_t seed, bool for_stats = false);

// Loaded data with its fitted preprocessing and its loaders. Held by pointer:
// the loaders refer to the datasets and preprocessing inside it.
struct PreparedData {
  DataSplits splits;
  Preprocessing preprocessing;
  Augmentation augmentation;             // training only
  std::vector<int64_t> train_indices, validation_indices;
  std::unique_ptr<Loader> train, validation, test;  // validation/test may be null
  std::vector<std::string> notes;        // choices made, printed by describe()
  std::string scale_reason;              // why --scale auto chose what it chose

  const Dataset& train_set() const { return splits.train; }
  // The model's input shape (after any resize and crop).
  Shape input_shape() const { return preprocessing.input_shape(); }
  // Lines describing the data and its preprocessing, for the run header.
  std::string describe() const;
};

// Loads, limits, splits, fits the preprocessing on the training part only,
// and makes the loaders (training: shuffled with `seed`, augmented, balanced;
// others in order, never augmented or weighted).
std::unique_ptr<PreparedData> prepare_data(const DataOptions& options, int batch, uint64_t seed);

}  // namespace ck
