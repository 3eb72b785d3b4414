#include "layers/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "core/spec_tokens.h"
#include "layers/activation_layer.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/global_avgpool2d.h"
#include "layers/maxpool2d.h"

namespace ck {

namespace {

constexpr Preset kPresets[] = {
    {"fmnist-cnn",
     "conv2d(32,5,same,relu) maxpool(2) conv2d(64,5,same,relu) maxpool(2) flatten "
     "dense(1024,relu) dropout(0.4) dense(10,softmax)",
     "28x28x1", "the default model: TensorFlow's classic MNIST CNN (90% on Fashion-MNIST in 2 epochs)"},
    {"lenet5",
     "conv2d(6,5,same,relu) maxpool(2) conv2d(16,5,relu) maxpool(2) flatten dense(120,relu) "
     "dense(84,relu) dense(10,softmax)",
     "28x28x1", "LeNet-5 (LeCun 1998) with ReLU and max pooling"},
    {"raw-pixels", "conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)", "32x32x3",
     "article 000: the small CNN fed raw 0..255 pixels"},
    {"resize-220", "conv2d(16,3,relu) flatten dense(5,softmax)", "220x220x3",
     "article 001 ex. 1: trained on images resized to 220x220"},
    {"shallow-model", "conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) flatten dense(5,softmax)",
     "224x224x3", "article 001 ex. 2: the 'too shallow' model"},
    {"learning-rate-10",
     "conv2d(32,3,relu) maxpool(2) conv2d(64,3,relu) maxpool(2) conv2d(128,3,relu) flatten "
     "dense(128,relu) dense(5,softmax)",
     "224x224x3", "article 001 ex. 3: the model trained with Adam lr=10"},
    {"raw-binary", "conv2d(32,3,relu) maxpool(2) flatten dense(1,sigmoid)", "128x128x3",
     "article 004: binary classifier (as written its input is (None, None, 3))"},
    {"vgg16-base",
     "conv2d(64,3,same,relu) conv2d(64,3,same,relu) maxpool(2) "
     "conv2d(128,3,same,relu) conv2d(128,3,same,relu) maxpool(2) "
     "conv2d(256,3,same,relu) conv2d(256,3,same,relu) conv2d(256,3,same,relu) maxpool(2) "
     "conv2d(512,3,same,relu) conv2d(512,3,same,relu) conv2d(512,3,same,relu) maxpool(2) "
     "conv2d(512,3,same,relu) conv2d(512,3,same,relu) conv2d(512,3,same,relu) maxpool(2)",
     "224x224x3", "VGG16 configuration D without its top (Simonyan & Zisserman 2014)"},
    {"vgg16", "vgg16-base flatten dense(4096,relu) dense(4096,relu) dense(1000,softmax)",
     "224x224x3", "VGG16 with its 1000-class ImageNet top"},
    {"pretrained-preprocessing", "vgg16-base flatten dense(10,softmax)", "224x224x3",
     "article 000 ex. 3: VGG16 base + Flatten + Dense(10, softmax)"},
};

constexpr const char* kLayerNames =
    "conv2d, maxpool, globalavgpool, dense, flatten, dropout, relu, sigmoid, tanh, softmax, "
    "linear, input";

constexpr const char* kWhat = "model spec";

// Parses one token's arguments into a layer; errors point at the token.
class TokenParser {
 public:
  TokenParser(const std::string& spec, const SpecToken& t) : spec_(spec), t_(t) {}

  [[noreturn]] void error(const std::string& message) const {
    spec_error(kWhat, spec_, t_, fmt::format("{}: {}", t_.name, message));
  }

