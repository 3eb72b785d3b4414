#include "apps/model_builder.h"

#include "core/error.h"
#include "layers/dense.h"
#include "layers/spec.h"

namespace ck {

Model make_model(const std::string& spec, std::optional<Shape> input, int classes) {
  ParsedSpec parsed = parse_model_spec(spec);
  if (classes > 0 && find_preset(spec) && !parsed.layers.empty()) {
    const auto* head = dynamic_cast<const Dense*>(parsed.layers.back().get());
    if (head && head->activation() == Activation::softmax && head->units() != classes)
      parsed.layers.back() = std::make_unique<Dense>(classes, Activation::softmax);
  }
  if (!input) input = parsed.input;
  if (!input)
    fail(
        "the model spec \"{}\" does not say its input shape: give --input HxWxC or start the "
        "spec with input(HxWxC)",
        spec);
  Model model;
  for (auto& layer : parsed.layers) model.add(std::move(layer));
  model.build(*input);
  return model;
}

LossKind default_loss(const Model& model, bool regression) {
  if (regression) return LossKind::mean_squared_error;
  const Layer& last = *model.layers().back();
  if (model.output_shape() == Shape{1} && last.activation() == Activation::sigmoid)
    return LossKind::binary_crossentropy;
  return LossKind::sparse_categorical_crossentropy;
}

}  // namespace ck
