#include "layers/init.h"

#include <cmath>

namespace ck {

void glorot_uniform(Tensor& w, int64_t fan_in, int64_t fan_out, Rng& rng) {
  const float limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)));
  for (int64_t i = 0; i < w.size(); ++i) w[i] = rng.uniform(-limit, limit);
}

}  // namespace ck
