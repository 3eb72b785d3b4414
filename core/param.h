#pragma once
// A trainable tensor and its gradient. Layers own their Params; optimizers
// update them without knowing which layer they belong to.
#include <string>

#include "core/tensor.h"

namespace ck {

struct Param {
  std::string name;  // "<layer>/<kernel|bias>", e.g. "conv2d_1/kernel" (Keras names)
  Tensor value;
  Tensor grad;       // same shape as value; overwritten by each backward pass
  bool trainable = true;
};

}  // namespace ck
