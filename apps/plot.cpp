#include "apps/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/font.h"

namespace ck {

Rgb series_color(size_t i) {
  static const Rgb palette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34}, {23, 190, 207}};
  return palette[i % std::size(palette)];
}

namespace {

// Margins around the plotting area, in pixels.
constexpr int kLeft = 64, kRight = 140, kTop = 34, kBottom = 44;

std::string css(Rgb c) { return fmt::format("rgb({},{},{})", c.r, c.g, c.b); }

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

std::string tick_label(double v, bool log) {
  if (log) return fmt::format("{:g}", v);
  if (v == 0) return "0";
  const double a = std::fabs(v);
  return a >= 1e4 || a < 1e-3 ? fmt::format("{:.1e}", v) : fmt::format("{:.4g}", v);
}

// The data-to-pixel mapping of one plot.
struct Frame {
  double x0, x1, y0, y1;  // data range (log10 when log)
  bool log_x, log_y;
  int width, height;

  double tx(double x) const { return log_x ? std::log10(x) : x; }
  double ty(double y) const { return log_y ? std::log10(y) : y; }
  bool usable(double x, double y) const {
    return std::isfinite(x) && std::isfinite(y) && (!log_x || x > 0) && (!log_y || y > 0);
  }
  double px(double x) const { return kLeft + (tx(x) - x0) / (x1 - x0) * (width - kLeft - kRight); }
  double py(double y) const {
    const double v = std::clamp(ty(y), y0, y1);
    return height - kBottom - (v - y0) / (y1 - y0) * (height - kTop - kBottom);
  }
};

Frame frame_of(const LinePlot& p, int width, int height) {
  Frame f{0, 1, 0, 1, p.log_x, p.log_y, width, height};
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : p.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (f.usable(s.x[i], s.y[i])) {
        x0 = std::min(x0, f.tx(s.x[i])), x1 = std::max(x1, f.tx(s.x[i]));
        y0 = std::min(y0, f.ty(s.y[i])), y1 = std::max(y1, f.ty(s.y[i]));
      }
  for (const auto& [y, label] : p.guides)
    if (!p.log_y || y > 0) y0 = std::min(y0, f.ty(y)), y1 = std::max(y1, f.ty(y));
  if (p.y_min) y0 = p.y_fixed ? f.ty(*p.y_min) : std::max(y0, f.ty(*p.y_min));
  if (p.y_max) y1 = p.y_fixed ? f.ty(*p.y_max) : std::min(y1, f.ty(*p.y_max));
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (!std::isfinite(y0) || !std::isfinite(y1)) y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  if (!p.log_y && !p.y_fixed) {
    const double pad = 0.05 * (y1 - y0);
    y1 += pad;
    if (y0 != 0 || p.y_min) y0 -= pad;
  }
  f.x0 = x0, f.x1 = x1, f.y0 = y0, f.y1 = y1;
  return f;
}

// About five round tick values in [lo, hi] (data units, log10 when log).
std::vector<double> ticks(double lo, double hi, bool log) {
  std::vector<double> out;
  if (log) {
    const int a = static_cast<int>(std::ceil(lo - 1e-9)), b = static_cast<int>(std::floor(hi + 1e-9));
    const int step = std::max(1, (b - a + 5) / 6);
    for (int e = a; e <= b; e += step) out.push_back(std::pow(10.0, e));
    if (out.size() >= 3) return out;
    // Two decades or less: 1, 2 and 5 times the powers of ten.
    out.clear();
    for (int e = static_cast<int>(std::floor(lo)); e <= static_cast<int>(std::ceil(hi)); ++e)
      for (double m : {1.0, 2.0, 5.0}) {
        const double v = m * std::pow(10.0, e);
        if (std::log10(v) >= lo - 1e-9 && std::log10(v) <= hi + 1e-9) out.push_back(v);
      }
    return out;
  }
  const double span = hi - lo, raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    out.push_back(std::fabs(v) < 1e-12 * span ? 0 : v);
  return out;
}

// The finite runs of a series, as pixel points.
std::vector<std::vector<std::pair<double, double>>> segments(const Series& s, const Frame& f) {
  std::vector<std::vector<std::pair<double, double>>> out(1);
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!f.usable(s.x[i], s.y[i])) {
      if (!out.back().empty()) out.emplace_back();
      continue;
    }
    out.back().emplace_back(f.px(s.x[i]), f.py(s.y[i]));
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

}  // namespace

