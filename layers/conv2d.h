#pragma once
// Conv2D: y = act(conv(x, kernel) + bias), NHWC, kernel HWIO (KH,KW,C,F).
// Keras defaults: strides 1, padding valid, no activation, bias on,
// glorot_uniform kernel, zero bias. Kernels: core/conv.h.
#include "core/conv.h"
#include "layers/layer.h"

namespace ck {

struct Conv2DOptions {
  int filters = 0;
  int kh = 3, kw = 3;
  int sh = 1, sw = 1;
  bool same = false;  // padding: same (true) or valid
  Activation activation = Activation::linear;
  bool use_bias = true;
};

class Conv2D : public Layer {
 public:
  explicit Conv2D(Conv2DOptions options) : o_(options) {}
  std::string kind() const override { return "conv2d"; }
  std::string spec() const override;
  Shape infer(const Shape& input) const override;
  void build(const Shape& input) override;
  void init(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // backward from dz = dL/d(pre-activation) itself, the activation's gradient
  // already applied (by MaxPool2D::backward_through_relu; Model::backward).
  void backward_pre_activation(const Tensor& x, const Tensor& dz, Tensor* dx);
  std::vector<Param*> params() override;
  int64_t flops() const override;
  Activation activation() const override { return o_.activation; }
  void set_activation(Activation act) override { o_.activation = act; }
  const Conv2DOptions& options() const { return o_; }
  void release_scratch() override { dz_ = Tensor(), ws_ = ConvWorkspace(); }
  // The convolution's geometry for one image of `input` (H,W,C).
  ConvGeometry geometry(const Shape& input) const;

 private:
  Conv2DOptions o_;
  Param kernel_, bias_;
  Tensor dz_;  // dL/d(pre-activation), scratch for backward
  ConvWorkspace ws_;
};

}  // namespace ck
