#include "data/augment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace ck {

std::string fill_mode_name(FillMode mode) {
  switch (mode) {
    case FillMode::reflect: return "reflect";
    case FillMode::constant: return "constant";
    case FillMode::nearest: return "nearest";
  }
  return "?";
}

namespace {

// TensorFlow's MapCoordinate for one axis (image_ops.h), kept line for line.
float map_coord(float v, int len, FillMode fill) {
  if (fill == FillMode::constant) return v;
  if (fill == FillMode::reflect) {
    if (v < 0) {
      if (len <= 1) {
        v = 0;
      } else {
        const int64_t sz2 = 2 * int64_t{len};
        if (v < -sz2) v = sz2 * static_cast<int64_t>(-v / sz2) + v;
        v = (v < -len) ? v + sz2 : -v - 1;
      }
    } else if (v > len - 1) {
      if (len <= 1) {
        v = 0;
      } else {
        const int64_t sz2 = 2 * int64_t{len};
        v -= sz2 * static_cast<int64_t>(v / sz2);
        if (v >= len) v = sz2 - v - 1;
      }
    }
  }
  return std::clamp(v, 0.0f, static_cast<float>(len - 1));
}

inline float read(const float* x, int h, int w, int c, int64_t y, int64_t xx, int k, float fill_value) {
  if (y < 0 || y >= h || xx < 0 || xx >= w) return fill_value;
  return x[(y * w + xx) * c + k];
}

}  // namespace

void affine_warp_reference(const float* x, int h, int w, int c, const float m[6], float* out,
                           FillMode fill, float fill_value, ResizeMethod interpolation) {
  for (int oy = 0; oy < h; ++oy)
    for (int ox = 0; ox < w; ++ox)
      for (int k = 0; k < c; ++k) {
        const float fx = static_cast<float>(ox), fy = static_cast<float>(oy);
        const float sx = map_coord(m[0] * fx + m[1] * fy + m[2], w, fill);
        const float sy = map_coord(m[3] * fx + m[4] * fy + m[5], h, fill);
        float v;
        if (interpolation == ResizeMethod::nearest) {
          v = read(x, h, w, c, static_cast<int64_t>(std::round(sy)),
                   static_cast<int64_t>(std::round(sx)), k, fill_value);
        } else {
          const float x0 = std::floor(sx), y0 = std::floor(sy), x1 = x0 + 1, y1 = y0 + 1;
          auto at = [&](float yy, float xx) {
            return read(x, h, w, c, static_cast<int64_t>(yy), static_cast<int64_t>(xx), k, fill_value);
          };
          const float top = (x1 - sx) * at(y0, x0) + (sx - x0) * at(y0, x1);
          const float bottom = (x1 - sx) * at(y1, x0) + (sx - x0) * at(y1, x1);
          v = (y1 - sy) * top + (sy - y0) * bottom;
        }
        out[(int64_t{oy} * w + ox) * c + k] = v;
      }
}

void affine_warp(const float* x, int h, int w, int c, const float m[6], float* out,
                 FillMode fill, float fill_value, ResizeMethod interpolation) {
  // The reference's arithmetic, with coordinates computed once per pixel and
  // the bounds checks skipped for pixels whose four neighbors are inside.
  for (int oy = 0; oy < h; ++oy) {
    const float fy = static_cast<float>(oy);
    float* o = out + int64_t{oy} * w * c;
    for (int ox = 0; ox < w; ++ox, o += c) {
      const float fx = static_cast<float>(ox);
      const float sx = map_coord(m[0] * fx + m[1] * fy + m[2], w, fill);
      const float sy = map_coord(m[3] * fx + m[4] * fy + m[5], h, fill);
      if (interpolation == ResizeMethod::nearest) {
        const int64_t ry = static_cast<int64_t>(std::round(sy)), rx = static_cast<int64_t>(std::round(sx));
        for (int k = 0; k < c; ++k) o[k] = read(x, h, w, c, ry, rx, k, fill_value);
        continue;
      }
      const float x0 = std::floor(sx), y0 = std::floor(sy), x1 = x0 + 1, y1 = y0 + 1;
      const float ax = x1 - sx, bx = sx - x0, ay = y1 - sy, by = sy - y0;
      const int64_t ix = static_cast<int64_t>(x0), iy = static_cast<int64_t>(y0);
      if (ix >= 0 && iy >= 0 && ix + 1 < w && iy + 1 < h) {
        const float* p00 = x + (iy * w + ix) * c;
        const float* p01 = p00 + c;
        const float* p10 = p00 + int64_t{w} * c;
        const float* p11 = p10 + c;
        for (int k = 0; k < c; ++k) {
          const float top = ax * p00[k] + bx * p01[k];
          const float bottom = ax * p10[k] + bx * p11[k];
          o[k] = ay * top + by * bottom;
        }
      } else {
        for (int k = 0; k < c; ++k) {
          const float top = ax * read(x, h, w, c, iy, ix, k, fill_value) +
                            bx * read(x, h, w, c, iy, ix + 1, k, fill_value);
          const float bottom = ax * read(x, h, w, c, iy + 1, ix, k, fill_value) +
                               bx * read(x, h, w, c, iy + 1, ix + 1, k, fill_value);
          o[k] = ay * top + by * bottom;
        }
      }
    }
  }
}

void rotation_matrix(float radians, int h, int w, float m[6]) {
  // RandomRotation: rotation about ((W-1)/2, (H-1)/2).
  const float cs = std::cos(radians), sn = std::sin(radians);
  const float W = static_cast<float>(w - 1), H = static_cast<float>(h - 1);
  m[0] = cs, m[1] = -sn, m[2] = (W - (cs * W - sn * H)) / 2.0f;
  m[3] = sn, m[4] = cs, m[5] = (H - (sn * W + cs * H)) / 2.0f;
}

void zoom_matrix(float zoom_y, float zoom_x, int h, int w, float m[6]) {
  // RandomZoom: scaling about the image center.
  m[0] = zoom_x, m[1] = 0, m[2] = (static_cast<float>(w) - 1.0f) / 2.0f * (1.0f - zoom_x);
  m[3] = 0, m[4] = zoom_y, m[5] = (static_cast<float>(h) - 1.0f) / 2.0f * (1.0f - zoom_y);
}

void translation_matrix(float dy, float dx, float m[6]) {
  m[0] = 1, m[1] = 0, m[2] = -dx;
  m[3] = 0, m[4] = 1, m[5] = -dy;
}

void flip_image(const float* x, int h, int w, int c, bool horizontal, bool vertical, float* out) {
  for (int y = 0; y < h; ++y) {
    const int sy = vertical ? h - 1 - y : y;
    for (int xx = 0; xx < w; ++xx) {
      const int sx = horizontal ? w - 1 - xx : xx;
      std::copy_n(x + (int64_t{sy} * w + sx) * c, c, out + (int64_t{y} * w + xx) * c);
    }
  }
}

void crop_image(const float* x, int h, int w, int c, int top, int left, int oh, int ow, float* out) {
  if (top < 0 || left < 0 || top + oh > h || left + ow > w)
    fail("crop window {}x{} at ({}, {}) does not fit a {}x{} image", oh, ow, top, left, h, w);
  for (int y = 0; y < oh; ++y)
    std::copy_n(x + (int64_t{top + y} * w + left) * c, int64_t{ow} * c, out + int64_t{y} * ow * c);
}

}  // namespace ck
