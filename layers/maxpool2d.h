#pragma once
// MaxPooling2D: the max of each pool window per channel. Keras defaults:
// pool 2x2, strides = pool size, padding valid. Kernels: core/pool.h.
#include <vector>

#include "core/conv.h"
#include "layers/layer.h"

namespace ck {

struct PoolOptions {
  int ph = 2, pw = 2;
  int sh = 0, sw = 0;  // 0: same as the pool size
  bool same = false;
};

class MaxPool2D : public Layer {
 public:
  explicit MaxPool2D(PoolOptions options);
  std::string kind() const override { return "max_pooling2d"; }
  std::string spec() const override;
  Shape infer(const Shape& input) const override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // For an input x that is a ReLU's output: dx = the gradient with respect to
  // the ReLU's input, the ReLU's gate applied as dy is routed (core/pool.h).
  void backward_through_relu(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx);
  int64_t flops() const override;
  void release_scratch() override { argmax_ = {}; }

 private:
  ConvGeometry geometry(const Shape& input) const;
  void route(const Tensor& x, const Tensor& dy, Tensor& dx, const float* relu_y);
  PoolOptions o_;
  std::vector<int32_t> argmax_;  // winner of each output, from the last forward
  bool winners_kept_ = false;    // whether the last forward filled argmax_
};

}  // namespace ck
