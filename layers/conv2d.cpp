#include "layers/conv2d.h"

#include <fmt/format.h>

#include "core/error.h"
#include "layers/init.h"

namespace ck {

namespace {
std::string pair_str(int a, int b) {
  return a == b ? std::to_string(a) : std::to_string(a) + "x" + std::to_string(b);
}
}  // namespace

std::string Conv2D::spec() const {
  std::string s = "conv2d(" + std::to_string(o_.filters) + "," + pair_str(o_.kh, o_.kw);
  if (o_.sh != 1 || o_.sw != 1) s += ",stride=" + pair_str(o_.sh, o_.sw);
  if (o_.same) s += ",same";
  if (o_.activation != Activation::linear) s += fmt::format(",{}", activation_name(o_.activation));
  if (!o_.use_bias) s += ",bias=false";
  return s + ")";
}

ConvGeometry Conv2D::geometry(const Shape& in) const {
  return conv_geometry(in[0], in[1], in[2], o_.kh, o_.kw, o_.sh, o_.sw, o_.same, o_.filters);
}

Shape Conv2D::infer(const Shape& in) const {
  if (in.size() != 3)
    fail("{}: needs an image input (height, width, channels), got {}{}", name, shape_str(in),
         in.size() == 1 ? "; flat inputs go to dense layers" : "");
  if (in[2] < 0) fail("{}: the number of input channels must be known, got {}", name, shape_str(in));
  if (!kernel_.value.empty() && in[2] != kernel_.value.dim(2))
    fail("{}: was built for {} input channels, got {}", name, kernel_.value.dim(2), in[2]);
  Shape out = {-1, -1, o_.filters};
  if (in[0] >= 0 && in[1] >= 0) {
    ConvGeometry g = geometry(in);
    if (g.OH <= 0 || g.OW <= 0)
      fail("{}: a {}x{} kernel does not fit in its {} input (padding valid); use padding same, "
           "a smaller kernel, or fewer pooling layers before it",
           name, o_.kh, o_.kw, shape_compact(in));
    out[0] = g.OH, out[1] = g.OW;
  }
  return out;
}

void Conv2D::build(const Shape& in) {
  kernel_.value = Tensor({o_.kh, o_.kw, in[2], o_.filters});
  kernel_.grad = Tensor(kernel_.value.shape());
  if (o_.use_bias) {
    bias_.value = Tensor({o_.filters});
    bias_.grad = Tensor({o_.filters});
  }
}

void Conv2D::init(Rng& rng) {
  const int64_t area = int64_t{o_.kh} * o_.kw;
  glorot_uniform(kernel_.value, area * kernel_.value.dim(2), area * o_.filters, rng);
  bias_.value.zero();
}

void Conv2D::forward(const Tensor& x, Tensor& y, const ForwardContext&) {
  Shape in(x.shape().begin() + 1, x.shape().end());
  conv2d_forward(x.data(), kernel_.value.data(), o_.use_bias ? bias_.value.data() : nullptr,
                 o_.activation, y.data(), x.dim(0), geometry(in), ws_);
}

void Conv2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  dz_.resize(y.shape());
  activation_backward(y.data(), dy.data(), dz_.data(), y.size() / o_.filters, o_.filters,
                      o_.activation);
  backward_pre_activation(x, dz_, dx);
}

void Conv2D::backward_pre_activation(const Tensor& x, const Tensor& dz, Tensor* dx) {
  Shape in(x.shape().begin() + 1, x.shape().end());
  conv2d_backward(x.data(), kernel_.value.data(), dz.data(), dx ? dx->data() : nullptr,
                  kernel_.grad.data(), o_.use_bias ? bias_.grad.data() : nullptr, x.dim(0),
                  geometry(in), ws_);
}

std::vector<Param*> Conv2D::params() {
  if (o_.use_bias) return {&kernel_, &bias_};
  return {&kernel_};
}

int64_t Conv2D::flops() const {
  if (!shape_known(output_shape)) return 0;
  return 2 * shape_size(output_shape) * o_.kh * o_.kw * input_shape[2];
}

}  // namespace ck
