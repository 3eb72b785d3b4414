#pragma once
// What evaluate and predict share: reading data the way a saved model was
// trained to see it, from the preprocessing recorded in its file.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/data_options.h"
#include "apps/finding.h"
#include "apps/input_stats.h"
#include "apps/model_file.h"

namespace ck {

// The data options the model was trained with (source, label column, image
// shape...), from its training record; defaults where the record is silent.
DataOptions recorded_data_options(const LoadedModel& model);

// Source options that bring any data to the model's stored geometry: its
// channels, its size (resized only if training resized), its classes and
// columns. Requires: `options` names the data source.
SourceOptions model_source_options(const DataOptions& options, const Preprocessing& pre);

// --no-preprocess: the model's geometry-free, scaling-free twin. Returns the
// preprocessing that keeps only channel conversion, and writes a loud
// description of what is skipped into `skipped`.
Preprocessing without_preprocessing(const Preprocessing& pre, std::string& skipped);

// The statistics of the model's training inputs (after its preprocessing),
// from its training record; nothing when the file does not record them.
std::optional<InputStats> recorded_input_stats(const LoadedModel& model);

// Train/inference skew: compares the inputs about to enter the model (`now`,
// after whatever preprocessing was applied) with its training inputs, prints
// each finding as a warning on stderr, and returns them (none when the file
// has no record or the inputs look alike).
std::vector<Finding> check_inputs_against_training(const LoadedModel& model, const InputStats& now);

// For --json: {"checked": bool, "mismatch": bool, "findings": [...]}.
nlohmann::json input_check_json(const LoadedModel& model, const std::vector<Finding>& findings);

}  // namespace ck
