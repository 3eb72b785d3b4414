#pragma once
// Activation: a standalone activation (relu, sigmoid, tanh, softmax, linear),
// elementwise; softmax over the last axis.
#include "layers/layer.h"

namespace ck {

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation act) : act_(act) {}
  std::string kind() const override { return "activation"; }
  std::string spec() const override { return activation_name(act_); }
  Shape infer(const Shape& input) const override { return input; }
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  Activation activation() const override { return act_; }
  void set_activation(Activation act) override { act_ = act; }

 private:
  Activation act_;
};

}  // namespace ck
