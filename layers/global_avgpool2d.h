#pragma once
// GlobalAveragePooling2D: the mean of each channel over the whole image,
// (H,W,C) -> (C). Works for any image size, so a model ending in it accepts
// inputs of a size it was not trained on (and silently degrades on them).
#include "layers/layer.h"

namespace ck {

class GlobalAvgPool2D : public Layer {
 public:
  std::string kind() const override { return "global_average_pooling2d"; }
  std::string spec() const override { return "globalavgpool"; }
  Shape infer(const Shape& input) const override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  int64_t flops() const override { return shape_known(input_shape) ? shape_size(input_shape) : 0; }
};

}  // namespace ck