  int positive_int(const std::string& text, const char* what) const {
    char* stop = nullptr;
    long v = std::strtol(text.c_str(), &stop, 10);
    if (text.empty() || *stop || v <= 0 || v > 1000000)
      error(fmt::format("{} must be a positive whole number, got \"{}\"", what, text));
    return static_cast<int>(v);
  }
  // "3" -> (3,3); "3x5" -> (3,5)
  std::pair<int, int> size_pair(const std::string& text, const char* what) const {
    size_t x = text.find('x');
    if (x == std::string::npos) {
      int v = positive_int(text, what);
      return {v, v};
    }
    return {positive_int(text.substr(0, x), what), positive_int(text.substr(x + 1), what)};
  }
  float rate(const std::string& text) const {
    char* stop = nullptr;
    float v = std::strtof(text.c_str(), &stop);
    if (text.empty() || *stop || !(v >= 0.0f && v < 1.0f))
      error(fmt::format("rate must be a number in [0, 1), got \"{}\"", text));
    return v;
  }
  Activation activation(const std::string& text) const {
    auto act = parse_activation(text);
    if (!act)
      error(fmt::format("unknown activation \"{}\" (relu, sigmoid, tanh, softmax, linear)", text));
    return *act;
  }
  bool boolean(const std::string& text) const {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    error(fmt::format("expected true or false, got \"{}\"", text));
  }
  bool padding(const std::string& text) const {
    if (text == "same") return true;
    if (text == "valid") return false;
    error(fmt::format("padding must be same or valid, got \"{}\"", text));
  }

  LayerPtr conv2d() const {
    Conv2DOptions o;
    int positional = 0;
    for (const std::string& a : t_.args) {
      auto [key, value] = split(a);
      if (key.empty() && (value == "same" || value == "valid")) o.same = padding(value);
      else if (key.empty() && parse_activation(value)) o.activation = activation(value);
      else if (key.empty() && positional == 0) o.filters = positive_int(value, "filters"), ++positional;
      else if (key.empty() && positional == 1) std::tie(o.kh, o.kw) = size_pair(value, "kernel"), ++positional;
      else if (key == "filters") o.filters = positive_int(value, "filters");
      else if (key == "kernel") std::tie(o.kh, o.kw) = size_pair(value, "kernel");
      else if (key == "stride" || key == "strides") std::tie(o.sh, o.sw) = size_pair(value, "stride");
      else if (key == "padding") o.same = padding(value);
      else if (key == "activation") o.activation = activation(value);
      else if (key == "bias") o.use_bias = boolean(value);
      else unexpected(a, "conv2d(filters, kernel[, same|valid][, activation][, stride=S][, bias=false])");
    }
    if (o.filters == 0) error("needs a number of filters, e.g. conv2d(32,3,relu)");
    if (positional < 2 && !has_key("kernel")) error("needs a kernel size, e.g. conv2d(32,3,relu)");
    return std::make_unique<Conv2D>(o);
  }

  LayerPtr maxpool() const {
    PoolOptions o;
    int positional = 0;
    for (const std::string& a : t_.args) {
      auto [key, value] = split(a);
      if (key.empty() && (value == "same" || value == "valid")) o.same = padding(value);
      else if (key.empty() && positional == 0) std::tie(o.ph, o.pw) = size_pair(value, "pool size"), ++positional;
      else if (key == "pool" || key == "pool_size") std::tie(o.ph, o.pw) = size_pair(value, "pool size");
      else if (key == "stride" || key == "strides") std::tie(o.sh, o.sw) = size_pair(value, "stride");
      else if (key == "padding") o.same = padding(value);
      else unexpected(a, "maxpool(pool[, same|valid][, stride=S])");
    }
    return std::make_unique<MaxPool2D>(o);
  }

  LayerPtr dense() const {
    int units = 0;
    Activation act = Activation::linear;
    bool bias = true;
    for (const std::string& a : t_.args) {
      auto [key, value] = split(a);
      if (key.empty() && parse_activation(value)) act = activation(value);
      else if (key.empty() && units == 0) units = positive_int(value, "units");
      else if (key == "units") units = positive_int(value, "units");
      else if (key == "activation") act = activation(value);
      else if (key == "bias") bias = boolean(value);
      else unexpected(a, "dense(units[, activation][, bias=false])");
    }
    if (units == 0) error("needs a number of units, e.g. dense(10,softmax)");
    return std::make_unique<Dense>(units, act, bias);
  }

