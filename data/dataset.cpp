#include "data/dataset.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/parallel.h"
#include "data/image.h"

namespace ck {

void Dataset::copy_sample(int64_t i, float* out) const {
  const int64_t n = sample_size();
  if (streamed()) {
    const Image image = fit_image(decode_image(files[i]), static_cast<int>(sample_shape[2]),
                                  static_cast<int>(sample_shape[0]),
                                  static_cast<int>(sample_shape[1]), file_resize);
    for (int64_t k = 0; k < n; ++k) out[k] = image.pixels[k];
  } else if (is_u8()) {
    const uint8_t* p = pixels.data() + i * n;
    for (int64_t k = 0; k < n; ++k) out[k] = p[k];
  } else {
    std::copy_n(values.data() + i * n, n, out);
  }
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t i = 0; i < size(); ++i) {
    const int l = label(i);
    if (l >= 0 && l < static_cast<int>(counts.size())) ++counts[l];
  }
  return counts;
}

std::vector<int64_t> Dataset::class_counts(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t i : indices) {
    const int l = label(i);
    if (l >= 0 && l < static_cast<int>(counts.size())) ++counts[l];
  }
  return counts;
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  Dataset out;
  out.sample_shape = sample_shape;
  out.target_size = target_size;
  out.class_names = class_names;
  out.target_name = target_name;
  out.columns = columns;
  out.description = description;
  out.file_resize = file_resize;
  const int64_t n = sample_size();
  for (int64_t i : indices) {
    if (streamed())
      out.files.push_back(files[i]);
    else if (is_u8())
      out.pixels.insert(out.pixels.end(), pixels.begin() + i * n, pixels.begin() + (i + 1) * n);
    else
      out.values.insert(out.values.end(), values.begin() + i * n, values.begin() + (i + 1) * n);
    out.targets.insert(out.targets.end(), targets.begin() + i * target_size,
                       targets.begin() + (i + 1) * target_size);
  }
  return out;
}

void Dataset::reorder(const std::vector<int64_t>& order) {
  const int64_t n = size(), sz = sample_size(), ts = target_size;
  if (static_cast<int64_t>(order.size()) != n) fail("internal: reorder needs a permutation of {} samples", n);
  // Follow each cycle of the permutation, moving one sample at a time.
  std::vector<char> done(n, 0);
  std::vector<uint8_t> px(sz);
  std::vector<float> val(sz), tgt(ts);
  std::string file;
  auto save = [&](int64_t i) {
    if (streamed()) file = files[i];
    else if (is_u8()) std::copy_n(pixels.begin() + i * sz, sz, px.begin());
    else std::copy_n(values.begin() + i * sz, sz, val.begin());
    std::copy_n(targets.begin() + i * ts, ts, tgt.begin());
  };
  auto move = [&](int64_t from, int64_t to) {
    if (streamed()) files[to] = files[from];
    else if (is_u8()) std::copy_n(pixels.begin() + from * sz, sz, pixels.begin() + to * sz);
    else std::copy_n(values.begin() + from * sz, sz, values.begin() + to * sz);
    std::copy_n(targets.begin() + from * ts, ts, targets.begin() + to * ts);
  };
  auto restore = [&](int64_t i) {
    if (streamed()) files[i] = file;
    else if (is_u8()) std::copy_n(px.begin(), sz, pixels.begin() + i * sz);
    else std::copy_n(val.begin(), sz, values.begin() + i * sz);
    std::copy_n(tgt.begin(), ts, targets.begin() + i * ts);
  };
  for (int64_t start = 0; start < n; ++start) {
    if (done[start]) continue;
    save(start);
    int64_t i = start;
    while (true) {
      done[i] = 1;
      const int64_t from = order[i];
      if (from < 0 || from >= n || (done[from] && from != start)) fail("internal: reorder needs a permutation");
      if (from == start) break;
      move(from, i);
      i = from;
    }
    restore(i);
  }
}

void split_tail(int64_t n, double fraction, std::vector<int64_t>& train,
                std::vector<int64_t>& validation) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    fail("--validation-split must be in [0, 1), got {}", fraction);
  // Keras: split_at = int(n * (1 - fraction)).
  const int64_t split = static_cast<int64_t>(static_cast<double>(n) * (1.0 - fraction));
  train.clear(), validation.clear();
  for (int64_t i = 0; i < split; ++i) train.push_back(i);
  for (int64_t i = split; i < n; ++i) validation.push_back(i);
}

