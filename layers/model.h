#pragma once
// Model: a Sequential stack of layers, its activations and their gradients.
//
//   Model m;  m.add(...);  m.build({28, 28, 1});  m.init(rng);  m.compile(loss);
//   const Tensor& out = m.forward(x, ctx);   // x (N,28,28,1) -> out (N,10)
//   m.backward(dout);                        // fills every Param::grad
//
// Activations are kept per layer (sized for the largest batch seen and reused)
// because backward needs them.
#include <string>
#include <vector>

#include "layers/layer.h"
#include "layers/loss.h"

namespace ck {

class Conv2D;

class Model {
 public:
  void add(LayerPtr layer);

  // Requires: at least one layer. Ensures: layers are named as Keras would
  // (conv2d, conv2d_1, dense, ...), every output shape is inferred and the
  // parameters exist; throws ck::Error naming the layer that cannot work.
  void build(const Shape& input_shape);
  // Draws fresh initial weights.
  void init(Rng& rng);

  // Pairs the model with its loss. For cross-entropy, a final softmax
  // (sigmoid for binary) moves off the last layer into head(): forward() then
  // returns logits and the loss is computed from them, stably (layers/loss.h).
  // Throws when the loss cannot work with the model's output.
  void compile(LossKind loss);
  LossKind loss() const { return loss_; }
  // The output activation applied after forward() to get predictions.
  Activation head() const { return head_; }

  // x (N, ...input shape) -> the last layer's output (N, K).
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx);
  // dout (N,K) = dL/d(forward output). Requires: forward() was the last call.
  void backward(const Tensor& dout);
  // Probabilities (N,K): forward in inference mode, then head().
  void predict(const Tensor& x, Tensor& probabilities);

  std::vector<Param*> params();
  const std::vector<LayerPtr>& layers() const { return layers_; }
  Layer& layer(size_t i) { return *layers_[i]; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return layers_.back()->output_shape; }
  // The canonical spec: parse_model_spec(spec()) rebuilds this architecture.
  std::string spec() const;
  // Layer i's spec token (the last one with its head activation).
  std::string layer_spec(size_t i) const;
  int64_t param_count() const;
  int64_t trainable_param_count() const;
  int64_t flops() const;  // forward, per sample
  // Keras-style table: layer (type), output shape, params, FLOPs; then totals.
  std::string summary() const;

  // Frees the activations, their gradients and every layer's scratch kept
  // from the last forward and backward (for a batch of 32 224x224 images,
  // over a gigabyte); parameters and their gradients stay. The next forward
  // allocates again what it needs.
  void release_scratch();

  // Output of layer i from the last forward (for diagnostics), unless
  // activation_overwritten(i).
  const Tensor& activation(size_t i) const { return acts_[i]; }
  // Whether layer i's output was overwritten by its gradient in the last
  // backward: a ReLU convolution under max pooling. Pooling routes its
  // gradient by the winners it kept and the ReLU's gate by the pooled
  // output, and the convolution's backward pass needs its input, not its
  // output; so that output's storage takes the gradient (learning-rate-10:
  // 299 MB less at batch 32). activation_grad(i) then shares its storage.
  bool activation_overwritten(size_t i) const {
    return !acts_[i].empty() && grads_[i].data() == acts_[i].data();
  }
  // dL/d(output of layer i) from the last backward, for i below the last
  // layer (the last layer's is the dout given to backward). For diagnostics.
  // For a ReLU convolution under max pooling it is dL/d(its pre-activation):
  // the pooling layer applies the ReLU's gradient (Model::backward).
  const Tensor& activation_grad(size_t i) const { return grads_[i]; }

  // Seconds spent in each layer, accumulated by forward() and backward()
  // while set (for `convkit bench model --layers`); null times nothing.
  struct LayerTimes {
    std::vector<double> forward, backward;  // one per layer
  };
  void set_layer_times(LayerTimes* times);

 private:
  // The convolution under layer i when layer i is max pooling and it is a
  // ReLU convolution (their backward passes are fused), else null.
  Conv2D* relu_conv_under_pool(size_t i) const;

  std::vector<LayerPtr> layers_;
  Shape input_shape_;
  std::vector<Tensor> acts_;   // acts_[i]: output of layer i
  std::vector<Tensor> grads_;  // grads_[i]: dL/d(input of layer i+1) = dL/d acts_[i]
                               // (or d pre-activation: relu_conv_under_pool(i + 1))
  Tensor input_;               // view of the last forward's input
  Shape last_input_shape_;     // per-sample shape of the last forward
  std::vector<Shape> shapes_;  // per-sample output shapes for last_input_shape_
  Activation head_ = Activation::linear;
  LossKind loss_ = LossKind::sparse_categorical_crossentropy;
  bool compiled_ = false;
  LayerTimes* times_ = nullptr;
};

}  // namespace ck
