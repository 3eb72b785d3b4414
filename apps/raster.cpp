#include "apps/raster.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "core/atomic_file.h"
#include "core/font.h"

namespace ck {

Canvas::Canvas(int width, int height, Rgb background)
    : width_(std::max(width, 1)), height_(std::max(height, 1)),
      pixels_(static_cast<size_t>(width_) * height_ * 3) {
  fill_rect(0, 0, width_ - 1, height_ - 1, background);
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

Rgb Canvas::get(int x, int y) const {
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = std::max(0, std::min(y0, y1)); y <= std::min(height_ - 1, std::max(y0, y1)); ++y)
    for (int x = std::max(0, std::min(x0, x1)); x <= std::min(width_ - 1, std::max(x0, x1)); ++x)
      set(x, y, c);
}

void Canvas::line(double fx0, double fy0, double fx1, double fy1, Rgb c, int thickness) {
  if (!std::isfinite(fx0) || !std::isfinite(fy0) || !std::isfinite(fx1) || !std::isfinite(fy1)) return;
  // Clamp far-off points so a wild value cannot make the loop run forever.
  auto clamp = [](double v, int size) { return static_cast<int>(std::lround(std::clamp(v, -4.0 * size, 5.0 * size))); };
  int x0 = clamp(fx0, width_), y0 = clamp(fy0, height_), x1 = clamp(fx1, width_), y1 = clamp(fy1, height_);
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  while (true) {
    for (int oy = lo; oy <= hi; ++oy)
      for (int ox = lo; ox <= hi; ++ox) set(x0 + ox, y0 + oy, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

int Canvas::text(int x, int y, const std::string& text, Rgb c, bool upward) {
  for (size_t k = 0; k < text.size(); ++k) {
    const uint8_t* rows = font::glyph(text[k]);
    const int along = static_cast<int>(k) * font::kAdvance;
    for (int row = 0; row < font::kHeight; ++row)
      for (int col = 0; col < font::kWidth; ++col)
        if (rows[row] & (0x10 >> col)) {
          if (upward)
            set(x + row, y - along - col, c);
          else
            set(x + along + col, y + row, c);
        }
  }
  return font::text_width(text);
}

std::string Canvas::png() const {
  std::string bytes;
  stbi_write_png_to_func(
      [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
      },
      &bytes, width_, height_, 3, pixels_.data(), width_ * 3);
  return bytes;
}

void Canvas::write_png(const std::string& path) const { write_file_atomically(path, png()); }

}  // namespace ck
