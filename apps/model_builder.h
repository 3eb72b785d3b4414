#pragma once
// Builds a Model from what a user typed: a preset name or layer tokens
// (layers/spec.h), for a given input shape.
#include <optional>
#include <string>

#include "layers/model.h"

namespace ck {

// Requires: `input` is given, or the spec names one (a preset or input(...)).
// Ensures: a built (not initialized) model; errors name the spec and layer.
// A spec that is just a preset name whose last layer is dense(N,softmax) gets
// dense(classes,softmax) instead when `classes` > 0 differs from N, as Keras
// applications take `classes=`: a preset is an architecture, not a class
// count. Layers the user typed are never changed (model.spec() shows them).
Model make_model(const std::string& spec, std::optional<Shape> input, int classes = 0);

// The loss implied when the user names none (--loss auto): mean squared error
// for regression targets (a dataset without classes), binary cross-entropy for
// a single sigmoid output, sparse categorical cross-entropy otherwise.
LossKind default_loss(const Model& model, bool regression);

}  // namespace ck
