// load_images: the header pass, the size and channel decisions, and the
// parallel decode pass (data/folder.h).
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/format.h"
#include "core/parallel.h"
#include "data/folder.h"

namespace ck {

namespace {

std::string size_str(std::pair<int, int> s) { return fmt::format("{}x{}", s.first, s.second); }

struct SizeRange {
  int min_h = 1 << 30, max_h = 0, min_w = 1 << 30, max_w = 0;
};
SizeRange size_range(const std::map<std::pair<int, int>, int64_t>& sizes) {
  SizeRange r;
  for (const auto& [s, count] : sizes) {
    r.min_h = std::min(r.min_h, s.first), r.max_h = std::max(r.max_h, s.first);
    r.min_w = std::min(r.min_w, s.second), r.max_w = std::max(r.max_w, s.second);
  }
  return r;
}

// Applies the bad-image policy to the files whose `errors` entry is set:
// stop on the first (in file order), or warn and mark them skipped.
void handle_bad(const std::vector<std::string>& errors, bool skip, std::vector<char>& bad,
                ImageLoadReport& report) {
  std::vector<size_t> failed;
  for (size_t i = 0; i < errors.size(); ++i)
    if (!errors[i].empty() && !bad[i]) failed.push_back(i);
  if (failed.empty()) return;
  if (!skip)
    fail("{}{}; pass --on-bad-image skip to leave bad images out with a warning", errors[failed[0]],
         failed.size() > 1 ? fmt::format(" (and {} more bad images)", failed.size() - 1) : "");
  for (size_t k = 0; k < failed.size(); ++k) {
    bad[failed[k]] = 1;
    if (k < 20) report.warnings.push_back("skipped: " + errors[failed[k]]);
  }
  if (failed.size() > 20)
    report.warnings.push_back(fmt::format("skipped {} more bad images", failed.size() - 20));
  report.skipped += static_cast<int64_t>(failed.size());
}

}  // namespace

Dataset load_images(const ImageList& list, const ImageLoadOptions& o, ImageLoadReport& report) {
  const int64_t n = static_cast<int64_t>(list.paths.size());
  if (n == 0) fail("{} holds no images", list.description);
  // Pass 1: headers only.
  std::vector<ImageInfo> infos(n);
  std::vector<std::string> errors(n);
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        infos[i] = probe_image(list.paths[i], o.limits);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  });
  std::vector<char> bad(n, 0);
  handle_bad(errors, o.skip_bad, bad, report);
  int64_t first = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (bad[i]) continue;
    if (first < 0) first = i;
    ++report.sizes[{infos[i].height, infos[i].width}];
    ++report.channels[infos[i].channels];
    ++report.formats[infos[i].format];
  }
  if (first < 0) fail("{}: none of its {} images could be read", list.description, n);

  // Channels: as asked, else as the first image.
  int channels = o.channels;
  if (channels == 0) {
    channels = infos[first].channels;
    std::string hint;
    if (channels >= 3) {
      try {
        if (is_gray_rgb(decode_image(list.paths[first], o.limits)))
          hint = "; its R, G and B are equal: --channels 1 would lose nothing";
      } catch (const Error&) {
      }
    }
    report.notes.push_back(fmt::format(
        "channels: {} ({}), as the first image {}{}{}", channels, channels_name(channels),
        list.paths[first], report.channels.size() > 1 ? "; other images are converted" : "", hint));
  } else if (channels < 1 || channels > 4) {
    fail("--channels must be 1 (gray), 3 (RGB) or 4 (RGBA), got {}", channels);
  }

  // Size: as asked (--resize, or the training size for a test split), else
  // the one size every image has.
  std::pair<int, int> size;
  if (o.size) {
    size = *o.size;
    if (!o.resize && !o.mixed_sizes_ok)
      for (const auto& [s, count] : report.sizes)
        if (s != size)
          fail(
              "{}: {} image{} {}, but the training images are {}; pass --resize {} to resize "
              "them all",
              list.description, count, count == 1 ? " is" : "s are", size_str(s), size_str(size),
              size_str(size));
  } else if (report.sizes.size() == 1) {
    size = report.sizes.begin()->first;
  } else {
    const SizeRange r = size_range(report.sizes);
    std::vector<int> heights, widths;
    for (const auto& [s, count] : report.sizes)
      heights.insert(heights.end(), count, s.first), widths.insert(widths.end(), count, s.second);
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    std::nth_element(widths.begin(), widths.begin() + widths.size() / 2, widths.end());
    const std::pair<int, int> median = {heights[heights.size() / 2], widths[widths.size() / 2]};
    if (!o.mixed_sizes_ok)
      fail(
          "{}: the images have different sizes: heights {} to {}, widths {} to {} ({} distinct "
          "sizes). A model takes one input size: pass --resize HxW to resize them all (e.g. "
          "--resize {}, the median size; bilinear, or --resize-method nearest)",
          list.description, r.min_h, r.max_h, r.min_w, r.max_w, report.sizes.size(),
          size_str(median));
    size = median;
    report.notes.push_back(
        fmt::format("sizes differ: stored at the median size {} for these figures "
                    "only; training needs --resize",
                    size_str(size)));
  }
  const bool resizing = report.sizes.size() > 1 || report.sizes.begin()->first != size;
  if (resizing) {
    const SizeRange r = size_range(report.sizes);
    report.notes.push_back(fmt::format("resized to {} ({}), from heights {}..{} and widths {}..{}",
                                       size_str(size), resize_method_name(o.method), r.min_h,
                                       r.max_h, r.min_w, r.max_w));
  }

  // Pass 2: decode everything, in parallel. Kept when it fits in the cache.
  const int64_t sample = int64_t{size.first} * size.second * channels;
  int64_t good = 0;
  for (int64_t i = 0; i < n; ++i) good += !bad[i];
  const bool cache = good * sample <= o.cache_limit_bytes;
  std::vector<uint8_t> pixels(cache ? n * sample : 0);
  std::fill(errors.begin(), errors.end(), std::string());
  parallel_for(n, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (bad[i]) continue;
      try {
        Image image = fit_image(decode_image(list.paths[i], o.limits), channels, size.first,
                                size.second, o.method);
        if (cache) std::copy(image.pixels.begin(), image.pixels.end(), pixels.begin() + i * sample);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  });
  handle_bad(errors, o.skip_bad, bad, report);

  Dataset d;
  d.sample_shape = {size.first, size.second, channels};
  d.class_names = list.class_names;
  d.description = list.description;
  d.sorted_by_class = list.sorted_by_class;
  d.file_resize = o.method;
  std::vector<int64_t> per_class(list.class_names.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (bad[i]) continue;
    if (cache)
      d.pixels.insert(d.pixels.end(), pixels.begin() + i * sample,
                      pixels.begin() + (i + 1) * sample);
    else
      d.files.push_back(list.paths[i]);
    d.targets.push_back(static_cast<float>(list.labels[i]));
    ++per_class[list.labels[i]];
  }
  if (d.targets.empty()) fail("{}: none of its {} images could be decoded", list.description, n);
  for (size_t k = 0; k < per_class.size(); ++k)
    if (per_class[k] == 0 && report.skipped > 0)
      report.warnings.push_back(
          fmt::format("class \"{}\" has no readable images left", list.class_names[k]));
  if (!cache)
    report.notes.push_back(
        fmt::format("streamed: the decoded images ({} MiB) exceed --cache-limit, so each batch "
                    "decodes its files",
                    good * sample >> 20));
  return d;
}

}  // namespace ck
