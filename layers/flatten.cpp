#include "layers/flatten.h"

#include "core/error.h"

namespace ck {

Shape Flatten::infer(const Shape& in) const {
  if (!shape_known(in))
    fail("{}: its input {} has a size that is not known until an image arrives, so the flat "
         "length is unknown and the next layer's weights cannot be built (Keras refuses this "
         "too); resize the images to one fixed size (e.g. --resize 128x128) or replace "
         "flatten with globalavgpool",
         name, shape_str(in));
  return {shape_size(in)};
}

void Flatten::forward(const Tensor& x, Tensor& y, const ForwardContext&) { y.copy_from(x); }

void Flatten::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (dx) dx->copy_from(dy);
}

}  // namespace ck
