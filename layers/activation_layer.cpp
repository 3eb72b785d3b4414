#include "layers/activation_layer.h"

namespace ck {

void ActivationLayer::forward(const Tensor& x, Tensor& y, const ForwardContext&) {
  y.copy_from(x);
  const int64_t cols = x.dim(-1);
  bias_activation(y.data(), nullptr, y.size() / cols, cols, act_);
}

void ActivationLayer::backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const int64_t cols = y.dim(-1);
  activation_backward(y.data(), dy.data(), dx->data(), y.size() / cols, cols, act_);
}

}  // namespace ck
