#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace ck {

std::string resize_method_name(ResizeMethod method) {
  return method == ResizeMethod::bilinear ? "bilinear" : "nearest";
}

ResizeMethod parse_resize_method(const std::string& name) {
  if (name == "bilinear") return ResizeMethod::bilinear;
  if (name == "nearest") return ResizeMethod::nearest;
  fail("unknown resize method \"{}\": choose bilinear or nearest", name);
}

namespace {

// Where output index i samples the input, for one axis.
struct Tap {
  int lo, hi;   // input indices
  float frac;   // weight of hi
};

Tap bilinear_tap(int i, int in, int out) {
  const float scale = static_cast<float>(in) / out;
  const float src = (i + 0.5f) * scale - 0.5f;
  const float f = std::floor(src);
  Tap t;
  t.lo = std::max(static_cast<int>(f), 0);
  t.hi = std::min(static_cast<int>(std::ceil(src)), in - 1);
  t.frac = src - f;
  return t;
}

int nearest_index(int i, int in, int out) {
  const float scale = static_cast<float>(in) / out;
  return std::min(static_cast<int>(std::floor((i + 0.5f) * scale)), in - 1);
}

void check_sizes(int h, int w, int c, int oh, int ow) {
  if (h < 1 || w < 1 || c < 1 || oh < 1 || ow < 1)
    fail("cannot resize a {}x{}x{} image to {}x{}", h, w, c, oh, ow);
}

}  // namespace

void resize_image_reference(const float* x, int h, int w, int c, float* out, int oh, int ow,
                            ResizeMethod method) {
  check_sizes(h, w, c, oh, ow);
  for (int y = 0; y < oh; ++y)
    for (int xo = 0; xo < ow; ++xo)
      for (int k = 0; k < c; ++k) {
        float v;
        if (method == ResizeMethod::nearest) {
          v = x[(int64_t{nearest_index(y, h, oh)} * w + nearest_index(xo, w, ow)) * c + k];
        } else {
          const Tap ty = bilinear_tap(y, h, oh), tx = bilinear_tap(xo, w, ow);
          auto at = [&](int r, int col) { return x[(int64_t{r} * w + col) * c + k]; };
          const float top = at(ty.lo, tx.lo) + (at(ty.lo, tx.hi) - at(ty.lo, tx.lo)) * tx.frac;
          const float bottom = at(ty.hi, tx.lo) + (at(ty.hi, tx.hi) - at(ty.hi, tx.lo)) * tx.frac;
          v = top + (bottom - top) * ty.frac;
        }
        out[(int64_t{y} * ow + xo) * c + k] = v;
      }
}

void resize_image(const float* x, int h, int w, int c, float* out, int oh, int ow,
                  ResizeMethod method) {
  check_sizes(h, w, c, oh, ow);
  if (method == ResizeMethod::nearest) {
    std::vector<int> cols(ow);
    for (int i = 0; i < ow; ++i) cols[i] = nearest_index(i, w, ow) * c;
    for (int y = 0; y < oh; ++y) {
      const float* row = x + int64_t{nearest_index(y, h, oh)} * w * c;
      float* o = out + int64_t{y} * ow * c;
      for (int i = 0; i < ow; ++i, o += c) std::copy_n(row + cols[i], c, o);
    }
    return;
  }
  // Same arithmetic as the reference, with the taps computed once per axis.
  std::vector<Tap> cols(ow);
  for (int i = 0; i < ow; ++i) cols[i] = bilinear_tap(i, w, ow);
  for (int y = 0; y < oh; ++y) {
    const Tap ty = bilinear_tap(y, h, oh);
    const float* r0 = x + int64_t{ty.lo} * w * c;
    const float* r1 = x + int64_t{ty.hi} * w * c;
    float* o = out + int64_t{y} * ow * c;
    for (int i = 0; i < ow; ++i) {
      const Tap& tx = cols[i];
      const float *a = r0 + tx.lo * c, *b = r0 + tx.hi * c, *d = r1 + tx.lo * c, *e = r1 + tx.hi * c;
      for (int k = 0; k < c; ++k) {
        const float top = a[k] + (b[k] - a[k]) * tx.frac;
        const float bottom = d[k] + (e[k] - d[k]) * tx.frac;
        *o++ = top + (bottom - top) * ty.frac;
      }
    }
  }
}

void crop_resize(const float* x, int h, int w, int c, float* out, int oh, int ow) {
  check_sizes(h, w, c, oh, ow);
  // keras.src.utils.image_utils.smart_resize / RandomCrop's inference window.
  const int crop_h = std::clamp(static_cast<int>(static_cast<double>(w) * oh / ow), 1, h);
  const int crop_w = std::clamp(static_cast<int>(static_cast<double>(h) * ow / oh), 1, w);
  const int top = (h - crop_h) / 2, left = (w - crop_w) / 2;
  std::vector<float> window(static_cast<size_t>(crop_h) * crop_w * c);
  for (int y = 0; y < crop_h; ++y)
    std::copy_n(x + (int64_t{top + y} * w + left) * c, int64_t{crop_w} * c,
                window.data() + int64_t{y} * crop_w * c);
  resize_image(window.data(), crop_h, crop_w, c, out, oh, ow, ResizeMethod::bilinear);
}

Image fit_image(const Image& image, int channels, int h, int w, ResizeMethod method) {
  Image converted = convert_channels(image, channels);
  if (converted.height == h && converted.width == w) return converted;
  std::vector<float> in(converted.pixels.begin(), converted.pixels.end());
  std::vector<float> out(static_cast<size_t>(h) * w * channels);
  resize_image(in.data(), converted.height, converted.width, channels, out.data(), h, w, method);
  Image result;
  result.height = h, result.width = w, result.channels = channels;
  result.pixels.resize(out.size());
  for (size_t i = 0; i < out.size(); ++i)
    result.pixels[i] = static_cast<uint8_t>(std::clamp(out[i], 0.0f, 255.0f) + 0.5f);
  return result;
}

}  // namespace ck
