// Preprocessing: its JSON form (stored in model files) and its descriptions.
#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/format.h"
#include "data/augment.h"
#include "data/preprocess.h"

namespace ck {

namespace {

std::string numbers(const std::vector<float>& v, size_t max = 6) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) s += fmt::format("{}{:.6g}", i ? ", " : "", v[i]);
  if (v.size() > max) s += fmt::format(", ... ({} values)", v.size());
  return v.size() > 1 ? "[" + s + "]" : s;
}

std::string geometry(const Preprocessing& p) {
  if (!p.images) return fmt::format("{} features", shape_size(p.stored_shape));
  std::string s = fmt::format("images {} {}", shape_compact(p.stored_shape), p.channel_order);
  if (p.resize) s += fmt::format(", any input size resized ({})", resize_method_name(p.resize_method));
  if (p.crop_height)
    s += fmt::format(", crop {}x{} (inference: centered window resized, as Keras RandomCrop)",
                     p.crop_height, p.crop_width);
  return s;
}

}  // namespace

std::string Preprocessing::describe() const {
  std::string s;
  switch (scaling) {
    case Scaling::none: s = "no scaling (raw values)"; break;
    case Scaling::unit: s = "scale 1/255"; break;
    case Scaling::tf: s = "tf: x / 127.5 - 1"; break;
    case Scaling::caffe: s = "caffe: RGB->BGR, minus ImageNet means [103.939, 116.779, 123.68]"; break;
    case Scaling::torch: s = "torch: (x/255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]"; break;
    case Scaling::minmax:
      s = offset.size() == 1 ? fmt::format("min-max over the training array: (x - {:.6g}) / {:.6g}", offset[0], divisor[0])
                             : fmt::format("min-max per column: min {}, range {}", numbers(offset, 4), numbers(divisor, 4));
      break;
    case Scaling::zscore:
      s = fmt::format("z-score per {}: mean {}, std {}", images ? "channel" : "column", numbers(offset, 4),
                      numbers(divisor, 4));
      break;
  }
  if (fitted_on && (scaling == Scaling::minmax || scaling == Scaling::zscore))
    s += fmt::format(" (fitted on {} training samples)", with_commas(fitted_on));
  if (impute != Impute::none)
    s += fmt::format("; missing values -> {} {}", impute_name(impute),
                     impute == Impute::constant ? fmt::format("{:g}", impute_constant) : numbers(fill, 4));
  return s;
}

std::string Preprocessing::details() const {
  std::string s;
  s += fmt::format("  input:          {}\n", geometry(*this));
  s += fmt::format("  model input:    {}\n", shape_compact(input_shape()));
  s += fmt::format("  scaling:        {}\n", scaling_name(scaling));
  s += fmt::format("  offset:         {}\n", numbers(offset, 1 << 20));
  s += fmt::format("  divisor:        {}\n", numbers(divisor, 1 << 20));
  s += fmt::format("  impute:         {}\n", impute_name(impute));
  if (impute != Impute::none) s += fmt::format("  fill values:    {}\n", numbers(fill, 1 << 20));
  if (!columns.empty()) {
    std::string c;
    for (size_t i = 0; i < columns.size(); ++i) c += (i ? ", " : "") + columns[i];
    s += fmt::format("  columns:        {}\n", c);
  }
  std::string k;
  for (size_t i = 0; i < class_names.size(); ++i) k += fmt::format("{}{}={}", i ? ", " : "", i, class_names[i]);
  if (!k.empty()) s += fmt::format("  classes:        {}\n", k);
  if (fitted_on) s += fmt::format("  fitted on:      {} training samples\n", with_commas(fitted_on));
  return s;
}

nlohmann::json Preprocessing::to_json() const {
  nlohmann::json j;
  j["format"] = "convkit-preprocessing";
  j["version"] = 1;
  j["input"] = images ? "images" : "features";
  j["stored_shape"] = stored_shape;
  j["input_shape"] = input_shape();
  j["resize"] = resize ? nlohmann::json(resize_method_name(resize_method)) : nlohmann::json(nullptr);
  j["crop"] = crop_height ? nlohmann::json::array({crop_height, crop_width}) : nlohmann::json(nullptr);
  j["channel_order"] = channel_order;
  j["scaling"] = scaling_name(scaling);
  j["offset"] = offset;
  j["divisor"] = divisor;
  j["impute"] = impute_name(impute);
  j["impute_constant"] = impute_constant;
  j["fill"] = fill;
  j["columns"] = columns;
  j["class_names"] = class_names;
  j["fitted_on"] = fitted_on;
  return j;
}

Preprocessing Preprocessing::from_json(const nlohmann::json& j) {
  auto bad = [&](const std::string& why) -> void { fail("malformed preprocessing record ({}): {}", why, j.dump().substr(0, 200)); };
  if (!j.is_object() || !j.contains("scaling") || !j["scaling"].is_string()) bad("no scaling");
  Preprocessing p;
  p.scaling = parse_scaling(j["scaling"].get<std::string>());
  try {
    if (j.at("format") != "convkit-preprocessing" || j.at("version") != 1) bad("unknown format or version");
    p.images = j.at("input").get<std::string>() == "images";
    p.stored_shape = j.at("stored_shape").get<Shape>();
    for (int64_t d : p.stored_shape)
      if (d <= 0 || d > (1 << 24)) bad("stored_shape");
    if (p.stored_shape.empty() || (p.images && p.stored_shape.size() != 3)) bad("stored_shape");
    p.resize = !j.at("resize").is_null();
    if (p.resize) p.resize_method = parse_resize_method(j.at("resize").get<std::string>());
    if (!j.at("crop").is_null()) {
      const auto crop = j.at("crop").get<std::vector<int>>();
      // A crop larger than the stored image is valid: as Keras's RandomCrop,
      // training and inference then resize the centered window up to it.
      if (crop.size() != 2 || crop[0] <= 0 || crop[1] <= 0 || crop[0] > kMaxCropSide ||
          crop[1] > kMaxCropSide || !p.images)
        bad("crop");
      p.crop_height = crop[0], p.crop_width = crop[1];
    }
    p.channel_order = j.at("channel_order").get<std::string>();
    p.offset = j.at("offset").get<std::vector<float>>();
    p.divisor = j.at("divisor").get<std::vector<float>>();
    const size_t channels = p.images ? p.stored_shape[2] : p.stored_shape[0];
    if (p.offset.size() != p.divisor.size() || (p.offset.size() != 1 && p.offset.size() != channels))
      bad("offset/divisor sizes");
    for (float d : p.divisor)
      if (!(d != 0.0f) || !std::isfinite(d)) bad("a zero or infinite divisor");
    float constant = 0;
    std::string impute = j.at("impute").get<std::string>();
    if (impute == "constant") impute = "constant:0";
    p.impute = parse_impute(impute, constant);
    p.impute_constant = j.at("impute_constant").get<float>();
    p.fill = j.at("fill").get<std::vector<float>>();
    if (p.impute != Impute::none && p.fill.size() != static_cast<size_t>(shape_size(p.stored_shape))) bad("fill size");
    p.columns = j.at("columns").get<std::vector<std::string>>();
    p.class_names = j.at("class_names").get<std::vector<std::string>>();
    p.fitted_on = j.at("fitted_on").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    bad(e.what());
  }
  return p;
}

}  // namespace ck
