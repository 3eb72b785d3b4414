#pragma once
// Per-layer health measured over data, not one batch: an inference pass over
// a fixed sample of training inputs (the probe) gives each layer's activation
// mean / std, its share of near-zero outputs, and, for ReLU layers, the
// units that never fire on any probe input ("dead" units). The same pass
// gives the model's predictions on the probe, for collapse checks.
#include <vector>

#include "apps/run_record.h"
#include "layers/loss.h"
#include "layers/model.h"

namespace ck {

struct ProbeResult {
  std::vector<LayerHealth> layers;  // activation figures; norms left for the caller
  LossStats stats;
  std::vector<int64_t> predicted;   // predictions per class (classification)
  std::vector<int64_t> confusion;   // K*K, row = true class
  std::vector<int> predictions;     // per probe input
};

// Requires: inputs (N, ...model input), targets as the loss expects them
// (N * target size), classes = 0 for regression.
ProbeResult run_probe(Model& model, const Tensor& inputs, const std::vector<float>& targets,
                      int classes);

// The layer's output passes through a ReLU (fused or standalone).
bool is_relu_layer(const Layer& layer);
std::vector<LayerInfo> describe_layers(const Model& model);

}  // namespace ck
