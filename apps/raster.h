#pragma once
// A small RGB raster for the PNG pictures (plots, sample grids): lines,
// rectangles, and PNG output through stb_image_write.
#include <cstdint>
#include <string>
#include <vector>


namespace ck {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return width_; }
  int height() const { return height_; }
  void set(int x, int y, Rgb c);
  Rgb get(int x, int y) const;
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  // inclusive corners, clipped
  // A line `thickness` pixels wide (Bresenham, stamped with a square brush).
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1);
  // Text in the 5x7 pixel font (core/font.h), clipped to the canvas: left
  // edge at x, top at y. Upward text is turned a quarter left (for a y-axis
  // label): it starts at (x, y) and runs up from there, glyph tops facing left.
  // Returns the length drawn along the text, font::text_width(text).
  int text(int x, int y, const std::string& text, Rgb c, bool upward = false);
  // PNG bytes (in memory, for embedding) or a file, written atomically.
  std::string png() const;
  void write_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;  // RGB, row-major
};

}  // namespace ck
