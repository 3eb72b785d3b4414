#include "layers/dense.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/gemm.h"
#include "layers/init.h"

namespace ck {

std::string Dense::spec() const {
  return fmt::format("dense({}{}{})", units_,
                     act_ != Activation::linear ? fmt::format(",{}", activation_name(act_)) : "",
                     use_bias_ ? "" : ",bias=false");
}

Shape Dense::infer(const Shape& in) const {
  if (in.size() != 1)
    fail("{}: needs a flat input (features), got {}; put flatten (or globalavgpool) before it",
         name, shape_str(in));
  if (in[0] < 0)
    fail("{}: the size of its input is not known ({}), so its kernel cannot be built; "
         "give the images a fixed size (e.g. --resize 128x128) or use globalavgpool",
         name, shape_str(in));
  if (!kernel_.value.empty() && in[0] != kernel_.value.dim(0))
    fail("{}: was built for {} input features, got {}", name, kernel_.value.dim(0), in[0]);
  return {units_};
}

void Dense::build(const Shape& in) {
  kernel_.value = Tensor({in[0], units_});
  kernel_.grad = Tensor({in[0], units_});
  if (use_bias_) {
    bias_.value = Tensor({units_});
    bias_.grad = Tensor({units_});
  }
}

void Dense::init(Rng& rng) {
  glorot_uniform(kernel_.value, kernel_.value.dim(0), units_, rng);
  bias_.value.zero();
}

void Dense::forward(const Tensor& x, Tensor& y, const ForwardContext&) {
  const int N = static_cast<int>(x.dim(0)), D = static_cast<int>(x.dim(1));
  // y (N,F) = x (N,D) * kernel (D,F)
  gemm_parallel(false, false, N, units_, D, 1.0f, x.data(), D, kernel_.value.data(), units_, 0.0f,
                y.data(), units_);
  bias_activation(y.data(), use_bias_ ? bias_.value.data() : nullptr, N, units_, act_);
}

void Dense::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const int N = static_cast<int>(x.dim(0)), D = static_cast<int>(x.dim(1));
  dz_.resize(y.shape());
  activation_backward(y.data(), dy.data(), dz_.data(), N, units_, act_);
  // dkernel (D,F) = x^T (D,N) * dz (N,F)
  gemm_parallel(true, false, D, units_, N, 1.0f, x.data(), D, dz_.data(), units_, 0.0f,
                kernel_.grad.data(), units_);
  if (use_bias_) bias_grad(dz_.data(), N, units_, bias_.grad.data());
  // dx (N,D) = dz (N,F) * kernel^T (F,D)
  if (dx)
    gemm_parallel(false, true, N, D, units_, 1.0f, dz_.data(), units_, kernel_.value.data(),
                  units_, 0.0f, dx->data(), D);
}

std::vector<Param*> Dense::params() {
  if (use_bias_) return {&kernel_, &bias_};
  return {&kernel_};
}

int64_t Dense::flops() const { return 2 * input_shape[0] * units_; }

}  // namespace ck
