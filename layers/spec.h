#pragma once
// Model specs: a model written as layer tokens a person can type, e.g.
//
//   "conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)"
//
// Layers and their arguments (positional first, then flags and key=value):
//   conv2d(filters, kernel[, same|valid][, activation][, stride=S][, bias=false])
//   maxpool(pool[, same|valid][, stride=S])       globalavgpool
//   dense(units[, activation][, bias=false])       flatten      dropout(rate)
//   relu  sigmoid  tanh  softmax  linear           (standalone activations)
//   input(28x28x1)                                 (optional first token)
// Sizes are N or HxW (kernel 3 = 3x3). A preset name (see presets()) expands
// to its layers, so "vgg16-base flatten dense(10,softmax)" works too.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "layers/layer.h"

namespace ck {

struct Preset {
  const char* name;
  const char* spec;
  const char* input;  // default input shape, e.g. "28x28x1"
  const char* about;
};
std::span<const Preset> presets();
const Preset* find_preset(const std::string& name);

struct ParsedSpec {
  std::vector<LayerPtr> layers;
  std::optional<Shape> input;  // from input(...) or the preset's default
};

// Throws ck::Error quoting the spec and pointing (^^^) at the bad token.
ParsedSpec parse_model_spec(const std::string& spec);

}  // namespace ck
