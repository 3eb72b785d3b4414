#pragma once
// What evaluate and predict share: reading data the way a saved model was
// trained to see it, from the preprocessing recorded in its file.
#include <string>

#include "apps/data_options.h"
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

}  // namespace ck
