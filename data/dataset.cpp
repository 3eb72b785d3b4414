#include "data/dataset.h"

#include <cmath>

#include "core/error.h"

namespace ck {

void Dataset::copy_sample(int64_t i, float* out) const {
  const int64_t n = sample_size();
  if (is_u8()) {
    const uint8_t* p = pixels.data() + i * n;
    for (int64_t k = 0; k < n; ++k) out[k] = p[k];
  } else {
    const float* p = values.data() + i * n;
    for (int64_t k = 0; k < n; ++k) out[k] = p[k];
  }
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t i = 0; i < size(); ++i) {
    int64_t label = static_cast<int64_t>(targets[i * target_size]);
    if (label >= 0 && label < static_cast<int64_t>(counts.size())) ++counts[label];
  }
  return counts;
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  Dataset out;
  out.sample_shape = sample_shape;
  out.target_size = target_size;
  out.class_names = class_names;
  out.description = description;
  const int64_t n = sample_size();
  for (int64_t i : indices) {
    if (is_u8())
      out.pixels.insert(out.pixels.end(), pixels.begin() + i * n, pixels.begin() + (i + 1) * n);
    else
      out.values.insert(out.values.end(), values.begin() + i * n, values.begin() + (i + 1) * n);
    out.targets.insert(out.targets.end(), targets.begin() + i * target_size,
                       targets.begin() + (i + 1) * target_size);
  }
  return out;
}

void split_tail(int64_t n, double fraction, std::vector<int64_t>& train,
                std::vector<int64_t>& validation) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    fail("--validation-split must be in [0, 1), got {}", fraction);
  // Keras: split_at = int(n * (1 - fraction)).
  const int64_t split = static_cast<int64_t>(static_cast<double>(n) * (1.0 - fraction));
  train.clear(), validation.clear();
  for (int64_t i = 0; i < split; ++i) train.push_back(i);
  for (int64_t i = split; i < n; ++i) validation.push_back(i);
}

}  // namespace ck
