#include "data/preview.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/font.h"

namespace ck {

namespace {

// Tableau's ten category colors, one per class index (mod 10).
constexpr uint8_t kPalette[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                     {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                     {188, 189, 34},  {23, 190, 207}};

void put(Image& img, int y, int x, const uint8_t* rgb) {
  if (y < 0 || x < 0 || y >= img.height || x >= img.width) return;
  std::copy_n(rgb, 3, img.pixels.data() + (int64_t{y} * img.width + x) * 3);
}

// `value` in the 5x7 font (core/font.h), each font pixel scale x scale.
void draw_number(Image& img, int y0, int x0, int value, const uint8_t* color, int scale) {
  const std::string text = std::to_string(value);
  const uint8_t white[3] = {255, 255, 255};
  // A white box behind the digits keeps them readable on any image.
  for (int y = -1; y < font::kHeight * scale + 1; ++y)
    for (int x = -1; x < font::text_width(text) * scale; ++x) put(img, y0 + y, x0 + x, white);
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = font::glyph(text[i]);
    for (int r = 0; r < font::kHeight; ++r)
      for (int c = 0; c < font::kWidth; ++c)
        if (rows[r] & (0x10 >> c))
          for (int dy = 0; dy < scale; ++dy)
            for (int dx = 0; dx < scale; ++dx)
              put(img, y0 + r * scale + dy, x0 + (static_cast<int>(i) * font::kAdvance + c) * scale + dx, color);
  }
}

}  // namespace

Image render_grid(const Tensor& x, const std::vector<float>& labels, int columns, int zoom, float lo, float hi) {
  if (x.rank() != 4) fail("render_grid needs images (N,H,W,C), got {}", shape_str(x.shape()));
  const int n = static_cast<int>(x.dim(0)), h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  const int c = static_cast<int>(x.dim(3));
  columns = std::max(1, std::min(columns, n));
  const int rows = (n + columns - 1) / columns, border = 2, pad = 2;
  const int cell_h = h * zoom + 2 * border, cell_w = w * zoom + 2 * border;
  Image img;
  img.channels = 3;
  img.height = rows * (cell_h + pad) + pad;
  img.width = columns * (cell_w + pad) + pad;
  img.pixels.assign(static_cast<size_t>(img.height) * img.width * 3, 255);
  const float range = hi > lo ? hi - lo : 1.0f;
  for (int i = 0; i < n; ++i) {
    const int y0 = pad + (i / columns) * (cell_h + pad), x0 = pad + (i % columns) * (cell_w + pad);
    const int label = i < static_cast<int>(labels.size()) ? static_cast<int>(labels[i]) : 0;
    const uint8_t* color = kPalette[((label % 10) + 10) % 10];
    for (int y = 0; y < cell_h; ++y)
      for (int xx = 0; xx < cell_w; ++xx) put(img, y0 + y, x0 + xx, color);
    const float* sample = x.data() + static_cast<int64_t>(i) * h * w * c;
    for (int y = 0; y < h * zoom; ++y)
      for (int xx = 0; xx < w * zoom; ++xx) {
        const float* px = sample + (int64_t{y / zoom} * w + xx / zoom) * c;
        uint8_t rgb[3];
        for (int k = 0; k < 3; ++k) {
          const float v = px[c >= 3 ? k : 0];
          const float level = std::isfinite(v) ? (v - lo) / range * 255.0f : 0.0f;  // NaN shows black
          rgb[k] = static_cast<uint8_t>(std::clamp(level, 0.0f, 255.0f) + 0.5f);
        }
        put(img, y0 + border + y, x0 + border + xx, rgb);
      }
    draw_number(img, y0 + border + 1, x0 + border + 1, label, color, zoom >= 3 ? 2 : 1);
  }
  return img;
}

Image render_samples(const Tensor& x, const std::vector<float>& labels, int columns, int zoom) {
  float lo = 0, hi = 0;
  bool first = true;
  for (int64_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) continue;
    if (first) lo = hi = x[i], first = false;
    lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  }
  return render_grid(x, labels, columns, zoom, lo, hi);
}

Image stack_images(const std::vector<Image>& panels, int gap) {
  Image out;
  out.channels = 3;
  for (const Image& p : panels) {
    out.width = std::max(out.width, p.width);
    out.height += p.height + (out.height ? gap : 0);
  }
  out.pixels.assign(static_cast<size_t>(out.height) * out.width * 3, 255);
  int y0 = 0;
  for (const Image& p : panels) {
    for (int y = 0; y < p.height; ++y)
      std::copy_n(p.pixels.data() + int64_t{y} * p.width * 3, int64_t{p.width} * 3,
                  out.pixels.data() + (int64_t{y0 + y} * out.width) * 3);
    y0 += p.height + gap;
  }
  return out;
}

}  // namespace ck
