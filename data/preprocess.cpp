#include "data/preprocess.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/parallel.h"
#include "data/csv.h"

namespace ck {

std::string scaling_name(Scaling s) {
  switch (s) {
    case Scaling::none: return "none";
    case Scaling::unit: return "1/255";
    case Scaling::minmax: return "minmax";
    case Scaling::zscore: return "zscore";
    case Scaling::caffe: return "caffe";
    case Scaling::tf: return "tf";
    case Scaling::torch: return "torch";
  }
  return "?";
}

Scaling parse_scaling(const std::string& name) {
  if (name == "none") return Scaling::none;
  if (name == "1/255" || name == "unit") return Scaling::unit;
  if (name == "minmax" || name == "min-max") return Scaling::minmax;
  if (name == "zscore" || name == "z-score" || name == "standardize") return Scaling::zscore;
  if (name == "caffe") return Scaling::caffe;
  if (name == "tf") return Scaling::tf;
  if (name == "torch") return Scaling::torch;
  fail("unknown scaling \"{}\": choose none, 1/255, minmax, zscore, caffe, tf or torch", name);
}

std::string impute_name(Impute i) {
  switch (i) {
    case Impute::none: return "none";
    case Impute::mean: return "mean";
    case Impute::median: return "median";
    case Impute::most_frequent: return "most-frequent";
    case Impute::constant: return "constant";
  }
  return "?";
}

Impute parse_impute(const std::string& text, float& constant) {
  if (text == "none") return Impute::none;
  if (text == "mean") return Impute::mean;
  if (text == "median") return Impute::median;
  if (text == "most-frequent" || text == "most_frequent" || text == "mode") return Impute::most_frequent;
  if (text.rfind("constant", 0) == 0) {
    const std::string value = text.size() > 9 ? text.substr(9) : "";
    double v;
    if ((text.size() > 8 && text[8] != ':' && text[8] != '=') || !parse_number(value, v))
      fail("--impute {}: write the fill value as constant:VALUE, e.g. constant:0", text);
    constant = static_cast<float>(v);
    return Impute::constant;
  }
  fail("unknown --impute \"{}\": choose none, mean, median, most-frequent or constant:VALUE", text);
}

Shape Preprocessing::input_shape() const {
  if (crop_height > 0 && stored_shape.size() == 3)
    return {crop_height, crop_width, stored_shape[2]};
  return stored_shape;
}

void Preprocessing::set_geometry(const Dataset& data) {
  images = data.is_image();
  stored_shape = data.sample_shape;
  columns = data.columns;
  class_names = data.class_names;
  if (images) channel_order = channels_name(static_cast<int>(stored_shape[2]));
}

void Preprocessing::fit(const Dataset& train) {
  std::vector<int64_t> all(train.size());
  for (int64_t i = 0; i < train.size(); ++i) all[i] = i;
  fit(train, all);
}

namespace {

// Per-channel sums over samples, split in a fixed number of parts and reduced
// in part order, so the statistics are bit-identical whatever the threads.
struct ChannelStats {
  std::vector<double> sum, sumsq;
  std::vector<float> lo, hi;
  int64_t count = 0;  // values per channel
};

ChannelStats channel_stats(const Dataset& data, const std::vector<int64_t>& idx,
                           const Preprocessing& p, int64_t channels) {
  const int64_t size = data.sample_size();
  constexpr int kParts = 32;
  std::vector<ChannelStats> parts(kParts);
  parallel_parts(static_cast<int64_t>(idx.size()), kParts, [&](int part, int64_t begin, int64_t end) {
    ChannelStats& s = parts[part];
    s.sum.assign(channels, 0), s.sumsq.assign(channels, 0);
    s.lo.assign(channels, INFINITY), s.hi.assign(channels, -INFINITY);
    std::vector<float> x(size);
    for (int64_t i = begin; i < end; ++i) {
      data.copy_sample(idx[i], x.data());
      p.impute_missing(x.data(), 1);
      for (int64_t k = 0; k < size; ++k) {
        const int64_t c = k % channels;
        s.sum[c] += x[k], s.sumsq[c] += double(x[k]) * x[k];
        s.lo[c] = std::min(s.lo[c], x[k]), s.hi[c] = std::max(s.hi[c], x[k]);
      }
    }
    s.count = (end - begin) * (size / channels);
  });
  ChannelStats total;
  total.sum.assign(channels, 0), total.sumsq.assign(channels, 0);
  total.lo.assign(channels, INFINITY), total.hi.assign(channels, -INFINITY);
  for (const ChannelStats& s : parts) {
    if (s.sum.empty()) continue;
    for (int64_t c = 0; c < channels; ++c) {
      total.sum[c] += s.sum[c], total.sumsq[c] += s.sumsq[c];
      total.lo[c] = std::min(total.lo[c], s.lo[c]), total.hi[c] = std::max(total.hi[c], s.hi[c]);
    }
    total.count += s.count;
  }
  return total;
}

float impute_value(std::vector<float>& v, Impute how) {
  if (how == Impute::mean) {
    double s = 0;
    for (float x : v) s += x;
    return static_cast<float>(s / v.size());
  }
  std::sort(v.begin(), v.end());
  if (how == Impute::median) {
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : static_cast<float>((double(v[n / 2 - 1]) + v[n / 2]) / 2);
  }
  // Most frequent; ties go to the smallest value, as scikit-learn's SimpleImputer.
  float best = v[0];
  size_t best_run = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j < v.size() && v[j] == v[i]) ++j;
    if (j - i > best_run) best_run = j - i, best = v[i];
    i = j;
  }
  return best;
}

}  // namespace

