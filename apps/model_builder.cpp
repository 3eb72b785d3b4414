#include "apps/model_builder.h"

#include "core/error.h"
#include "layers/spec.h"

namespace ck {

Model make_model(const std::string& spec, std::optional<Shape> input) {
  ParsedSpec parsed = parse_model_spec(spec);
  if (!input) input = parsed.input;
  if (!input)
    fail("the model spec \"{}\" does not say its input shape: give --input HxWxC or start the "
         "spec with input(HxWxC)",
         spec);
  Model model;
  for (auto& layer : parsed.layers) model.add(std::move(layer));
  model.build(*input);
  return model;
}

LossKind default_loss(const Model& model) {
  const Layer& last = *model.layers().back();
  if (model.output_shape() == Shape{1} && last.activation() == Activation::sigmoid)
    return LossKind::binary_crossentropy;
  return LossKind::sparse_categorical_crossentropy;
}

}  // namespace ck
