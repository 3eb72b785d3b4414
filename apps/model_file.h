#pragma once
// Model files: safetensors (core/safetensors.h) holding a model's weights
// under Keras's names and layouts ("conv2d_1/kernel" HWIO, "dense/kernel"
// (in,out), ".../bias"), with everything needed to use the model in
// __metadata__ (all values are strings; the structured ones are JSON):
//
//   format            "convkit"
//   convkit_version   "0.1.0"
//   architecture      the model spec, e.g. "conv2d(32,5,same,relu) maxpool(2) ..."
//   input_shape       JSON [28, 28, 1]
//   loss              "sparse_categorical_crossentropy"
//   preprocessing     JSON, data/preprocess.h (fitted values included)
//   class_names       JSON ["T-shirt/top", ...]
//   frozen            JSON [layer names that were not trained], when any
//   training          JSON record: data, epochs, seed, optimizer, final metrics
//   checkpoint        JSON, only in checkpoints (apps/checkpoint.h)
//
// docs/model-format.md documents this for readers in other languages.
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "data/preprocess.h"
#include "layers/model.h"

namespace ck {

struct ModelInfo {
  Preprocessing preprocessing;
  std::vector<std::string> class_names;
  nlohmann::json training = nlohmann::json::object();
};

// Writes `model` and `info` atomically. `extra` tensors (optimizer state) and
// `extra_metadata` (checkpoint records) are added when given.
void save_model(const std::string& path, Model& model, const ModelInfo& info,
                const std::vector<std::pair<std::string, const Tensor*>>& extra = {},
                const std::map<std::string, std::string>& extra_metadata = {});

struct LoadedModel {
  Model model;      // built, compiled, with the file's weights
  ModelInfo info;
  SafeTensors file; // everything in the file, for checkpoint state
};

// Throws ck::Error naming the file and the problem: not a safetensors file,
// not a convkit model, an architecture that does not parse, a missing tensor,
// or a tensor whose shape does not match the architecture.
LoadedModel load_model(const std::string& path);

// Weight import for transfer learning: copies every tensor of `path` whose
// name and shape match a parameter of `model`. Returns a report of what
// matched, what did not, and why.
struct ImportReport {
  std::vector<std::string> loaded;         // param names
  std::vector<std::string> shape_mismatch; // "dense/kernel: file (3136, 5), model (3136, 10)"
  std::vector<std::string> not_in_file;    // model params left as initialized
  std::vector<std::string> unused;         // file tensors with no matching param
  std::string format() const;
};
ImportReport import_weights(Model& model, const std::string& path);

// Marks the params of every layer matched by `patterns` untrainable. Patterns
// are comma-separated layer names, with * matching any run of characters
// ("conv2d*"), or "imported" for the layers whose weights `report` loaded.
// Returns the frozen layer names; throws if a pattern matches no layer.
std::vector<std::string> freeze_layers(Model& model, const std::string& patterns,
                                       const ImportReport* report);

}  // namespace ck
