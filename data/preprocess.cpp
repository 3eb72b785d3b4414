#include "data/preprocess.h"

#include "core/error.h"

namespace ck {

std::string scaling_name(Scaling s) {
  switch (s) {
    case Scaling::none: return "none";
    case Scaling::unit: return "1/255";
  }
  return "?";
}

Scaling parse_scaling(const std::string& name) {
  if (name == "none") return Scaling::none;
  if (name == "1/255" || name == "unit") return Scaling::unit;
  fail("unknown scaling \"{}\": choose none or 1/255", name);
}

void Preprocessing::fit(const Dataset&) {}

void Preprocessing::apply(float* x, int64_t count, int64_t sample_size) const {
  const int64_t n = count * sample_size;
  if (scaling == Scaling::unit)
    for (int64_t i = 0; i < n; ++i) x[i] /= 255.0f;  // as images / 255.0 in the articles
}

std::string Preprocessing::describe() const {
  return scaling == Scaling::none ? "no scaling (raw values)" : "scale 1/255";
}

nlohmann::json Preprocessing::to_json() const { return {{"scaling", scaling_name(scaling)}}; }

Preprocessing Preprocessing::from_json(const nlohmann::json& j) {
  Preprocessing p;
  if (!j.is_object() || !j.contains("scaling") || !j["scaling"].is_string())
    fail("malformed preprocessing record: {}", j.dump());
  p.scaling = parse_scaling(j["scaling"].get<std::string>());
  return p;
}

}  // namespace ck
