#pragma once
// Where a NaN or Inf first appeared in a training step: in the input batch,
// in a layer's weights, in the forward pass of a layer (its input finite, its
// output not), in the loss, or in the backward pass of a layer (the gradient
// arriving from above finite, the one it passes on or its weight gradient not).
#include <optional>
#include <string>

#include "data/loader.h"
#include "layers/model.h"

namespace ck {

struct NonFiniteReport {
  std::string pass;    // "input", "weights", "forward", "loss" or "backward"
  std::string layer;   // the layer's name; empty for the input and the loss
  std::string what;    // "NaN" or "Inf"
  std::string detail;  // the evidence, e.g. "its input was finite, largest |input| 3.1e+37"
  // "NaN in the forward pass of conv2d_1 at epoch 1 step 37 (its input was finite, ...)"
  std::string describe(int epoch, int64_t step) const;
};

// Call when a step's loss or gradient norm is not finite (it scans every
// activation and gradient). Requires: the model's last calls were forward and
// backward on `batch`, and `loss` is that batch's mean loss. Returns nothing
// when no NaN or Inf is found.
std::optional<NonFiniteReport> locate_nonfinite(Model& model, const Batch& batch, double loss);

}  // namespace ck
