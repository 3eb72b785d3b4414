#pragma once
// Loader: turns a dataset and a list of sample indices into batches, as
// Keras's fit() does: a fresh permutation every epoch (when shuffling), fixed
// batch size, the last partial batch kept.
//
// Each sample goes through the preprocessing (data/preprocess.h): decoding
// (streamed image files), imputation, augmentation (training) or the inference
// crop, scaling. Samples are prepared in parallel (oneTBB), and the next batch
// is prepared on a background thread while the caller computes on the current
// one (double buffering).
//
// Determinism: the permutation of epoch e comes from Rng::derive(seed, 0x5eed,
// e), resampling from its own stream, and sample p of the epoch's order draws
// its augmentation from Rng::derive(seed, kAugment | e, p); no randomness
// depends on threads or prefetching, so a seed gives the same batches whatever
// the thread count, and any epoch can be replayed on its own.
#include <cstdint>
#include <future>
#include <vector>

#include "core/tensor.h"
#include "data/augment.h"
#include "data/balance.h"
#include "data/dataset.h"
#include "data/preprocess.h"

namespace ck {

struct Batch {
  Tensor x;                     // (n, ...input shape), preprocessed
  std::vector<float> targets;   // n * target_size
  std::vector<float> weights;   // n sample weights, or empty for all ones
  std::vector<int64_t> indices; // which dataset samples
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = false;
  uint64_t seed = 0;
  const Augmentation* augment = nullptr;  // training only; must outlive the loader
  Resample resample = Resample::none;     // needs class labels
  bool prefetch = true;
};

class Loader {
 public:
  // Requires: data, preprocessing outlive the loader; batch_size > 0.
  Loader(const Dataset& data, std::vector<int64_t> indices, int batch_size,
         const Preprocessing& preprocessing, bool shuffle, uint64_t seed);
  Loader(const Dataset& data, std::vector<int64_t> indices, const Preprocessing& preprocessing,
         const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Samples per epoch (after resampling) and batches per epoch.
  int64_t samples() const { return epoch_size_; }
  int64_t batches() const { return (samples() + options_.batch_size - 1) / options_.batch_size; }
  // Starts epoch `epoch` (0-based): its order, from the batch at `skip` on.
  void start_epoch(int epoch, int64_t skip = 0);
  // Fills the next batch, reusing its storage; false at the end of the epoch.
  // Rethrows a ck::Error raised while preparing it (an unreadable file).
  bool next(Batch& batch);
  // Per-class sample weights applied to every batch (empty: none).
  void set_class_weights(std::vector<float> weights) { class_weights_ = std::move(weights); }
  const std::vector<float>& class_weights() const { return class_weights_; }

  const std::vector<int64_t>& indices() const { return indices_; }
  const LoaderOptions& options() const { return options_; }
  // Seconds next() spent waiting for a batch to be ready, since construction:
  // the time a training loop loses to data.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void prepare(Batch& batch, int64_t begin, int64_t n, int epoch) const;
  void launch();
  void drain();

  const Dataset& data_;
  std::vector<int64_t> indices_, order_;
  std::vector<std::vector<int64_t>> by_class_;
  const Preprocessing& pre_;
  LoaderOptions options_;
  int64_t epoch_size_ = 0;
  int epoch_ = 0;
  int64_t cursor_ = 0;
  std::vector<float> class_weights_;
  Batch ready_;               // filled in the background
  std::future<void> pending_;
  double wait_seconds_ = 0;
};

}  // namespace ck
