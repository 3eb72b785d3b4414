// Augmentation: parsing the spec, describing it, and applying it to a sample.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "core/error.h"
#include "core/spec_tokens.h"
#include "data/augment.h"

namespace ck {

namespace {

constexpr const char* kWhat = "--augment";

float number(const std::string& spec, const SpecToken& t, const std::string& s, float lo, float hi,
             const char* meaning) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v))
    spec_error(kWhat, spec, t, fmt::format("{}: \"{}\" is not a number ({})", t.name, s, meaning));
  if (v < lo || v > hi)
    spec_error(kWhat, spec, t,
               fmt::format("{}: {} must be in [{}, {}] ({})", t.name, v, lo, hi, meaning));
  return static_cast<float>(v);
}

}  // namespace

Augmentation Augmentation::parse(const std::string& spec) {
  Augmentation a;
  for (const SpecToken& t : tokenize_spec(spec, kWhat)) {
    AugmentStep s;
    s.text = t.text;
    std::vector<std::string> positional;
    for (const std::string& arg : t.args) {
      const auto [key, value] = split_key_value(arg);
      if (key.empty()) {
        positional.push_back(value);
        continue;
      }
      if (t.name == "flip" || t.name == "crop")
        spec_error(kWhat, spec, t, fmt::format("{} takes no {}= option", t.name, key));
      if (key == "fill") {
        if (value == "reflect")
          s.fill = FillMode::reflect;
        else if (value == "constant")
          s.fill = FillMode::constant;
        else if (value == "nearest")
          s.fill = FillMode::nearest;
        else
          spec_error(kWhat, spec, t,
                     fmt::format("{}: fill must be reflect, constant or nearest", t.name));
      } else if (key == "value") {
        s.fill_value = number(spec, t, value, -1e30f, 1e30f, "the constant fill value");
      } else if (key == "interpolation") {
        if (value != "bilinear" && value != "nearest")
          spec_error(kWhat, spec, t,
                     fmt::format("{}: interpolation must be bilinear or nearest", t.name));
        s.interpolation = parse_resize_method(value);
      } else {
        spec_error(kWhat, spec, t,
                   fmt::format("{}: unknown option \"{}\" (options: fill, value, interpolation)",
                               t.name, key));
      }
    }
    auto need = [&](size_t lo, size_t hi, const char* example) {
      if (positional.size() < lo || positional.size() > hi)
        spec_error(kWhat, spec, t,
                   fmt::format("{} needs {}, e.g. {}", t.name,
                               lo == hi ? fmt::format("{} argument{}", lo, lo == 1 ? "" : "s")
                                        : fmt::format("{} to {} arguments", lo, hi),
                               example));
    };
    if (t.name == "flip") {
      s.kind = AugmentStep::flip;
      need(0, 1, "flip(horizontal)");
      const std::string mode = positional.empty() ? "both" : positional[0];
      if (mode == "horizontal")
        s.vertical = false;
      else if (mode == "vertical")
        s.horizontal = false;
      else if (mode != "both" && mode != "horizontal_and_vertical")
        spec_error(kWhat, spec, t, fmt::format("{}: choose horizontal, vertical or both", t.name));
    } else if (t.name == "rotation") {
      s.kind = AugmentStep::rotation;
      need(1, 1, "rotation(0.2) for up to 0.2 of a full turn (72 degrees) either way");
      s.factor = std::fabs(number(spec, t, positional[0], -1, 1, "a fraction of a full turn"));
    } else if (t.name == "zoom") {
      s.kind = AugmentStep::zoom;
      need(1, 2, "zoom(0.2) for zoom factors 0.8 to 1.2");
      s.factor = std::fabs(number(spec, t, positional[0], -1, 1, "the height factor"));
      if (positional.size() == 2) {
        s.has_width = true;
        s.width_factor = std::fabs(number(spec, t, positional[1], -1, 1, "the width factor"));
      }
    } else if (t.name == "translation") {
      s.kind = AugmentStep::translation;
      need(1, 2, "translation(0.1) for shifts up to 10% of the height and width");
      s.factor = std::fabs(number(spec, t, positional[0], -1, 1, "a fraction of the height"));
      s.width_factor =
          positional.size() == 2
              ? std::fabs(number(spec, t, positional[1], -1, 1, "a fraction of the width"))
              : s.factor;
      s.has_width = true;
    } else if (t.name == "crop") {
      s.kind = AugmentStep::crop;
      need(1, 1, "crop(24x24)");
      Shape size;
      try {
        size = parse_shape(positional[0], "crop");
      } catch (const Error&) {
        spec_error(kWhat, spec, t,
                   fmt::format("{}: give the window as HxW, e.g. crop(24x24)", t.name));
      }
      if (size.size() == 1) size.push_back(size[0]);
      if (size.size() != 2 || size[0] < 1 || size[1] < 1 || size[0] > kMaxCropSide ||
          size[1] > kMaxCropSide)
        spec_error(kWhat, spec, t,
                   fmt::format("{}: give the window as HxW, e.g. crop(24x24)", t.name));
      s.crop_height = static_cast<int>(size[0]), s.crop_width = static_cast<int>(size[1]);
    } else {
      spec_error(
          kWhat, spec, t,
          fmt::format("unknown step \"{}\"; steps are flip, rotation, zoom, translation, crop",
                      t.name));
    }
    if (s.kind == AugmentStep::crop && a.crop())
      spec_error(kWhat, spec, t, "only one crop step is allowed");
    a.steps.push_back(s);
  }
  return a;
}

