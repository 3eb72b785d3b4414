#pragma once
// Class balance: per-class loss weights, and per-epoch resampling.
//
//   --class-weight balanced   w_k = n / (K * n_k)  (scikit-learn's "balanced")
//   --class-weight inverse    w_k = 1 / n_k        (the article's formula)
//   --class-weight 0:1,1:5    explicit; classes not listed get 1 (as Keras)
//   --resample over           every epoch, each class drawn up to the largest
//                             class's count (its own samples + random repeats)
//   --resample under          every epoch, each class drawn down to the smallest
//                             class's count (without replacement, fresh each epoch)
// n_k counts the training samples only; K the classes that have samples.
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace ck {

// Throws ck::Error for a malformed spec, a class out of range, a weight that
// is negative or not a number.
std::vector<float> class_weights(const std::string& spec, const std::vector<int64_t>& counts);

enum class Resample { none, over, under };
Resample parse_resample(const std::string& name);
std::string resample_name(Resample r);

// Samples per epoch after resampling classes of these sizes.
int64_t resampled_size(const std::vector<std::vector<int64_t>>& by_class, Resample how);
// One epoch's samples, grouped by class (the loader shuffles them).
std::vector<int64_t> resample(const std::vector<std::vector<int64_t>>& by_class, Resample how, Rng& rng);

}  // namespace ck
