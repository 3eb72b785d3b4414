#include "optim/sgd.h"

#include <fmt/format.h>

#include "core/simd.h"

namespace ck {

SGD::SGD(float lr, float m, bool n) : momentum(m), nesterov(n) { learning_rate = lr; }

std::string SGD::describe() const {
  return fmt::format("sgd(lr={:g}, momentum={:g}, nesterov={})", learning_rate, momentum, nesterov);
}

void SGD::prepare(const std::vector<Param*>& params) {
  if (velocity_.size() == params.size()) return;
  names_.clear(), velocity_.clear();
  for (Param* p : params) {
    names_.push_back(p->name);
    velocity_.emplace_back(momentum > 0 ? p->value.shape() : Shape{0});
  }
}

void SGD::step(const std::vector<Param*>& params) {
  const simd::FlushSubnormals flush;  // the velocity of a weight whose gradient is 0 decays
  prepare(params);
  ++iterations;
  const float lr = learning_rate;
  for (size_t i = 0; i < params.size(); ++i) {
    Param& p = *params[i];
    if (!p.trainable) continue;
    float* w = p.value.data();
    const float* g = p.grad.data();
    const int64_t n = p.value.size();
    if (momentum == 0.0f) {
      for (int64_t j = 0; j < n; ++j) w[j] -= lr * g[j];
      continue;
    }
    float* u = velocity_[i].data();
    for (int64_t j = 0; j < n; ++j) {
      u[j] = momentum * u[j] - lr * g[j];
      w[j] += nesterov ? momentum * u[j] - lr * g[j] : u[j];
    }
  }
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {
  std::vector<std::pair<std::string, Tensor*>> s;
  if (momentum == 0.0f) return s;
  for (size_t i = 0; i < velocity_.size(); ++i)
    s.emplace_back("sgd/velocity/" + names_[i], &velocity_[i]);
  return s;
}

}  // namespace ck
