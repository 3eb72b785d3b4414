#include "layers/model.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "core/error.h"
#include "core/format.h"
#include "layers/conv2d.h"
#include "layers/maxpool2d.h"

namespace ck {

void Model::add(LayerPtr layer) { layers_.push_back(std::move(layer)); }

void Model::build(const Shape& input_shape) {
  if (layers_.empty()) fail("the model has no layers");
  input_shape_ = input_shape;
  std::map<std::string, int> seen;
  for (auto& layer : layers_) {
    int k = seen[layer->kind()]++;
    layer->name = k == 0 ? layer->kind() : fmt::format("{}_{}", layer->kind(), k);
  }
  Shape shape = input_shape;
  for (auto& layer : layers_) {
    layer->input_shape = shape;
    shape = layer->infer(shape);
    layer->build(layer->input_shape);
    layer->output_shape = shape;
  }
  for (auto& layer : layers_)
    for (Param* p : layer->params()) {
      std::string suffix = p == layer->params().front() ? "kernel" : "bias";
      p->name = layer->name + "/" + suffix;
    }
  acts_.assign(layers_.size(), Tensor());
  grads_.assign(layers_.size(), Tensor());
  last_input_shape_.clear();
}

void Model::init(Rng& rng) {
  for (auto& layer : layers_) layer->init(rng);
}

void Model::compile(LossKind loss) {
  Layer& last = *layers_.back();
  const Shape& out = last.output_shape;
  if (out.size() != 1)
    fail("the model's output {} is not flat: end it with flatten and a dense layer",
         shape_str(out));
  // The activation the user wrote: a head taken by an earlier compile is
  // given back only once this one has passed its checks, so a compile that
  // throws leaves the model as it was.
  const Activation act = compiled_ && head_ != Activation::linear ? head_ : last.activation();
  if (loss == LossKind::sparse_categorical_crossentropy) {
    if (out[0] < 2)
      fail(
          "sparse categorical cross-entropy needs at least 2 outputs (one per class), the "
          "model has {}; for two classes with one output use binary_crossentropy",
          out[0]);
    if (act != Activation::softmax && act != Activation::linear)
      fail(
          "sparse categorical cross-entropy needs the last layer to end in softmax (or "
          "linear logits), not {}",
          activation_name(act));
  }
  if (loss == LossKind::binary_crossentropy) {
    if (out[0] != 1)
      fail("binary cross-entropy needs one output unit (dense(1,sigmoid)), the model has {}",
           out[0]);
    if (act != Activation::sigmoid && act != Activation::linear)
      fail("binary cross-entropy needs the last layer to end in sigmoid (or linear logits), not {}",
           activation_name(act));
  }
  last.set_activation(act);
  head_ = Activation::linear;
  if (loss != LossKind::mean_squared_error && act != Activation::linear) {
    head_ = act;
    last.set_activation(Activation::linear);
  }
  loss_ = loss;
  compiled_ = true;
}

const Tensor& Model::forward(const Tensor& x, const ForwardContext& ctx) {
  Shape sample(x.shape().begin() + 1, x.shape().end());
  if (sample != last_input_shape_) {
    // A new image size (or the first call): infer every layer's output shape.
    if (sample.size() != input_shape_.size())
      fail("the model expects inputs of shape {}, got {}", shape_str(input_shape_),
           shape_str(sample));
    for (size_t d = 0; d < sample.size(); ++d)
      if (input_shape_[d] >= 0 && input_shape_[d] != sample[d])
        fail("the model expects inputs of shape {}, got {}", shape_str(input_shape_),
             shape_str(sample));
    shapes_.clear();
    Shape shape = sample;
    for (auto& layer : layers_) shapes_.push_back(shape = layer->infer(shape));
    last_input_shape_ = sample;
  }
  input_ = x;
  // Gradients held in activations' storage (activation_overwritten) let it go
  // now: the activations are this batch's again, and a larger batch
  // reallocates them.
  for (size_t i = 0; i + 1 < layers_.size(); ++i)
    if (relu_conv_under_pool(i + 1)) grads_[i] = Tensor();
  const int64_t N = x.dim(0);
  const Tensor* in = &input_;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Shape full = {N};
    full.insert(full.end(), shapes_[i].begin(), shapes_[i].end());
    const auto start = std::chrono::steady_clock::now();
    if (layers_[i]->reshapes_only()) {
      acts_[i] = in->reshaped(full);
    } else {
      acts_[i].resize(full);
      layers_[i]->forward(*in, acts_[i], ctx);
    }
    if (times_)
      times_->forward[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    in = &acts_[i];
  }
  return acts_.back();
}

void Model::release_scratch() {
  for (Tensor& t : acts_) t = Tensor();
  for (Tensor& t : grads_) t = Tensor();
  input_ = Tensor();
  for (auto& layer : layers_) layer->release_scratch();
}

Conv2D* Model::relu_conv_under_pool(size_t i) const {
  if (i == 0 || !dynamic_cast<MaxPool2D*>(layers_[i].get())) return nullptr;
  auto* conv = dynamic_cast<Conv2D*>(layers_[i - 1].get());
  return conv && conv->activation() == Activation::relu ? conv : nullptr;
}

void Model::backward(const Tensor& dout) {
  const size_t L = layers_.size();
  // A ReLU convolution under a max pooling layer: the pooling layer applies
  // the ReLU's gradient as it routes dy (a winner passes it when its window's
  // max is > 0, exactly when the ReLU passed it) and the convolution takes
  // the result as its dL/d(pre-activation): the same values, one pass over
  // the convolution's output fewer, and no dz buffer (learning-rate-10's first
  // layer: 205 MB). grads_[i - 1] then holds dL/d(pre-activation).
  bool gated = false;  // whether grads_[i] already is layer i's dL/d(pre-activation)
  for (size_t i = L; i-- > 0;) {
    const Tensor& x = i == 0 ? input_ : acts_[i - 1];
    const Tensor& dy = i == L - 1 ? dout : grads_[i];
    const auto start = std::chrono::steady_clock::now();
    Tensor* dx = nullptr;
    if (i > 0 && relu_conv_under_pool(i)) {
      // The convolution's output is needed no more (activation_overwritten):
      // its storage takes the gradient.
      grads_[i - 1] = acts_[i - 1].reshaped(acts_[i - 1].shape());
      dx = &grads_[i - 1];
    } else if (i > 0 && !layers_[i]->reshapes_only()) {
      grads_[i - 1].resize(acts_[i - 1].shape());
      dx = &grads_[i - 1];
    }
    if (layers_[i]->reshapes_only()) {
      if (i > 0) grads_[i - 1] = dy.reshaped(acts_[i - 1].shape());
    } else if (gated) {
      static_cast<Conv2D&>(*layers_[i]).backward_pre_activation(x, dy, dx);
    } else if (relu_conv_under_pool(i)) {
      static_cast<MaxPool2D&>(*layers_[i]).backward_through_relu(x, acts_[i], dy, *dx);
    } else {
      layers_[i]->backward(x, acts_[i], dy, dx);
    }
    gated = relu_conv_under_pool(i) != nullptr;
    if (times_)
      times_->backward[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
}

void Model::predict(const Tensor& x, Tensor& probabilities) {
  const Tensor& out = forward(x, ForwardContext{.backward = false});
  probabilities.resize(out.shape());
  probabilities.copy_from(out);
  bias_activation(probabilities.data(), nullptr, out.dim(0), out.row_size(), head_);
}

void Model::set_layer_times(LayerTimes* times) {
  times_ = times;
  if (times_) {
    times_->forward.assign(layers_.size(), 0.0);
    times_->backward.assign(layers_.size(), 0.0);
  }
}

std::vector<Param*> Model::params() {
  std::vector<Param*> all;
  for (auto& layer : layers_)
    for (Param* p : layer->params()) all.push_back(p);
  return all;
}

std::string Model::layer_spec(size_t i) const {
  // The last layer's activation moved to head() by compile() is part of what
  // the user wrote, so it is reported.
  if (i + 1 < layers_.size() || head_ == Activation::linear) return layers_[i]->spec();
  Layer& last = *layers_[i];
  last.set_activation(head_);
  std::string s = last.spec();
  last.set_activation(Activation::linear);
  return s;
}

std::string Model::spec() const {
  std::string s;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i) s += ' ';
    s += layer_spec(i);
  }
  return s;
}

int64_t Model::param_count() const {
  int64_t n = 0;
  for (auto& layer : layers_)
    for (Param* p : layer->params()) n += p->value.size();
  return n;
}

int64_t Model::trainable_param_count() const {
  int64_t n = 0;
  for (auto& layer : layers_)
    for (Param* p : layer->params()) n += p->trainable ? p->value.size() : 0;
  return n;
}

int64_t Model::flops() const {
  int64_t n = 0;
  for (auto& layer : layers_) n += layer->flops();
  return n;
}

std::string Model::summary() const {
  std::vector<std::array<std::string, 4>> rows;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = *layers_[i];
    Shape batch_shape = {-1};
    batch_shape.insert(batch_shape.end(), layer.output_shape.begin(), layer.output_shape.end());
    int64_t count = 0;
    for (Param* p : const_cast<Layer&>(layer).params()) count += p->value.size();
    rows.push_back({fmt::format("{} ({})", layer.name, layer_spec(i)), shape_str(batch_shape),
                    with_commas(count), with_commas(layer.flops())});
  }
  size_t w0 = 26, w1 = 21, w2 = 12, w3 = 14;
  for (auto& r : rows) {
    w0 = std::max(w0, r[0].size() + 2);
    w1 = std::max(w1, r[1].size() + 2);
  }
  std::string line(w0 + w1 + w2 + w3, '-');
  std::string s = fmt::format("Model: input {}\n{}\n", shape_str(input_shape_), line);
  s += fmt::format("{:<{}}{:<{}}{:>{}}{:>{}}\n", "Layer (spec)", w0, "Output Shape", w1, "Param #",
                   w2, "FLOPs/image", w3);
  s += std::string(w0 + w1 + w2 + w3, '=') + "\n";
  for (auto& r : rows)
    s += fmt::format("{:<{}}{:<{}}{:>{}}{:>{}}\n", r[0], w0, r[1], w1, r[2], w2, r[3], w3);
  s += std::string(w0 + w1 + w2 + w3, '=') + "\n";
  const int64_t total = param_count(), trainable = trainable_param_count();
  s += fmt::format("Total params: {} ({:.2f} MB)\n", with_commas(total), total * 4.0 / 1e6);
  s += fmt::format("Trainable params: {}\n", with_commas(trainable));
  s += fmt::format("Non-trainable params: {}\n", with_commas(total - trainable));
  s += fmt::format("Forward FLOPs per image: {} ({:.2f} MFLOP; training ~3x: {:.1f} MFLOP)\n",
                   with_commas(flops()), flops() / 1e6, 3 * flops() / 1e6);
  return s;
}

}  // namespace ck
