#pragma once
// Statistics of a model's input as it enters the model (after
// preprocessing): per channel min / max / mean / std, whole-number share and
// NaN count. Recorded while training (run directories, and the model file's
// training record as "input_stats"), so the data given to a trained model
// later can be compared with what it learned from.
//
// Channels are the last dimension of an image (H,W,C), or each feature of a
// vector of at most kMaxFeatureChannels features; wider vectors are one channel.
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/finding.h"
#include "core/tensor.h"

namespace ck {

inline constexpr int64_t kMaxFeatureChannels = 64;

struct ChannelStats {
  double min = 0, max = 0, mean = 0, std = 0;
};

struct InputStats {
  Shape sample_shape;
  int64_t samples = 0;
  int64_t nonfinite = 0;      // NaN or Inf values (left out of the rest)
  double whole_fraction = 0;  // share of values that are whole numbers
  // Images: correlation between horizontally adjacent pixels (natural images
  // ~0.9, random noise ~0); NaN for other inputs.
  double neighbor_correlation = std::numeric_limits<double>::quiet_NaN();
  ChannelStats all;  // every channel together
  std::vector<ChannelStats> channels;

  // A row of table features (a vector of at most kMaxFeatureChannels), not an image.
  bool is_table() const {
    return sample_shape.size() == 1 && sample_shape[0] <= kMaxFeatureChannels;
  }
  // Whole numbers in [0, 255] reaching above 1: 8-bit pixels no one scaled
  // (never for table rows, whose whole numbers are counts or codes).
  bool looks_like_raw_pixels() const;
  // "raw 8-bit pixels (0..255)", "0..1", "-1..1", "standardized (mean 0, std 1)"...
  std::string describe_range() const;
  // "min 0, max 255, mean 72.9, std 90.0"
  std::string describe() const;
  nlohmann::json to_json() const;
  // Throws ck::Error on a malformed record.
  static InputStats from_json(const nlohmann::json& j);
};

// Accumulates InputStats over batches (N, ...sample shape).
class InputStatsAccumulator {
 public:
  void add(const Tensor& batch);
  bool empty() const { return samples_ == 0; }
  InputStats stats() const;

 private:
  struct Sums {
    double sum = 0, sum_squares = 0, min = 0, max = 0;
    int64_t count = 0;
  };
  Shape sample_shape_;
  int64_t samples_ = 0, values_ = 0, whole_ = 0, nonfinite_ = 0;
  // Sums over horizontally adjacent pixel pairs (a, b), for their correlation.
  double pair_a_ = 0, pair_b_ = 0, pair_ab_ = 0, pair_aa_ = 0, pair_bb_ = 0;
  int64_t pairs_ = 0;
  std::vector<Sums> channels_;
};

InputStats input_stats_of(const Tensor& batch);

// Train/inference preprocessing mismatch: compares inputs given to a trained
// model (`now`) with those it was trained on. Findings (id
// "preprocessing-mismatch" or "input-non-finite") name the channel, both
// statistics and the likely cause; none when the inputs look alike.
// feature_names: the table's feature columns, to name them (may be empty).
std::vector<Finding> compare_input_stats(const InputStats& training, const InputStats& now,
                                         const std::vector<std::string>& feature_names = {});

}  // namespace ck
