#include "layers/dropout.h"

#include <fmt/format.h>

namespace ck {

std::string Dropout::spec() const { return fmt::format("dropout({:g})", rate_); }

void Dropout::forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) {
  trained_ = ctx.training && rate_ > 0.0f;
  if (!trained_) {
    y.copy_from(x);
    return;
  }
  if (static_cast<int64_t>(mask_.size()) < x.size()) mask_.resize(x.size());
  const float scale = 1.0f / (1.0f - rate_);
  // A local copy of the generator stays in registers through the loop.
  Rng rng = *ctx.rng;
  float* mask = mask_.data();
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t i = 0; i < x.size(); ++i) {
    mask[i] = rng.uniform() < rate_ ? 0.0f : scale;
    ys[i] = xs[i] * mask[i];
  }
  *ctx.rng = rng;
}

void Dropout::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!trained_) {
    dx->copy_from(dy);
    return;
  }
  for (int64_t i = 0; i < dy.size(); ++i) (*dx)[i] = dy[i] * mask_[i];
}

}  // namespace ck
