#pragma once
// Dataset: samples held in memory after decoding, with their targets.
// Images are stored as decoded 8-bit pixels (HWC) when they came from image
// files or IDX; tabular or synthetic float data as float32. Preprocessing
// (data/preprocess.h) turns either into the model's float input per batch.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ck {

struct Dataset {
  Shape sample_shape;             // (H,W,C) for images, (D) for features
  std::vector<uint8_t> pixels;    // N * sample size, for 8-bit sources...
  std::vector<float> values;      // ... or N * sample size, for float sources
  std::vector<float> targets;     // N * target_size: class index, 0/1, or values
  int target_size = 1;
  std::vector<std::string> class_names;  // empty for regression
  std::string description;        // where the data came from, for messages

  int64_t size() const { return static_cast<int64_t>(targets.size()) / target_size; }
  int64_t sample_size() const { return shape_size(sample_shape); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  bool is_u8() const { return !pixels.empty() || values.empty(); }
  // Copies sample i as float (unscaled) into out (sample_size values).
  void copy_sample(int64_t i, float* out) const;
  // Per-class sample counts (targets must be class indices).
  std::vector<int64_t> class_counts() const;
  // The samples at `indices`, in that order, as a new dataset.
  Dataset subset(const std::vector<int64_t>& indices) const;
};

// Keras's validation_split: the last `fraction` of the samples (before any
// shuffling) become validation. Requires: 0 <= fraction < 1.
// Ensures: train + validation partition [0, n); both in index order.
void split_tail(int64_t n, double fraction, std::vector<int64_t>& train,
                std::vector<int64_t>& validation);

}  // namespace ck