void Preprocessing::fit(const Dataset& data, const std::vector<int64_t>& idx) {
  if (stored_shape.empty()) set_geometry(data);
  if (idx.empty()) fail("no training samples to fit the preprocessing on");
  fitted_on = static_cast<int64_t>(idx.size());
  const int64_t size = data.sample_size();
  fill.clear();
  if (impute != Impute::none) {
    if (data.is_u8()) {
      fill.assign(size, 0.0f);  // 8-bit data has no missing values
    } else {
      fill.resize(size);
      std::vector<float> column;
      for (int64_t j = 0; j < size; ++j) {
        if (impute == Impute::constant) { fill[j] = impute_constant; continue; }
        column.clear();
        for (int64_t i : idx) {
          const float v = data.values[i * size + j];
          if (!std::isnan(v)) column.push_back(v);
        }
        if (column.empty())
          fail("column \"{}\" has no values in the {} training rows, so there is no {} to fill "
               "its gaps with; use --impute constant:VALUE or drop the column",
               j < static_cast<int64_t>(columns.size()) ? columns[j] : std::to_string(j), idx.size(),
               impute_name(impute));
        fill[j] = impute_value(column, impute);
      }
    }
  }
  const int64_t channels = images ? stored_shape[2] : size;
  channel_order = images ? channels_name(static_cast<int>(channels)) : "";
  auto need_rgb = [&](const char* mode) {
    if (!images || channels != 3)
      fail("--scale {} expects RGB images (3 channels, values 0..255), got {}{}", mode,
           shape_compact(stored_shape), images ? "; pass --channels 3" : "");
  };
  switch (scaling) {
    case Scaling::none: offset = {0}, divisor = {1}; break;
    case Scaling::unit: offset = {0}, divisor = {255}; break;
    case Scaling::tf: offset = {127.5f}, divisor = {127.5f}; break;
    case Scaling::caffe:
      need_rgb("caffe");
      channel_order = "BGR";
      offset = {103.939f, 116.779f, 123.68f}, divisor = {1, 1, 1};
      break;
    case Scaling::torch:
      need_rgb("torch");
      offset = {0.485f * 255, 0.456f * 255, 0.406f * 255};
      divisor = {0.229f * 255, 0.224f * 255, 0.225f * 255};
      break;
    case Scaling::minmax:
    case Scaling::zscore: {
      const ChannelStats s = channel_stats(data, idx, *this, channels);
      if (scaling == Scaling::minmax && images) {
        // The whole array, as (images - images.min()) / (images.max() - images.min()).
        const float lo = *std::min_element(s.lo.begin(), s.lo.end());
        const float hi = *std::max_element(s.hi.begin(), s.hi.end());
        offset = {lo}, divisor = {hi > lo ? hi - lo : 1.0f};
        break;
      }
      offset.assign(channels, 0), divisor.assign(channels, 1);
      for (int64_t c = 0; c < channels; ++c) {
        if (scaling == Scaling::minmax) {
          offset[c] = s.lo[c], divisor[c] = s.hi[c] > s.lo[c] ? s.hi[c] - s.lo[c] : 1.0f;
        } else {
          const double mean = s.sum[c] / s.count;
          const double var = std::max(0.0, s.sumsq[c] / s.count - mean * mean);  // population, as np.std
          offset[c] = static_cast<float>(mean);
          // A constant channel keeps its scale (scikit-learn does the same).
          divisor[c] = var > 1e-14 ? static_cast<float>(std::sqrt(var)) : 1.0f;
        }
      }
      break;
    }
  }
}

void Preprocessing::impute_missing(float* x, int64_t count) const {
  const int64_t size = shape_size(stored_shape);
  for (int64_t i = 0; i < count; ++i, x += size)
    for (int64_t j = 0; j < size; ++j)
      if (std::isnan(x[j])) {
        if (fill.empty())
          fail("feature \"{}\" is missing (NaN) and the preprocessing has no imputer",
               j < static_cast<int64_t>(columns.size()) ? columns[j] : std::to_string(j));
        x[j] = fill[j];
      }
}

