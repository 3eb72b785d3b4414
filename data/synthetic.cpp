#include "data/synthetic.h"

#include <fmt/format.h>

#include <cstdlib>

#include "core/error.h"
#include "core/rng.h"

namespace ck {

bool is_synthetic_spec(const std::string& spec) { return spec.rfind("synthetic", 0) == 0; }

SyntheticSpec parse_synthetic(const std::string& spec) {
  SyntheticSpec s;
  if (spec == "synthetic") return s;
  if (spec.rfind("synthetic:", 0) != 0)
    fail("--data {}: write synthetic data as synthetic:images=100,shape=32x32x3,values=0-255,classes=10", spec);
  const std::string body = spec.substr(10);
  auto integer = [&](const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
    char* end = nullptr;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < lo || v > hi)
      fail("in --data {}: {}={} must be a whole number from {} to {}", spec, key, value, lo, hi);
    return static_cast<int64_t>(v);
  };
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t comma = body.find(',', pos);
    if (comma == std::string::npos) comma = body.size();
    const std::string item = body.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) fail("in --data {}: \"{}\" should be key=value", spec, item);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "images") s.images = integer(key, value, 1, int64_t{1} << 26);
    else if (key == "test") s.test = integer(key, value, 0, int64_t{1} << 26);
    else if (key == "classes") s.classes = static_cast<int>(integer(key, value, 1, 1 << 16));
    else if (key == "seed") s.seed = static_cast<uint64_t>(integer(key, value, 0, INT64_MAX));
    else if (key == "values") {
      if (value == "0-255") s.bytes = true;
      else if (value == "0-1") s.bytes = false;
      else fail("in --data {}: values must be 0-255 (integers) or 0-1 (floats in [0, 1))", spec);
    } else if (key == "shape") {
      s.shape = parse_shape(value, "shape in --data " + spec);
      if (s.shape.size() != 1 && s.shape.size() != 3)
        fail("in --data {}: shape must be HxWxC (images) or D (features)", spec);
    } else {
      fail("in --data {}: unknown key \"{}\" (keys: images, shape, values, classes, test, seed)", spec, key);
    }
  }
  if ((s.images + s.test) * shape_size(s.shape) > (int64_t{1} << 32))
    fail("in --data {}: that is more than 4 GiB of synthetic data", spec);
  return s;
}

Dataset make_synthetic(const SyntheticSpec& spec, int64_t count, uint64_t stream) {
  Rng rng = Rng::derive(spec.seed, 0x5e7, stream);
  Dataset d;
  d.sample_shape = spec.shape;
  const int64_t total = count * shape_size(spec.shape);
  if (spec.bytes) {
    d.pixels.resize(total);
    for (auto& p : d.pixels) p = static_cast<uint8_t>(rng.below(256));
  } else {
    d.values.resize(total);
    for (auto& v : d.values) v = rng.uniform();
  }
  d.targets.resize(count);
  for (auto& t : d.targets) t = static_cast<float>(rng.below(static_cast<uint64_t>(spec.classes)));
  for (int k = 0; k < spec.classes; ++k) d.class_names.push_back(std::to_string(k));
  d.description = fmt::format("synthetic: {} samples {}, {}, {} random classes, seed {}", count,
                              shape_compact(spec.shape),
                              spec.bytes ? "integers 0..255" : "floats in [0, 1)", spec.classes,
                              spec.seed);
  return d;
}

}  // namespace ck
