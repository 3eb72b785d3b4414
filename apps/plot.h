#pragma once
// Line plots written by hand: SVG text (with title, axes, ticks and legend)
// and the same lines rasterized to PNG (apps/raster.h). Used by convkit
// plot, report and lr-find.
//
// In the SVG each series is a <polyline class="series" data-series="NAME">
// whose points are the series' finite values (a NaN or Inf splits the line),
// so a reader (or a test) can find every curve by name.
#include <optional>
#include <string>
#include <vector>

#include "apps/raster.h"

namespace ck {

struct Series {
  std::string name;
  std::vector<double> x, y;
  Rgb color;
  bool thin = false;  // per-step noise drawn light under per-epoch lines
};

struct LinePlot {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
  std::optional<double> y_min, y_max;       // clip the axis (a diverged tail, say)
  bool y_fixed = false;                     // the axis is exactly [y_min, y_max] (accuracy: 0..1)
  std::vector<std::pair<double, std::string>> markers;  // vertical lines at x, labelled
  std::vector<std::pair<double, std::string>> guides;   // horizontal lines at y, labelled
};

std::string plot_svg(const LinePlot& plot, int width = 640, int height = 360);
Canvas plot_png(const LinePlot& plot, int width = 640, int height = 360);

// A color per series index, distinct on white.
Rgb series_color(size_t index);

}  // namespace ck
