#include "layers/global_avgpool2d.h"

#include "core/error.h"
#include "core/pool.h"

namespace ck {

Shape GlobalAvgPool2D::infer(const Shape& in) const {
  if (in.size() != 3)
    fail("{}: needs an image input (height, width, channels), got {}", name, shape_str(in));
  return {in[2]};
}

void GlobalAvgPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext&) {
  global_avgpool_forward(x.data(), y.data(), x.dim(0), x.dim(1) * x.dim(2), x.dim(3));
}

void GlobalAvgPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (dx) global_avgpool_backward(dy.data(), dx->data(), x.dim(0), x.dim(1) * x.dim(2), x.dim(3));
}

}  // namespace ck
