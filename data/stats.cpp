#include "data/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/format.h"
#include "core/parallel.h"

namespace ck {

ChannelSummary channel_summary(const Dataset& data) {
  const int64_t size = data.sample_size();
  const int64_t channels = data.is_image() ? data.sample_shape[2] : size;
  struct Part {
    std::vector<double> sum, sumsq;
    std::vector<float> lo, hi;
    std::vector<int64_t> count, missing;
  };
  constexpr int kParts = 32;
  std::vector<Part> parts(kParts);
  parallel_parts(data.size(), kParts, [&](int p, int64_t begin, int64_t end) {
    Part& s = parts[p];
    s.sum.assign(channels, 0), s.sumsq.assign(channels, 0);
    s.lo.assign(channels, INFINITY), s.hi.assign(channels, -INFINITY);
    s.count.assign(channels, 0), s.missing.assign(channels, 0);
    std::vector<float> x(size);
    for (int64_t i = begin; i < end; ++i) {
      data.copy_sample(i, x.data());
      for (int64_t k = 0; k < size; ++k) {
        const int64_t c = k % channels;
        if (std::isnan(x[k])) { ++s.missing[c]; continue; }
        s.sum[c] += x[k], s.sumsq[c] += double(x[k]) * x[k], ++s.count[c];
        s.lo[c] = std::min(s.lo[c], x[k]), s.hi[c] = std::max(s.hi[c], x[k]);
      }
    }
  });
  ChannelSummary out;
  out.min.assign(channels, INFINITY), out.max.assign(channels, -INFINITY);
  out.mean.assign(channels, 0), out.std.assign(channels, 0);
  out.count.assign(channels, 0), out.missing.assign(channels, 0);
  std::vector<double> sum(channels, 0), sumsq(channels, 0);
  for (const Part& s : parts) {
    if (s.sum.empty()) continue;
    for (int64_t c = 0; c < channels; ++c) {
      sum[c] += s.sum[c], sumsq[c] += s.sumsq[c];
      out.count[c] += s.count[c], out.missing[c] += s.missing[c];
      out.min[c] = std::min(out.min[c], s.lo[c]), out.max[c] = std::max(out.max[c], s.hi[c]);
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    if (!out.count[c]) continue;
    out.mean[c] = sum[c] / out.count[c];
    out.std[c] = std::sqrt(std::max(0.0, sumsq[c] / out.count[c] - out.mean[c] * out.mean[c]));
  }
  return out;
}

namespace {

std::string class_table(const Dataset& d) {
  std::string s;
  const std::vector<int64_t> counts = d.class_counts();
  int64_t lo = INT64_MAX, hi = 0, total = 0;
  size_t width = 5;
  for (size_t k = 0; k < counts.size(); ++k) {
    lo = std::min(lo, counts[k]), hi = std::max(hi, counts[k]), total += counts[k];
    width = std::max(width, d.class_names[k].size());
  }
  for (size_t k = 0; k < counts.size(); ++k) {
    const double share = total ? double(counts[k]) / total : 0;
    s += fmt::format("    {:>3} {:<{}} {:>9} {:6.1f}%  {}\n", k, d.class_names[k], width, with_commas(counts[k]),
                     100 * share, std::string(static_cast<size_t>(std::lround(share * 40)), '#'));
  }
  if (lo == 0)
    s += "  imbalance ratio: infinite (a class has no samples)\n";
  else
    s += fmt::format("  imbalance ratio: {:.2f} (largest class / smallest){}\n", double(hi) / lo,
                     double(hi) / lo >= 3 ? "; consider --class-weight balanced or --resample over" : "");
  return s;
}

}  // namespace

std::string format_stats(const DataSplits& splits) {
  const Dataset& d = splits.train;
  std::string s = fmt::format("Data: {}\n", d.description);
  s += fmt::format("  samples:        {} training{}\n", with_commas(d.size()),
                   splits.test ? fmt::format(", {} test", with_commas(splits.test->size())) : "");
  s += fmt::format("  stored as:      {}{}\n", shape_compact(d.sample_shape),
                   d.streamed() ? " (decoded from the files for every batch)"
                   : d.is_u8()  ? " (8-bit values)"
                                : " (float values)");
  for (const auto& note : splits.notes) s += "  note:           " + note + "\n";
  if (!d.class_names.empty()) {
    s += "Classes (training split):\n" + class_table(d);
    if (splits.test) s += "Classes (test split):\n" + class_table(*splits.test);
  } else {
    s += "  target:         " + describe_targets(d) + " (training split)" +
         (splits.test ? "; " + describe_targets(*splits.test) + " (test split)" : "") + "\n";
  }
  if (!splits.images.sizes.empty()) {
    const auto& sizes = splits.images.sizes;
    int min_h = 1 << 30, max_h = 0, min_w = 1 << 30, max_w = 0;
    std::vector<std::pair<int64_t, std::pair<int, int>>> common;
    for (const auto& [size, count] : sizes) {
      min_h = std::min(min_h, size.first), max_h = std::max(max_h, size.first);
      min_w = std::min(min_w, size.second), max_w = std::max(max_w, size.second);
      common.push_back({-count, size});
    }
    std::sort(common.begin(), common.end());
    s += fmt::format("Image files (training split):\n  sizes:          {} distinct; heights {} to {}, widths {} to {}\n",
                     sizes.size(), min_h, max_h, min_w, max_w);
    std::string top;
    for (size_t i = 0; i < common.size() && i < 5; ++i)
      top += fmt::format("{}{}x{} ({})", i ? ", " : "", common[i].second.first, common[i].second.second,
                         with_commas(-common[i].first));
    s += "  most common:    " + top + "\n";
    std::string ch, formats;
    for (const auto& [c, count] : splits.images.channels)
      ch += fmt::format("{}{} {}", ch.empty() ? "" : ", ", channels_name(c), with_commas(count));
    for (const auto& [f, count] : splits.images.formats)
      formats += fmt::format("{}{} {}", formats.empty() ? "" : ", ", f, with_commas(count));
    s += "  channels:       " + ch + "\n  formats:        " + formats + "\n";
    if (splits.images.skipped) s += fmt::format("  skipped:        {} bad images\n", splits.images.skipped);
  }
  const ChannelSummary c = channel_summary(d);
  const bool per_column = !d.is_image();
  s += per_column ? "Columns (training split, missing values left out):\n" : "Values per channel (stored training samples, before scaling):\n";
  s += fmt::format("    {:<16} {:>10} {:>10} {:>10} {:>10} {:>9}\n", per_column ? "column" : "channel", "min",
                   "max", "mean", "std", "missing");
  const int64_t channels = static_cast<int64_t>(c.min.size());
  for (int64_t k = 0; k < channels && k < 64; ++k) {
    std::string name = per_column ? (k < static_cast<int64_t>(d.columns.size()) ? d.columns[k] : std::to_string(k))
                                  : (channels == 3 ? std::string(1, "RGB"[k]) : std::to_string(k));
    s += fmt::format("    {:<16} {:>10.4g} {:>10.4g} {:>10.4g} {:>10.4g} {:>9}\n", name.substr(0, 16), c.min[k],
                     c.max[k], c.mean[k], c.std[k], with_commas(c.missing[k]));
  }
  if (channels > 64) s += fmt::format("    ... {} more\n", channels - 64);
  int64_t missing = 0;
  for (int64_t m : c.missing) missing += m;
  if (per_column)
    s += fmt::format("  missing values: {} in all{}\n", with_commas(missing),
                     missing ? "; training needs --impute mean, median, most-frequent or constant:VALUE" : "");
  return s;
}

}  // namespace ck