const AugmentStep* Augmentation::crop() const {
  for (const AugmentStep& s : steps)
    if (s.kind == AugmentStep::crop) return &s;
  return nullptr;
}

std::string Augmentation::describe() const {
  std::string out;
  for (const AugmentStep& s : steps) {
    if (!out.empty()) out += ' ';
    const std::string extra =
        fmt::format(", fill={}{}, {}", fill_mode_name(s.fill),
                    s.fill == FillMode::constant ? fmt::format(" {}", s.fill_value) : "",
                    resize_method_name(s.interpolation));
    switch (s.kind) {
      case AugmentStep::flip:
        out += fmt::format("flip({})", s.horizontal && s.vertical ? "both"
                                       : s.horizontal             ? "horizontal"
                                                                  : "vertical");
        break;
      case AugmentStep::rotation:
        out += fmt::format("rotation({}: +-{:g} deg{})", s.factor, s.factor * 360, extra);
        break;
      case AugmentStep::zoom:
        out += s.has_width
                   ? fmt::format("zoom(height x{:g}..{:g}, width x{:g}..{:g}{})", 1 - s.factor,
                                 1 + s.factor, 1 - s.width_factor, 1 + s.width_factor, extra)
                   : fmt::format("zoom(x{:g}..{:g}{})", 1 - s.factor, 1 + s.factor, extra);
        break;
      case AugmentStep::translation:
        out += fmt::format("translation(+-{:g} of height, +-{:g} of width{})", s.factor,
                           s.width_factor, extra);
        break;
      case AugmentStep::crop:
        out += fmt::format("crop({}x{})", s.crop_height, s.crop_width);
        break;
    }
  }
  return out;
}

Shape Augmentation::output_shape(const Shape& in) const {
  Shape out = in;
  if (const AugmentStep* c = crop()) out[0] = c->crop_height, out[1] = c->crop_width;
  return out;
}

void Augmentation::apply(const float* x, const Shape& in, float* out, Rng& rng,
                         std::vector<float>& work) const {
  int h = static_cast<int>(in[0]), w = static_cast<int>(in[1]);
  const int c = static_cast<int>(in[2]);
  const size_t size = static_cast<size_t>(h) * w * c;
  const size_t cropped =
      crop() ? static_cast<size_t>(crop()->crop_height) * crop()->crop_width * c : 0;
  work.resize(2 * std::max(size, cropped));
  float* buffers[2] = {work.data(), work.data() + work.size() / 2};
  const float* cur = x;
  int next = 0;
  for (const AugmentStep& s : steps) {
    float* dst = buffers[next];
    float m[6];
    // Every step draws the same number of values whatever it decides, so the
    // draws of later steps never depend on the image.
    switch (s.kind) {
      case AugmentStep::flip: {
        const bool fh = s.horizontal && rng.uniform() < 0.5f;
        const bool fv = s.vertical && rng.uniform() < 0.5f;
        if (!fh && !fv) continue;
        flip_image(cur, h, w, c, fh, fv, dst);
        break;
      }
      case AugmentStep::rotation:
        rotation_matrix(rng.uniform(-s.factor, s.factor) * 2.0f * std::numbers::pi_v<float>, h, w,
                        m);
        affine_warp(cur, h, w, c, m, dst, s.fill, s.fill_value, s.interpolation);
        break;
      case AugmentStep::zoom: {
        const float zy = 1.0f + rng.uniform(-s.factor, s.factor);
        const float zx = s.has_width ? 1.0f + rng.uniform(-s.width_factor, s.width_factor) : zy;
        zoom_matrix(zy, zx, h, w, m);
        affine_warp(cur, h, w, c, m, dst, s.fill, s.fill_value, s.interpolation);
        break;
      }
      case AugmentStep::translation: {
        const float dy = rng.uniform(-s.factor, s.factor) * h;
        const float dx = rng.uniform(-s.width_factor, s.width_factor) * w;
        translation_matrix(dy, dx, m);
        affine_warp(cur, h, w, c, m, dst, s.fill, s.fill_value, s.interpolation);
        break;
      }
      case AugmentStep::crop: {
        const float u = rng.uniform(), v = rng.uniform();
        const int ch = s.crop_height, cw = s.crop_width;
        if (h >= ch && w >= cw) {
          const int top = std::min(static_cast<int>(u * (h - ch + 1)), h - ch);
          const int left = std::min(static_cast<int>(v * (w - cw + 1)), w - cw);
          crop_image(cur, h, w, c, top, left, ch, cw, dst);
        } else {
          crop_resize(cur, h, w, c, dst, ch, cw);  // smaller than the window: as Keras
        }
        h = ch, w = cw;
        break;
      }
    }
    cur = dst;
    next ^= 1;
  }
  std::copy_n(cur, static_cast<size_t>(h) * w * c, out);
}

}  // namespace ck
