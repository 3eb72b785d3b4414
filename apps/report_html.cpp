#include "apps/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "apps/plot.h"
#include "apps/raster.h"
#include "apps/run_plots.h"
#include "data/image.h"
#include "data/preview.h"

namespace ck {

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
.muted { color: #666; } code { background: #f4f4f4; padding: 1px 4px; }
.finding { border-left: 5px solid #999; padding: 6px 12px; margin: 10px 0; background: #fafafa; }
.finding.problem { border-color: #d62728; } .finding.warning { border-color: #ff9f1c; } .finding.note { border-color: #1f77b4; }
.finding .sev { font-weight: bold; text-transform: uppercase; font-size: 12px; }
.finding ul { margin: 4px 0; } .finding .meta { font-size: 13px; color: #444; }
.healthy { border-left: 5px solid #2ca02c; padding: 6px 12px; background: #f3fbf3; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f4f4f4; } td.name { text-align: left; }
.samples { display: flex; flex-wrap: wrap; gap: 8px; }
.samples figure { margin: 0; text-align: center; font-size: 12px; width: 96px; }
.samples img { width: 84px; height: 84px; image-rendering: pixelated; border: 3px solid #2ca02c; }
.samples figure.wrong img { border-color: #d62728; }
)";

std::string name_of(const RunRecord& r, int k) {
  if (k >= 0 && k < static_cast<int>(r.class_names.size())) return r.class_names[k];
  return std::to_string(k);
}

std::string findings_section(const std::vector<Finding>& findings) {
  std::string s = "<section id=\"findings\"><h2>Diagnosis</h2>\n";
  if (!has_alarm(findings))
    s += "<p class=\"healthy\" id=\"verdict\">No problems or warnings: the run looks healthy.</p>\n";
  for (const Finding& f : findings) {
    s += fmt::format("<div class=\"finding {0}\" data-id=\"{1}\"><span class=\"sev\">{0}</span> <code>{1}</code> {2}\n<ul>",
                     severity_name(f.severity), html_escape(f.id), html_escape(f.title));
    for (const Evidence& e : f.evidence) s += "<li>" + html_escape(e.shown) + "</li>";
    s += "</ul>\n";
    if (!f.threshold.empty()) s += "<div class=\"meta\"><b>Rule:</b> " + html_escape(f.threshold) + "</div>\n";
    if (!f.source.empty()) s += "<div class=\"meta\"><b>Source:</b> " + html_escape(f.source) + "</div>\n";
    if (!f.fix.empty()) s += "<div class=\"meta\"><b>Try:</b> " + html_escape(f.fix) + "</div>\n";
    s += "</div>\n";
  }
  return s + "</section>\n";
}

std::string curves_section(const RunRecord& r) {
  std::string s = "<section id=\"curves\"><h2>Training curves</h2>\n<div class=\"plots\">\n";
  for (const NamedPlot& p : run_plots(r))
    s += fmt::format("<div class=\"plot-box\" id=\"plot-{}\">\n{}</div>\n", p.name, plot_svg(p.plot, 540, 320));
  return s + "</div></section>\n";
}

std::string confusion_section(const RunRecord& r) {
  if (!r.confusion || r.confusion->classes == 0) return "";
  const Confusion& m = *r.confusion;
  const int K = m.classes;
  int64_t largest = 1;
  for (int64_t c : m.counts) largest = std::max(largest, c);
  std::string s = fmt::format("<section id=\"confusion\"><h2>Confusion matrix</h2>\n<p class=\"muted\">On the {} "
                              "data after the last epoch; rows are true classes, columns predictions.</p>\n"
                              "<table><tr><th></th>",
                              html_escape(m.source));
  for (int p = 0; p < K; ++p) s += fmt::format("<th>{}</th>", p);
  s += "<th>recall</th></tr>\n";
  for (int t = 0; t < K; ++t) {
    int64_t total = 0;
    for (int p = 0; p < K; ++p) total += m.counts[t * K + p];
    s += fmt::format("<tr><td class=\"name\">{} {}</td>", t, html_escape(name_of(r, t)));
    for (int p = 0; p < K; ++p) {
      const int64_t c = m.counts[t * K + p];
      const double shade = static_cast<double>(c) / largest;
      const std::string bg = t == p ? fmt::format("rgba(44,160,44,{:.2f})", shade) : fmt::format("rgba(214,39,40,{:.2f})", shade);
      s += fmt::format("<td style=\"background:{}\">{}</td>", bg, c);
    }
    s += total ? fmt::format("<td>{:.3f}</td></tr>\n", static_cast<double>(m.counts[t * K + t]) / total) : "<td>-</td></tr>\n";
  }
  return s + "</table></section>\n";
}

std::string samples_section(const RunRecord& r) {
  if (r.samples.empty() || r.samples.rank() != 4) return "";
  std::string s =
      "<section id=\"samples\"><h2>Sample inputs</h2>\n<p class=\"muted\">Training inputs as they entered the "
      "model (after preprocessing, shown min..max), with the model's prediction after the last epoch.</p>\n"
      "<div class=\"samples\">\n";
  for (int64_t i = 0; i < r.samples.dim(0); ++i) {
    const int truth = i < static_cast<int64_t>(r.sample_labels.size()) ? r.sample_labels[i] : -1;
    const std::vector<uint8_t> bytes = encode_png(render_samples(
        r.samples.slice(i, 1), {static_cast<float>(std::max(truth, 0))}, 1,
        std::max<int>(1, 84 / static_cast<int>(r.samples.dim(1)))));
    const std::string png(bytes.begin(), bytes.end());
    const int predicted = i < static_cast<int64_t>(r.sample_predictions.size()) ? r.sample_predictions[i] : -1;
    const bool known = truth >= 0 && predicted >= 0 && r.classes > 0;
    s += fmt::format("<figure class=\"sample{}\"><img alt=\"sample {}\" src=\"data:image/png;base64,{}\">"
                     "<figcaption>true: {}<br>predicted: {}</figcaption></figure>\n",
                     known && truth != predicted ? " wrong" : "", i + 1, base64(png),
                     html_escape(r.classes > 0 ? name_of(r, truth) : "-"),
                     html_escape(known ? name_of(r, predicted) : "-"));
  }
  return s + "</div></section>\n";
}

std::string data_section(const RunRecord& r) {
  std::string s = "<section id=\"data\"><h2>Data</h2>\n";
  const InputStats& in = r.input_stats;
  if (in.samples > 0) {
    s += fmt::format("<p>Inputs as they entered the model ({} samples of {}): {}; {}.</p>\n", in.samples,
                     html_escape(shape_compact(in.sample_shape)), html_escape(in.describe()),
                     html_escape(in.describe_range()));
    s += "<table><tr><th>channel</th><th>min</th><th>max</th><th>mean</th><th>std</th></tr>\n";
    for (size_t c = 0; c < in.channels.size(); ++c) {
      const ChannelStats& ch = in.channels[c];
      s += fmt::format("<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", c,
                       short_number(ch.min), short_number(ch.max), short_number(ch.mean), short_number(ch.std));
    }
    s += "</table>\n";
  }
  if (!r.label_counts.empty()) {
    const int64_t total = std::accumulate(r.label_counts.begin(), r.label_counts.end(), int64_t{0});
    const int64_t most = *std::max_element(r.label_counts.begin(), r.label_counts.end());
    s += "<p>Labels seen in the first epoch:</p>\n<table><tr><th>class</th><th>samples</th><th>share</th><th></th></tr>\n";
    for (size_t k = 0; k < r.label_counts.size(); ++k) {
      const int64_t n = r.label_counts[k];
      s += fmt::format("<tr><td class=\"name\">{} {}</td><td>{}</td><td>{:.1f}%</td><td class=\"name\">"
                       "<div style=\"background:#1f77b4;height:10px;width:{}px\"></div></td></tr>\n",
                       k, html_escape(name_of(r, static_cast<int>(k))), n, total ? 100.0 * n / total : 0.0,
                       most ? 200 * n / most : 0);
    }
    s += "</table>\n";
  }
  return s + "</section>\n";
}

std::string layers_section(const RunRecord& r) {
  if (r.epochs.empty()) return "";
  const EpochRecord& e = r.epochs.back();
  std::string s = fmt::format(
      "<section id=\"layers\"><h2>Layer health (epoch {})</h2>\n<p class=\"muted\">Activations over {} training "
      "inputs (inference mode); gradient norms and update/weight ratios are epoch means.</p>\n<table><tr>"
      "<th>layer</th><th>output</th><th>act. mean</th><th>act. std</th><th>near zero</th><th>dead units</th>"
      "<th>weight norm</th><th>grad norm</th><th>update ratio</th></tr>\n",
      e.epoch + 1, e.predicted.empty() ? std::string("the probe's") : std::to_string(std::accumulate(e.predicted.begin(), e.predicted.end(), int64_t{0})));
  auto cell = [](double v) { return std::isnan(v) ? std::string("") : short_number(v); };
  for (size_t i = 0; i < r.layers.size() && i < e.layers.size(); ++i) {
    const LayerHealth& h = e.layers[i];
    s += fmt::format("<tr><td class=\"name\">{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0f}%</td><td>{}</td>"
                     "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
                     html_escape(r.layers[i].name), html_escape(r.layers[i].activation),
                     html_escape(shape_compact(r.layers[i].output_shape)), cell(h.act_mean), cell(h.act_std),
                     100 * h.near_zero, h.dead_fraction >= 0 ? fmt::format("{:.0f}%", 100 * h.dead_fraction) : "",
                     cell(h.param_norm), cell(h.grad_norm), cell(h.update_ratio));
  }
  return s + "</table></section>\n";
}

}  // namespace

std::string run_report_html(const RunRecord& r, const std::vector<Finding>& findings) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>convkit run report</title>\n";
  s += fmt::format("<style>{}</style></head><body>\n", kStyle);
  s += fmt::format("<h1>convkit run report</h1>\n<p class=\"muted\" id=\"summary\"><code>{}</code> on {} &middot; {} "
                   "&middot; {} of {} epochs, {} steps each &middot; {}</p>\n",
                   html_escape(r.model_spec), html_escape(r.config.value("data", std::string("?"))),
                   html_escape(r.config.value("optimizer", r.optimizer)), r.epochs.size(), r.epochs_planned,
                   r.steps_per_epoch, html_escape(r.status));
  s += findings_section(findings);
  s += curves_section(r);
  s += confusion_section(r);
  s += samples_section(r);
  s += data_section(r);
  s += layers_section(r);
  s += "<section id=\"config\"><h2>Configuration</h2>\n<details><summary>run configuration (JSON)</summary><pre>" +
       html_escape(r.config.dump(2)) + "</pre></details></section>\n";
  s += "</body></html>\n";
  return s;
}

}  // namespace ck
