#pragma once
// Keras's default initializers.
#include <cstdint>

#include "core/rng.h"
#include "core/tensor.h"

namespace ck {

// glorot_uniform: U(-limit, +limit), limit = sqrt(6 / (fan_in + fan_out)).
// For a conv kernel (KH,KW,C,F): fan_in = KH*KW*C, fan_out = KH*KW*F;
// for a dense kernel (D,F): fan_in = D, fan_out = F.
void glorot_uniform(Tensor& w, int64_t fan_in, int64_t fan_out, Rng& rng);

}  // namespace ck
