#pragma once
// What a user should know about a dataset before training on it, as printed
// by `convkit data stats`: classes and imbalance, image sizes, value ranges
// per channel, missing values per column.
#include <string>
#include <vector>

#include "data/sources.h"

namespace ck {

// Per channel (last axis) over the stored samples, missing values (NaN) left
// out. Reduced in a fixed order: the same figures whatever the threads.
struct ChannelSummary {
  std::vector<float> min, max;
  std::vector<double> mean, std;
  std::vector<int64_t> count, missing;
};
ChannelSummary channel_summary(const Dataset& data);

// The full report for the loaded splits.
std::string format_stats(const DataSplits& splits);

}  // namespace ck