void Preprocessing::finish_geometry(const float* stored, float* out) const {
  if (crop_height > 0 && images) {
    crop_resize(stored, static_cast<int>(stored_shape[0]), static_cast<int>(stored_shape[1]),
                static_cast<int>(stored_shape[2]), out, crop_height, crop_width);
  } else {
    std::copy_n(stored, shape_size(stored_shape), out);
  }
}

void Preprocessing::scale(float* x, int64_t count, int64_t sample_size) const {
  const int64_t n = count * sample_size;
  switch (scaling) {
    case Scaling::none: return;
    // The fixed modes need no fitting (a Preprocessing set up by hand works).
    case Scaling::unit:
      for (int64_t i = 0; i < n; ++i) x[i] /= 255.0f;  // as images / 255.0 in the articles
      return;
    case Scaling::tf:
      for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - 127.5f) / 127.5f;
      return;
    default: break;
  }
  if (offset.size() == 1) {
    if (scaling == Scaling::caffe || scaling == Scaling::torch)
      fail("internal: the {} scaling was used before fit()", scaling_name(scaling));
    const float o = offset[0], d = divisor[0];
    for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - o) / d;
    return;
  }
  const int64_t channels = static_cast<int64_t>(offset.size());
  const bool bgr = channel_order == "BGR";
  for (int64_t i = 0; i + channels <= n; i += channels) {
    float* px = x + i;
    if (bgr) std::swap(px[0], px[2]);
    for (int64_t c = 0; c < channels; ++c) px[c] = (px[c] - offset[c]) / divisor[c];
  }
}

void Preprocessing::apply(float* x, int64_t count, int64_t sample_size) const {
  if (!stored_shape.empty() && sample_size == shape_size(stored_shape)) impute_missing(x, count);
  scale(x, count, sample_size);
}

void Preprocessing::require_images() const {
  if (!images || stored_shape.size() != 3)
    fail("this model takes {} feature{}, not an image; give a .csv file with {}",
         shape_size(stored_shape), shape_size(stored_shape) == 1 ? "" : "s",
         columns.empty()
             ? "one column per feature"
             : fmt::format("the columns it was trained on ({})", fmt::join(columns, ", ")));
}

void Preprocessing::image_input(const Image& image, float* out) const {
  require_images();
  const int H = static_cast<int>(stored_shape[0]), W = static_cast<int>(stored_shape[1]);
  const int C = static_cast<int>(stored_shape[2]);
  if ((image.height != H || image.width != W) && !resize)
    fail("the image is {}x{}x{} but the model expects {}x{}x{}{}; its preprocessing records no "
         "resize (the training images were all {}x{}), so convkit will not guess one: resize the "
         "image to {}x{}, or retrain with --resize {}x{}",
         image.height, image.width, image.channels, H, W, C,
         crop_height ? fmt::format(" (then cropped to {}x{})", crop_height, crop_width) : "", H, W,
         H, W, H, W);
  if (image.channels < 1 || image.channels > 4)
    fail("the image has {} channels; images have 1 to 4", image.channels);
  const Image fitted = fit_image(image, C, H, W, resize_method);
  std::vector<float> stored(fitted.pixels.begin(), fitted.pixels.end());
  finish_geometry(stored.data(), out);
  scale(out, 1, shape_size(input_shape()));
}

Tensor Preprocessing::image_input(const Image& image) const {
  Tensor t(input_shape());
  image_input(image, t.data());
  return t;
}

void Preprocessing::row_input(const std::vector<std::string>& header,
                              const std::vector<std::string>& cells, const std::string& where,
                              float* out) const {
  if (images && columns.empty()) fail("{}: this model takes images, not table rows", where);
  if (cells.size() != header.size())
    fail("{}: {} cells, but the header has {} columns", where, cells.size(), header.size());
  const int64_t size = static_cast<int64_t>(columns.size());
  for (int64_t j = 0; j < size; ++j) {
    auto it = std::find(header.begin(), header.end(), columns[j]);
    if (it == header.end())
      fail("{}: there is no column \"{}\"; the model was trained on {} feature columns, this one among them",
           where, columns[j], size);
    const std::string& cell = cells[it - header.begin()];
    double v;
    if (is_missing_cell(cell)) {
      if (fill.empty())
        fail("{}, column \"{}\": the value is missing and no imputer is applied; convkit will not "
             "feed NaN to the model (a model trained with --impute mean, median, most-frequent "
             "or constant:VALUE fills gaps itself, unless --no-preprocess skips it)",
             where, columns[j]);
      out[j] = fill[j];
    } else if (parse_number(cell, v)) {
      out[j] = static_cast<float>(v);
    } else {
      fail("{}, column \"{}\": \"{}\" is not a number", where, columns[j], cell.substr(0, 40));
    }
  }
  scale(out, 1, size);
}

}  // namespace ck
