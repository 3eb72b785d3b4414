#pragma once
// Resolves what a user passes as --data into datasets.
//   fashion-mnist       Fashion-MNIST from Debian's dataset-fashion-mnist package (default)
//   DIR                 a directory of MNIST-style IDX files (train-/t10k-...-ubyte[.gz])
#include <optional>
#include <string>

#include "data/dataset.h"

namespace ck {

struct DataSplits {
  Dataset train;
  std::optional<Dataset> test;  // when the source has a separate test set
  std::string name;             // for messages: "Fashion-MNIST"
};

// Throws ck::Error with what was expected when `spec` is none of the above.
DataSplits load_data(const std::string& spec);

// Keeps the first `limit` samples (0 = all).
void limit_samples(Dataset& data, int64_t limit);

}  // namespace ck