std::string plot_svg(const LinePlot& p, int width, int height) {
  const Frame f = frame_of(p, width, height);
  const int right = width - kRight, bottom = height - kBottom;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<title>{2}</title>\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{3}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{2}</text>\n",
      width, height, escape(p.title), kLeft);
  // Grid and ticks.
  for (double v : ticks(f.x0, f.x1, p.log_x)) {
    const double x = f.px(v);
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     x, kTop, bottom, bottom + 15, tick_label(v, p.log_x));
  }
  for (double v : ticks(f.y0, f.y1, p.log_y)) {
    const double y = height - kBottom - ((p.log_y ? std::log10(v) : v) - f.y0) / (f.y1 - f.y0) * (height - kTop - kBottom);
    s += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                     kLeft, y, right, kLeft - 6, y + 4, tick_label(v, p.log_y));
  }
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", kLeft,
                   kTop, right - kLeft, bottom - kTop);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (kLeft + right) / 2, height - 8,
                   escape(p.x_label));
  s += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (kTop + bottom) / 2, escape(p.y_label));
  for (const auto& [y, label] : p.guides) {
    if (p.log_y && y <= 0) continue;
    const double py = f.py(y);
    s += fmt::format("<line class=\"guide\" x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#999\" "
                     "stroke-dasharray=\"4 3\"/><text x=\"{2}\" y=\"{3:.1f}\" text-anchor=\"end\" fill=\"#666\">{4}</text>\n",
                     kLeft, py, right, py - 3, escape(label));
  }
  for (const auto& [x, label] : p.markers) {
    if (!f.usable(x, 1)) continue;
    const double px = f.px(x);
    s += fmt::format("<line class=\"marker\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#d62728\" "
                     "stroke-dasharray=\"5 3\"/><text x=\"{3:.1f}\" y=\"{4}\" fill=\"#d62728\">{5}</text>\n",
                     px, kTop, bottom, px + 3, kTop + 12, escape(label));
  }
  // Series, then the legend.
  int legend_y = kTop + 6;
  for (const Series& series : p.series) {
    const std::string stroke = css(series.color);
    for (const auto& seg : segments(series, f)) {
      std::string points;
      for (const auto& [x, y] : seg) points += fmt::format("{:.1f},{:.1f} ", x, y);
      if (!points.empty()) points.pop_back();
      s += fmt::format("<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" "
                       "stroke-width=\"{}\"{} points=\"{}\"/>\n",
                       escape(series.name), stroke, series.thin ? 1 : 2,
                       series.thin ? " stroke-opacity=\"0.35\"" : "", points);
    }
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"{7}/>"
                     "<text x=\"{4}\" y=\"{5}\">{6}</text>\n",
                     right + 8, legend_y, right + 26, stroke, right + 30, legend_y + 4, escape(series.name),
                     series.thin ? " stroke-opacity=\"0.35\"" : "");
    legend_y += 16;
  }
  s += "</svg>\n";
  return s;
}

Canvas plot_png(const LinePlot& p, int width, int height) {
  // The same picture as plot_svg, text included, in the 5x7 pixel font.
  const Frame f = frame_of(p, width, height);
  const int right = width - kRight, bottom = height - kBottom;
  Canvas image(width, height);
  const Rgb grid{229, 229, 229}, axis{51, 51, 51}, ink{0, 0, 0};
  const Rgb label{80, 80, 80}, guide{153, 153, 153}, marker{214, 39, 40};
  image.text(kLeft, 12, p.title, ink);
  for (double v : ticks(f.x0, f.x1, p.log_x)) {
    image.line(f.px(v), kTop, f.px(v), bottom, grid);
    const std::string t = tick_label(v, p.log_x);
    image.text(static_cast<int>(f.px(v)) - font::text_width(t) / 2, bottom + 6, t, label);
  }
  for (double v : ticks(f.y0, f.y1, p.log_y)) {
    const double y = height - kBottom - ((p.log_y ? std::log10(v) : v) - f.y0) / (f.y1 - f.y0) * (height - kTop - kBottom);
    image.line(kLeft, y, right, y, grid);
    const std::string t = tick_label(v, p.log_y);
    image.text(kLeft - 6 - font::text_width(t), static_cast<int>(y) - 3, t, label);
  }
  image.text((kLeft + right - font::text_width(p.x_label)) / 2, height - 16, p.x_label, ink);
  image.text(8, (kTop + bottom + font::text_width(p.y_label)) / 2, p.y_label, ink, /*upward=*/true);
  for (const auto& [y, text] : p.guides) {
    if (p.log_y && y <= 0) continue;
    const double py = f.py(y);
    image.line(kLeft, py, right, py, guide);
    image.text(right - font::text_width(text), static_cast<int>(py) - 10, text, {102, 102, 102});
  }
  for (const auto& [x, text] : p.markers)
    if (f.usable(x, 1)) {
      image.line(f.px(x), kTop, f.px(x), bottom, marker);
      image.text(static_cast<int>(f.px(x)) + 3, kTop + 4, text, marker);
    }
  image.line(kLeft, kTop, right, kTop, axis);
  image.line(kLeft, bottom, right, bottom, axis);
  image.line(kLeft, kTop, kLeft, bottom, axis);
  image.line(right, kTop, right, bottom, axis);
  int legend_y = kTop + 6;
  for (const Series& series : p.series) {
    Rgb c = series.color;
    if (series.thin) c = {static_cast<uint8_t>(255 - (255 - c.r) * 35 / 100), static_cast<uint8_t>(255 - (255 - c.g) * 35 / 100),
                          static_cast<uint8_t>(255 - (255 - c.b) * 35 / 100)};
    for (const auto& seg : segments(series, f))
      for (size_t i = 0; i < seg.size(); ++i) {
        const auto& a = seg[i];
        const auto& b = i + 1 < seg.size() ? seg[i + 1] : seg[i];
        image.line(a.first, a.second, b.first, b.second, c, series.thin ? 1 : 2);
      }
    // The swatch as the line is drawn (pale for a thin series); a name too
    // long for the margin wraps at its last space that fits.
    image.fill_rect(right + 8, legend_y - 2, right + 26, legend_y + 1, c);
    const size_t fits = static_cast<size_t>((width - right - 30) / font::kAdvance);
    std::string name = series.name;
    while (name.size() > fits) {
      size_t cut = name.rfind(' ', fits);
      if (cut == std::string::npos || cut == 0) cut = fits;
      image.text(right + 30, legend_y - 3, name.substr(0, cut), ink);
      name = name.substr(name[cut] == ' ' ? cut + 1 : cut);
      legend_y += 10;
    }
    image.text(right + 30, legend_y - 3, name, ink);
    legend_y += 16;
  }
  return image;
}

}  // namespace ck
