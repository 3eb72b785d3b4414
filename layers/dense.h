#pragma once
// Dense: y = act(x * kernel + bias), x (N,D), kernel (D,F), bias (F).
// Keras defaults: no activation, bias on, glorot_uniform kernel, zero bias.
#include "layers/layer.h"

namespace ck {

class Dense : public Layer {
 public:
  Dense(int units, Activation act, bool use_bias = true)
      : units_(units), act_(act), use_bias_(use_bias) {}
  std::string kind() const override { return "dense"; }
  std::string spec() const override;
  Shape infer(const Shape& input) const override;
  void build(const Shape& input) override;
  void init(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::vector<Param*> params() override;
  int64_t flops() const override;
  Activation activation() const override { return act_; }
  void set_activation(Activation act) override { act_ = act; }
  int units() const { return units_; }
  void release_scratch() override { dz_ = Tensor(); }

 private:
  int units_;
  Activation act_;
  bool use_bias_;
  Param kernel_, bias_;
  Tensor dz_;
};

}  // namespace ck
