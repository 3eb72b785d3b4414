#pragma once
// Flatten: (H,W,C) -> (H*W*C), row-major, so features stay in NHWC order.
#include "layers/layer.h"

namespace ck {

class Flatten : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  std::string spec() const override { return "flatten"; }
  bool reshapes_only() const override { return true; }
  Shape infer(const Shape& input) const override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace ck
