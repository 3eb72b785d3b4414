#include "optim/optimizer.h"

#include <cmath>

#include "core/error.h"
#include "optim/adam.h"
#include "optim/sgd.h"

namespace ck {

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, float lr, float momentum,
                                          bool nesterov) {
  if (!(lr >= 0.0f) || !std::isfinite(lr)) fail("--lr must be a positive number, got {}", lr);
  if (name == "adam") {
    if (momentum != 0.0f || nesterov) fail("--momentum and --nesterov apply to sgd, not adam");
    return std::make_unique<Adam>(lr > 0 ? lr : 0.001f);
  }
  if (name == "sgd") {
    if (!(momentum >= 0.0f && momentum < 1.0f)) fail("--momentum must be in [0, 1), got {}", momentum);
    if (nesterov && momentum == 0.0f) fail("--nesterov needs a --momentum above 0");
    return std::make_unique<SGD>(lr > 0 ? lr : 0.01f, momentum, nesterov);
  }
  fail("unknown optimizer \"{}\": choose adam or sgd", name);
}

}  // namespace ck
