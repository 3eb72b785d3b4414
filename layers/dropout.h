#pragma once
// Dropout(rate): during training, zeroes each value with probability `rate`
// and scales the survivors by 1 / (1 - rate) (inverted dropout, as Keras), so
// nothing changes at inference.
#include <vector>

#include "layers/layer.h"

namespace ck {

class Dropout : public Layer {
 public:
  explicit Dropout(float rate) : rate_(rate) {}
  std::string kind() const override { return "dropout"; }
  std::string spec() const override;
  Shape infer(const Shape& input) const override { return input; }
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  float rate() const { return rate_; }
  void release_scratch() override { mask_ = {}, trained_ = false; }

 private:
  float rate_;
  bool trained_ = false;   // was the last forward a training pass?
  std::vector<float> mask_;  // 0 or 1/(1-rate) per value, from the last training forward
};

}  // namespace ck
