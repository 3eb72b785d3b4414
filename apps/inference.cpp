#include "apps/inference.h"

#include <fmt/format.h>

#include "core/error.h"

namespace ck {

DataOptions recorded_data_options(const LoadedModel& model) {
  DataOptions o;
  const nlohmann::json& t = model.info.training;
  if (t.contains("options") && t["options"].contains("data")) {
    try {
      o = t["options"]["data"].get<DataOptions>();
    } catch (const nlohmann::json::exception&) {
      // An old or foreign record: fall back to the defaults.
    }
  }
  return o;
}

SourceOptions model_source_options(const DataOptions& options, const Preprocessing& pre) {
  SourceOptions s = source_options(options);
  s.class_names = pre.class_names;
  s.columns = pre.columns;
  s.stored_shape = pre.stored_shape;
  s.allow_missing = pre.impute != Impute::none;
  s.for_saved_model = true;
  if (pre.images && pre.stored_shape.size() == 3) {
    s.channels = static_cast<int>(pre.stored_shape[2]);
    if (pre.resize)
      s.resize = std::make_pair(static_cast<int>(pre.stored_shape[0]),
                                static_cast<int>(pre.stored_shape[1]));
    else
      s.resize.reset();
    s.resize_method = pre.resize_method;
  }
  return s;
}

Preprocessing without_preprocessing(const Preprocessing& pre, std::string& skipped) {
  std::vector<std::string> parts;
  if (pre.scaling != Scaling::none) parts.push_back("the scaling (" + pre.describe() + ")");
  if (pre.resize && pre.stored_shape.size() == 3)
    parts.push_back(fmt::format("the resize to {}x{}", pre.stored_shape[0], pre.stored_shape[1]));
  if (pre.impute != Impute::none) parts.push_back("the imputation of missing values");
  if (pre.crop_height) parts.push_back("the center crop");
  skipped = parts.empty() ? "nothing (the model was trained on raw inputs)"
                          : fmt::format("{}", fmt::join(parts, ", "));
  Preprocessing raw = pre;
  raw.scaling = Scaling::none;
  raw.offset = {0.0f};
  raw.divisor = {1.0f};
  raw.impute = Impute::none;
  raw.fill.clear();
  raw.resize = false;
  raw.crop_height = raw.crop_width = 0;
  return raw;
}

std::optional<InputStats> recorded_input_stats(const LoadedModel& model) {
  const nlohmann::json& t = model.info.training;
  if (!t.is_object() || !t.contains("input_stats")) return std::nullopt;
  try {
    return InputStats::from_json(t["input_stats"]);
  } catch (const Error&) {
    return std::nullopt;  // a malformed record checks nothing rather than stopping predict
  }
}

std::vector<Finding> check_inputs_against_training(const LoadedModel& model,
                                                   const InputStats& now) {
  const std::optional<InputStats> training = recorded_input_stats(model);
  if (!training || now.samples == 0) return {};
  std::vector<Finding> found =
      compare_input_stats(*training, now, model.info.preprocessing.columns);
  for (const Finding& f : found) {
    std::string evidence;
    for (const Evidence& e : f.evidence) evidence += "\n    " + e.shown;
    fmt::print(stderr, "convkit: warning: {} [{}]{}\n  try: {}\n", f.title, f.id, evidence, f.fix);
  }
  return found;
}

nlohmann::json input_check_json(const LoadedModel& model, const std::vector<Finding>& findings) {
  return {{"checked", recorded_input_stats(model).has_value()},
          {"mismatch", !findings.empty()},
          {"findings", findings_json(findings)}};
}

}  // namespace ck
