#include "layers/maxpool2d.h"

#include "core/error.h"
#include "core/pool.h"

namespace ck {

MaxPool2D::MaxPool2D(PoolOptions options) : o_(options) {
  if (o_.sh == 0) o_.sh = o_.ph;
  if (o_.sw == 0) o_.sw = o_.pw;
}

std::string MaxPool2D::spec() const {
  auto pair = [](int a, int b) {
    return a == b ? std::to_string(a) : std::to_string(a) + "x" + std::to_string(b);
  };
  std::string s = "maxpool(" + pair(o_.ph, o_.pw);
  if (o_.sh != o_.ph || o_.sw != o_.pw) s += ",stride=" + pair(o_.sh, o_.sw);
  if (o_.same) s += ",same";
  return s + ")";
}

ConvGeometry MaxPool2D::geometry(const Shape& in) const {
  return conv_geometry(in[0], in[1], in[2], o_.ph, o_.pw, o_.sh, o_.sw, o_.same, in[2]);
}

Shape MaxPool2D::infer(const Shape& in) const {
  if (in.size() != 3)
    fail("{}: needs an image input (height, width, channels), got {}", name, shape_str(in));
  Shape out = {-1, -1, in[2]};
  if (in[0] >= 0 && in[1] >= 0) {
    ConvGeometry g = geometry(in);
    if (g.OH <= 0 || g.OW <= 0)
      fail("{}: a {}x{} pool window does not fit in its {} input (padding valid); use fewer "
           "pooling layers, padding same, or larger images",
           name, o_.ph, o_.pw, shape_compact(in));
    out[0] = g.OH, out[1] = g.OW;
  }
  return out;
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) {
  Shape in(x.shape().begin() + 1, x.shape().end());
  winners_kept_ = ctx.backward;
  if (!ctx.backward) {
    maxpool_forward(x.data(), y.data(), nullptr, x.dim(0), geometry(in));
    return;
  }
  if (static_cast<int64_t>(argmax_.size()) < y.size()) argmax_.resize(y.size());
  maxpool_forward(x.data(), y.data(), argmax_.data(), x.dim(0), geometry(in));
}

void MaxPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  route(x, dy, *dx, nullptr);
}

void MaxPool2D::backward_through_relu(const Tensor& x, const Tensor& y, const Tensor& dy,
                                     Tensor& dx) {
  route(x, dy, dx, y.data());
}

void MaxPool2D::route(const Tensor& x, const Tensor& dy, Tensor& dx, const float* relu_y) {
  if (!winners_kept_)
    fail("{}: backward after a forward pass made without one (ForwardContext::backward false)",
         name);
  Shape in(x.shape().begin() + 1, x.shape().end());
  maxpool_backward(dy.data(), argmax_.data(), dx.data(), x.dim(0), geometry(in), relu_y);
}

int64_t MaxPool2D::flops() const {
  return shape_known(output_shape) ? shape_size(output_shape) * o_.ph * o_.pw : 0;
}

}  // namespace ck