  LayerPtr dropout() const {
    if (t_.args.size() != 1) error("needs one rate, e.g. dropout(0.5)");
    auto [key, value] = split(t_.args[0]);
    if (!key.empty() && key != "rate") unexpected(t_.args[0], "dropout(rate)");
    return std::make_unique<Dropout>(rate(value));
  }

  void no_args() const {
    if (!t_.args.empty()) error("takes no arguments");
  }

 private:
  static std::pair<std::string, std::string> split(const std::string& arg) {
    return split_key_value(arg);
  }
  bool has_key(const std::string& k) const {
    return std::any_of(t_.args.begin(), t_.args.end(),
                       [&](const std::string& a) { return split(a).first == k; });
  }
  [[noreturn]] void unexpected(const std::string& arg, const char* usage) const {
    error(fmt::format("unexpected argument \"{}\"; usage: {}", arg, usage));
  }

  const std::string& spec_;
  const SpecToken& t_;
};

void parse_into(const std::string& spec, ParsedSpec& out, int depth) {
  for (const SpecToken& t : tokenize_spec(spec, kWhat)) {
    TokenParser p(spec, t);
    const std::string& n = t.name;
    if (const Preset* preset = find_preset(n)) {
      if (!t.args.empty()) p.error("a preset takes no arguments");
      if (out.layers.empty() && !out.input) out.input = parse_shape(preset->input, "input");
      parse_into(preset->spec, out, depth + 1);
    } else if (n == "input") {
      if (!out.layers.empty() || t.args.size() != 1)
        p.error("input(HxWxC) may only come first, e.g. input(28x28x1)");
      out.input = parse_shape(t.args[0], "input shape");
    } else if (n == "conv2d" || n == "conv") {
      out.layers.push_back(p.conv2d());
    } else if (n == "maxpool" || n == "maxpool2d" || n == "max_pooling2d") {
      out.layers.push_back(p.maxpool());
    } else if (n == "dense") {
      out.layers.push_back(p.dense());
    } else if (n == "flatten") {
      p.no_args();
      out.layers.push_back(std::make_unique<Flatten>());
    } else if (n == "dropout") {
      out.layers.push_back(p.dropout());
    } else if (n == "globalavgpool" || n == "global_average_pooling2d" || n == "gap") {
      p.no_args();
      out.layers.push_back(std::make_unique<GlobalAvgPool2D>());
    } else if (n == "activation" && t.args.size() == 1) {
      out.layers.push_back(std::make_unique<ActivationLayer>(p.activation(t.args[0])));
    } else if (auto act = parse_activation(n)) {
      p.no_args();
      out.layers.push_back(std::make_unique<ActivationLayer>(*act));
    } else {
      std::vector<std::string> names = {"conv2d", "maxpool", "globalavgpool", "dense", "flatten",
                                        "dropout", "relu", "sigmoid", "tanh", "softmax", "linear",
                                        "input"};
      for (const Preset& pr : kPresets) names.push_back(pr.name);
      const std::string best = closest_word(n, names);
      std::string hint = best.empty() ? "" : fmt::format(" (did you mean {}?)", best);
      spec_error(kWhat, spec, t,
                 fmt::format("unknown layer \"{}\"{}; layers: {}; presets: see `convkit summary "
                             "--list`",
                             n, hint, kLayerNames));
    }
  }
  if (depth == 0 && out.layers.empty()) fail("the model spec \"{}\" has no layers", spec);
}

}  // namespace

std::span<const Preset> presets() { return kPresets; }

const Preset* find_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return &p;
  return nullptr;
}

ParsedSpec parse_model_spec(const std::string& spec) {
  ParsedSpec out;
  parse_into(spec, out, 0);
  return out;
}

}  // namespace ck
