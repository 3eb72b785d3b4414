#pragma once
// Layer: one stage of a Sequential model. Shapes passed to build() are
// per-sample (H,W,C) or (D), without the batch dimension; tensors passed to
// forward/backward carry the batch first: (N,H,W,C) or (N,D).
//
// A layer's life: build(input shape) -> init(rng) -> forward/backward many
// times. Layers own their parameters and any scratch space, sized on first
// use and reused, so the training loop does not allocate in steady state.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/kernels.h"
#include "core/param.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace ck {

struct ForwardContext {
  bool training = false;  // dropout and other train-only behaviour
  Rng* rng = nullptr;     // randomness for training-time layers (dropout)
  // False when no backward pass follows (prediction, evaluation): layers may
  // skip keeping what only backward needs (max pooling's winners).
  bool backward = true;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // The layer's kind as Keras names it: "conv2d", "max_pooling2d", "dense"...
  // Layer names in a model are derived from it (conv2d, conv2d_1, ...).
  virtual std::string kind() const = 0;
  // The spec token that rebuilds this layer, e.g. "conv2d(32,5,same,relu)".
  virtual std::string spec() const = 0;

  // Requires: `input` is a per-sample input shape (-1 = size not known yet).
  // Ensures: returns the per-sample output shape; throws ck::Error, naming
  // the layer and what would fix it, when the layer cannot work on `input`.
  // Pure: called again for each new input size at run time.
  virtual Shape infer(const Shape& input) const = 0;
  // Creates the parameters for `input`. Called once, by Model::build.
  virtual void build(const Shape& input) {}
  // Draws initial parameter values (Keras initializers).
  virtual void init(Rng& rng) {}

  // x (N, ...input) -> y (N, ...output). Requires: y already has that shape.
  virtual void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) = 0;
  // Given x and y from the last forward and dy = dL/dy: overwrites each
  // parameter's grad, and dx = dL/dx unless dx is null (the first layer needs none).
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;

  // True when y is x with another shape, value for value (Flatten): the model
  // then passes views of x and dy instead of calling forward and backward, so
  // no copy is made. forward and backward must still do the same by copying.
  virtual bool reshapes_only() const { return false; }

  // Frees what forward and backward keep between calls (gradient scratch,
  // pooling winners, dropout masks). Ensures: the next forward works as the
  // first one did, re-growing what it needs; backward needs a forward first.
  virtual void release_scratch() {}

  virtual std::vector<Param*> params() { return {}; }
  // Multiply-adds x 2 for one sample's forward pass (backward costs about twice that).
  virtual int64_t flops() const { return 0; }

  // Conv2D and Dense fuse an activation; a loss that is computed from logits
  // takes a final softmax/sigmoid off the layer (see layers/model.h).
  virtual Activation activation() const { return Activation::linear; }
  virtual void set_activation(Activation act) {}

  std::string name;  // assigned by the model, Keras-style
  Shape input_shape, output_shape;
};

using LayerPtr = std::unique_ptr<Layer>;

}  // namespace ck
