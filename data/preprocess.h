#pragma once
// Preprocessing: every transformation between decoded data and the model's
// input, with every fitted value, in one object. It is fitted on the training
// set only, applied unchanged everywhere else, serialized into the model file,
// and printed, so inference can never silently differ from training.
#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"

namespace ck {

enum class Scaling {
  none,  // values as decoded (0..255 for images)
  unit,  // x / 255
};

std::string scaling_name(Scaling s);
Scaling parse_scaling(const std::string& name);

struct Preprocessing {
  Scaling scaling = Scaling::none;

  // Learns whatever the chosen transformations need from the training set.
  void fit(const Dataset& train);
  // In place on `count` samples of `sample_size` values each (after copy_sample).
  void apply(float* samples, int64_t count, int64_t sample_size) const;
  // One line a user can read: "scale 1/255".
  std::string describe() const;

  nlohmann::json to_json() const;
  // Throws ck::Error on an unknown or malformed object.
  static Preprocessing from_json(const nlohmann::json& j);
};

}  // namespace ck
