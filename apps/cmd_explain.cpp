// convkit explain LAYER: what a layer computes, its shapes, its backward pass,
// and where its code lives; with --model, the layer's concrete shapes there.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/model_builder.h"
#include "core/error.h"
#include "core/format.h"

namespace ck {

namespace {

struct LayerDoc {
  const char* kind;     // Layer::kind()
  const char* names;    // what a user may type, space-separated
  const char* title;
  const char* computes;
  const char* shapes;
  const char* backward;
  const char* code;
  const char* keras;
};

constexpr LayerDoc kDocs[] = {
    {"conv2d", "conv2d conv", "2-D convolution (Keras Conv2D)",
     "y[n,i,j,f] = act(b[f] + sum over (di,dj,c) of x[n, i*S+di, j*S+dj, c] * W[di,dj,c,f]):\n"
     "    every filter slides over the image and takes a weighted sum of each KHxKW window",
     "input (N,H,W,C) -> output (N,OH,OW,F); kernel W (KH,KW,C,F) (HWIO, as Keras); bias b (F)\n"
     "    valid: OH = floor((H - KH) / S) + 1;  same: OH = ceil(H / S), zero-padded\n"
     "    parameters KH*KW*C*F + F; FLOPs per image 2*OH*OW*KH*KW*C*F",
     "dz = dy * act'(y); dW = im2col(x)^T dz; db = sum of dz; dx = col2im(dz W^T)",
     "layers/conv2d.{h,cpp} (the layer), core/conv.{h,cpp} (im2col + GEMM, and a plain seven-loop "
     "reference), core/gemm*.cpp (the matrix multiply)",
     "keras/src/layers/convolutional/conv2d.py (glorot_uniform kernel, zero bias, valid padding)"},
    {"max_pooling2d", "maxpool maxpool2d max_pooling2d", "max pooling (Keras MaxPooling2D)",
     "y[n,i,j,c] = the max of x[n,.,.,c] over each PHxPW window (stride = pool size by default)",
     "input (N,H,W,C) -> output (N,OH,OW,C), OH = floor((H - PH) / S) + 1; no parameters",
     "dx receives dy at each window's winner (the argmax kept from the forward pass), 0 elsewhere",
     "layers/maxpool2d.{h,cpp}, core/pool.{h,cpp} (with a reference that recomputes the winner)",
     "keras/src/layers/pooling/max_pooling2d.py"},
    {"dense", "dense", "fully connected layer (Keras Dense)",
     "y = act(x W + b): every output unit is a weighted sum of every input",
     "input (N,D) -> output (N,F); kernel W (D,F); bias b (F); parameters D*F + F; FLOPs 2*D*F",
     "dz = dy * act'(y); dW = x^T dz; db = sum of dz; dx = dz W^T",
     "layers/dense.{h,cpp}, core/gemm*.cpp, core/kernels.{h,cpp} (bias + activation)",
     "keras/src/layers/core/dense.py"},
    {"flatten", "flatten", "flatten (Keras Flatten)",
     "y[n] = x[n] read row-major: (H,W,C) becomes H*W*C values in (h, w, c) order",
     "input (N,H,W,C) -> output (N,H*W*C); the size must be known (a Dense layer after it needs it)",
     "dx = dy reshaped back", "layers/flatten.{h,cpp}", "keras/src/layers/reshaping/flatten.py"},
    {"dropout", "dropout", "dropout (Keras Dropout)",
     "training: each value is zeroed with probability `rate` and the rest scaled by 1/(1-rate); "
     "inference: y = x",
     "any shape, unchanged; no parameters", "dx = dy * the same mask",
     "layers/dropout.{h,cpp} (randomness from Rng::derive(seed, epoch, step))",
     "keras/src/layers/regularization/dropout.py"},
    {"global_average_pooling2d", "globalavgpool gap global_average_pooling2d",
     "global average pooling (Keras GlobalAveragePooling2D)",
     "y[n,c] = the mean of x[n,.,.,c] over the whole image",
     "input (N,H,W,C) -> output (N,C) for any H and W (so the model accepts other image sizes, and "
     "silently degrades on them)",
     "dx[n,i,j,c] = dy[n,c] / (H*W)", "layers/global_avgpool2d.{h,cpp}, core/pool.{h,cpp}",
     "keras/src/layers/pooling/global_average_pooling2d.py"},
    {"activation", "activation relu sigmoid tanh softmax linear", "activation (Keras Activation)",
     "elementwise: relu(x) = max(0, x); sigmoid(x) = 1/(1+e^-x); tanh; softmax over the last axis "
     "(exp(x_k) / sum_j exp(x_j)); linear(x) = x",
     "any shape, unchanged; no parameters. A softmax/sigmoid at the end of a model is applied by the "
     "loss instead, from the logits (layers/loss.h)",
     "relu' = [y > 0]; sigmoid' = y(1-y); tanh' = 1-y^2; softmax: dz = y * (dy - sum(dy * y))",
     "layers/activation_layer.{h,cpp}, core/kernels.{h,cpp} (each kernel with a _reference twin)",
     "keras/src/layers/activations/activation.py"},
};

const LayerDoc* find_doc(const std::string& name) {
  for (const LayerDoc& d : kDocs) {
    if (name == d.kind) return &d;
    std::string names = std::string(" ") + d.names + " ";
    if (names.find(" " + name + " ") != std::string::npos) return &d;
  }
  return nullptr;
}

void print_doc(const LayerDoc& d) {
  fmt::print("{}: {}\n", d.kind, d.title);
  fmt::print("  computes:  {}\n", d.computes);
  fmt::print("  shapes:    {}\n", d.shapes);
  fmt::print("  backward:  {}\n", d.backward);
  fmt::print("  code:      {}\n", d.code);
  fmt::print("  Keras:     {}\n", d.keras);
}

void explain(const std::string& what, const std::string& spec) {
  if (spec.empty()) {
    const LayerDoc* d = find_doc(what);
    if (!d) {
      std::string known;
      for (const LayerDoc& doc : kDocs) known += std::string(known.empty() ? "" : ", ") + doc.names;
      fail("no layer \"{}\" to explain; layers: {} (or a layer name such as conv2d_1 with --model)", what, known);
    }
    print_doc(*d);
    return;
  }
  Model model = make_model(spec, std::nullopt);
  model.compile(default_loss(model, /*regression=*/false));
  bool found = false;
  for (size_t i = 0; i < model.layers().size(); ++i) {
    const Layer& layer = *model.layers()[i];
    const LayerDoc* d = find_doc(layer.kind());
    if (layer.name != what && layer.kind() != what && (!d || d != find_doc(what))) continue;
    if (found) fmt::print("\n");
    found = true;
    int64_t params = 0;
    for (Param* p : const_cast<Layer&>(layer).params()) params += p->value.size();
    fmt::print("{} (layer {} of {}: {})\n", layer.name, i + 1, model.layers().size(), model.layer_spec(i));
    fmt::print("  here:      input {} -> output {}; {} parameters", shape_str(layer.input_shape),
               shape_str(layer.output_shape), with_commas(params));
    for (Param* p : const_cast<Layer&>(layer).params()) fmt::print(", {} {}", p->name, shape_str(p->value.shape()));
    fmt::print("; {} FLOPs per image\n", with_commas(layer.flops()));
    if (d) print_doc(*d);
  }
  if (!found) {
    std::vector<std::string> names;
    for (const auto& l : model.layers()) names.push_back(l->name);
    fail("the model has no layer \"{}\" (its layers: {})", what, fmt::join(names, ", "));
  }
}

}  // namespace

void setup_explain(CLI::App& cmd) {
  struct Options {
    std::string layer, model;
  };
  auto o = std::make_shared<Options>();
  cmd.add_option("layer", o->layer, "A layer kind (conv2d, maxpool, dense, relu...) or, with --model, a layer name (conv2d_1)")
      ->required();
  cmd.add_option("--model", o->model, "Show the layer as it is in this model (a preset or a layer spec)");
  cmd.callback([o] { explain(o->layer, o->model); });
}

}  // namespace ck
