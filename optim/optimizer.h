#pragma once
// Optimizer: updates every trainable Param from its gradient. Knows nothing of
// layers: it sees a list of Params, always in the same order.
#include <memory>
#include <string>
#include <vector>

#include "core/param.h"

namespace ck {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // A description with every hyperparameter, e.g. "adam(lr=0.001, beta_1=0.9, ...)".
  virtual std::string describe() const = 0;

  // Requires: the same params, in the same order, at every call.
  // Ensures: each trainable param moved by one update; iterations() + 1.
  virtual void step(const std::vector<Param*>& params) = 0;

  // Named state tensors (moments), for checkpoints; created by the first step()
  // or by prepare().
  virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;
  // Creates the state for `params` without updating them (so a checkpoint can
  // be loaded into it).
  virtual void prepare(const std::vector<Param*>& params) = 0;

  float learning_rate = 0.001f;
  int64_t iterations = 0;
};

// "adam" or "sgd"; lr <= 0 means the optimizer's Keras default (0.001 / 0.01).
// momentum and nesterov apply to sgd.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, float lr, float momentum = 0.0f,
                                          bool nesterov = false);

}  // namespace ck