std::string describe_targets(const Dataset& data, const std::vector<int64_t>& indices) {
  if (!data.class_names.empty())
    return data.num_classes() == 1 ? "1 class" : fmt::format("{} classes", data.num_classes());
  float lo = INFINITY, hi = -INFINITY;
  auto see = [&](int64_t i) {
    for (int j = 0; j < data.target_size; ++j) {
      lo = std::min(lo, data.targets[i * data.target_size + j]);
      hi = std::max(hi, data.targets[i * data.target_size + j]);
    }
  };
  if (indices.empty())
    for (int64_t i = 0; i < data.size(); ++i) see(i);
  for (int64_t i : indices) see(i);
  std::string s = data.target_size == 1 ? "regression target" : "regression targets";
  if (!data.target_name.empty()) s += fmt::format(" \"{}\"", data.target_name);
  if (data.target_size > 1) s += fmt::format(" ({} values per sample)", data.target_size);
  if (lo <= hi) s += fmt::format(", {:.4g} to {:.4g}", lo, hi);
  return s;
}

void split_stratified(const Dataset& data, double fraction, std::vector<int64_t>& train,
                      std::vector<int64_t>& validation) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    fail("--validation-split must be in [0, 1), got {}", fraction);
  if (data.class_names.empty())
    fail("--stratify needs class labels; this data has numeric targets");
  const int k = data.num_classes();
  std::vector<std::vector<int64_t>> by_class(k);
  for (int64_t i = 0; i < data.size(); ++i) by_class[data.label(i)].push_back(i);
  std::vector<char> is_validation(data.size(), 0);
  for (const auto& members : by_class) {
    const int64_t n = static_cast<int64_t>(members.size());
    const int64_t split = static_cast<int64_t>(static_cast<double>(n) * (1.0 - fraction));
    for (int64_t j = split; j < n; ++j) is_validation[members[j]] = 1;
  }
  train.clear(), validation.clear();
  for (int64_t i = 0; i < data.size(); ++i) (is_validation[i] ? validation : train).push_back(i);
}

void reshape_images(Dataset& data, int channels, int h, int w, ResizeMethod method) {
  if (!data.is_image() || data.streamed()) fail("internal: reshape_images needs in-memory images");
  const int H = static_cast<int>(data.sample_shape[0]), W = static_cast<int>(data.sample_shape[1]);
  const int C = static_cast<int>(data.sample_shape[2]);
  if (H == h && W == w && C == channels) return;
  if (C > 4 || channels > 4)
    fail("{}: cannot convert {} channels to {}: images have 1 to 4 channels", data.description, C, channels);
  const int64_t n = data.size(), in_size = data.sample_size(), out_size = int64_t{h} * w * channels;
  const bool u8 = data.is_u8();
  std::vector<uint8_t> pixels(u8 ? n * out_size : 0);
  std::vector<float> values(u8 ? 0 : n * out_size);
  parallel_for(n, 64, [&](int64_t begin, int64_t end) {
    Image image;
    std::vector<float> in, out(out_size);
    for (int64_t i = begin; i < end; ++i) {
      if (u8) {
        image.height = H, image.width = W, image.channels = C;
        image.pixels.assign(data.pixels.begin() + i * in_size, data.pixels.begin() + (i + 1) * in_size);
        Image fitted = fit_image(image, channels, h, w, method);
        std::copy(fitted.pixels.begin(), fitted.pixels.end(), pixels.begin() + i * out_size);
        continue;
      }
      // Float samples: channel conversion by the same luma rule, in float.
      const float* src = data.values.data() + i * in_size;
      in.assign(int64_t{H} * W * channels, 0.0f);
      for (int64_t p = 0; p < int64_t{H} * W; ++p) {
        const float* s = src + p * C;
        float* d = in.data() + p * channels;
        const float gray = C >= 3 ? (299 * s[0] + 587 * s[1] + 114 * s[2]) / 1000 : s[0];
        const float alpha = (C == 2 || C == 4) ? s[C - 1] : 255.0f;
        for (int k = 0; k < channels; ++k)
          d[k] = channels <= 2 ? (k == 0 ? gray : alpha)
                               : (k < 3 ? (C >= 3 ? s[k] : s[0]) : alpha);
      }
      if (H == h && W == w)
        std::copy(in.begin(), in.end(), values.begin() + i * out_size);
      else
        resize_image(in.data(), H, W, channels, values.data() + i * out_size, h, w, method);
    }
  });
  data.pixels = std::move(pixels);
  data.values = std::move(values);
  data.sample_shape = {h, w, channels};
}

}  // namespace ck
