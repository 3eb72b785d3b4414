#pragma once
// Dataset: samples with their targets, at one stored shape.
// Samples live in one of three places:
//   pixels  8-bit values (H,W,C), for image files, IDX, synthetic 0..255 data
//   values  float32, for tables (NaN marks a missing value) and float data
//   files   image files decoded on demand, for image folders too large to keep
//           decoded in memory; each is converted and resized to sample_shape
// Preprocessing (data/preprocess.h) turns any of them into the model's input.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/resize.h"

namespace ck {

struct Dataset {
  Shape sample_shape;             // (H,W,C) for images, (D) for features
  std::vector<uint8_t> pixels;    // N * sample size, for 8-bit sources...
  std::vector<float> values;      // ... or N * sample size, for float sources
  std::vector<std::string> files; // ... or N image files (streamed)
  ResizeMethod file_resize = ResizeMethod::bilinear;  // files not at sample_shape
  std::vector<float> targets;     // N * target_size: class index, 0/1, or values
  int target_size = 1;
  std::vector<std::string> class_names;  // empty for regression
  std::string target_name;        // regression: the target column, for messages
  std::vector<std::string> columns;      // feature names (tables), else empty
  std::string description;        // where the data came from, for messages
  bool sorted_by_class = false;   // image folders: files grouped by class

  int64_t size() const { return static_cast<int64_t>(targets.size()) / target_size; }
  int64_t sample_size() const { return shape_size(sample_shape); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  bool streamed() const { return !files.empty(); }
  bool is_u8() const { return !streamed() && (!pixels.empty() || values.empty()); }
  bool is_image() const { return sample_shape.size() == 3; }
  // Copies sample i as float (unscaled) into out (sample_size values).
  // Streamed samples are decoded here; throws ck::Error naming a file that
  // has become unreadable since it was loaded.
  void copy_sample(int64_t i, float* out) const;
  // Per-class sample counts (targets must be class indices).
  std::vector<int64_t> class_counts() const;
  std::vector<int64_t> class_counts(const std::vector<int64_t>& indices) const;
  // The samples at `indices`, in that order, as a new dataset.
  Dataset subset(const std::vector<int64_t>& indices) const;
  // Puts sample order[i] at position i, in place (one sample of extra
  // memory, not a second copy of the data). Requires: order is a permutation.
  void reorder(const std::vector<int64_t>& order);
  int label(int64_t i) const { return static_cast<int>(targets[i * target_size]); }
};

// What the targets are, for messages: "10 classes", or for numeric targets
// "regression target \"price\", 0.5 to 31.2" (range over `indices`, or every
// sample when empty). Never "0 classes".
std::string describe_targets(const Dataset& data, const std::vector<int64_t>& indices = {});

// Keras's validation_split: the last `fraction` of the samples (before any
// shuffling) become validation. Requires: 0 <= fraction < 1.
// Ensures: train + validation partition [0, n); both in index order.
void split_tail(int64_t n, double fraction, std::vector<int64_t>& train,
                std::vector<int64_t>& validation);

// The same rule applied within each class: the last `fraction` of every
// class's samples (in index order) become validation, so both parts keep the
// class proportions. Ensures: both parts in index order.
void split_stratified(const Dataset& data, double fraction, std::vector<int64_t>& train,
                      std::vector<int64_t>& validation);

// Converts image samples to `channels` and resizes them to h x w (8-bit
// samples are rounded back to 8 bits, float samples stay float), in parallel.
// Requires: data.is_image(), not streamed.
void reshape_images(Dataset& data, int channels, int h, int w, ResizeMethod method);

}  // namespace ck
