#pragma once
// Loader: turns a dataset and a list of sample indices into batches, as
// Keras's fit() does: a fresh permutation every epoch (when shuffling), fixed
// batch size, the last partial batch kept.
//
// The permutation of epoch e comes from Rng::derive(seed, e), so any epoch can
// be replayed on its own (resuming a run reproduces it exactly).
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/preprocess.h"

namespace ck {

struct Batch {
  Tensor x;                     // (n, ...sample shape), preprocessed
  std::vector<float> targets;   // n * target_size
  std::vector<float> weights;   // n sample weights, or empty for all ones
  std::vector<int64_t> indices; // which dataset samples
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

class Loader {
 public:
  // Requires: data, preprocessing outlive the loader; batch_size > 0.
  Loader(const Dataset& data, std::vector<int64_t> indices, int batch_size,
         const Preprocessing& preprocessing, bool shuffle, uint64_t seed);

  int64_t samples() const { return static_cast<int64_t>(indices_.size()); }
  int64_t batches() const { return (samples() + batch_size_ - 1) / batch_size_; }
  // Starts epoch `epoch` (0-based): its order, from the batch at `skip` on.
  void start_epoch(int epoch, int64_t skip = 0);
  // Fills the next batch, reusing its storage; false at the end of the epoch.
  bool next(Batch& batch);
  // Per-class sample weights applied to every batch (empty: none).
  void set_class_weights(std::vector<float> weights) { class_weights_ = std::move(weights); }

 private:
  const Dataset& data_;
  std::vector<int64_t> indices_, order_;
  int batch_size_;
  const Preprocessing& pre_;
  bool shuffle_;
  uint64_t seed_;
  int64_t cursor_ = 0;
  std::vector<float> class_weights_;
};

}  // namespace ck
