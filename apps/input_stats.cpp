#include "apps/input_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace ck {

namespace {

int64_t channel_count(const Shape& sample) {
  if (sample.empty()) return 1;
  const int64_t last = sample.back();
  if (sample.size() >= 2 || last <= kMaxFeatureChannels) return std::max<int64_t>(last, 1);
  return 1;
}

nlohmann::json channel_json(const ChannelStats& c) {
  return {{"min", c.min}, {"max", c.max}, {"mean", c.mean}, {"std", c.std}};
}

ChannelStats channel_from_json(const nlohmann::json& j) {
  return {j.at("min").get<double>(), j.at("max").get<double>(), j.at("mean").get<double>(),
          j.at("std").get<double>()};
}

}  // namespace

void InputStatsAccumulator::add(const Tensor& batch) {
  if (batch.rank() < 1 || batch.dim(0) == 0) return;
  const Shape sample(batch.shape().begin() + 1, batch.shape().end());
  if (samples_ == 0) {
    sample_shape_ = sample;
    channels_.assign(channel_count(sample), Sums{});
  } else if (sample != sample_shape_) {
    // Images of several sizes: keep the first size as the recorded shape.
    if (channel_count(sample) != static_cast<int64_t>(channels_.size())) return;
  }
  const int64_t C = static_cast<int64_t>(channels_.size());
  const int64_t n = batch.size();
  const float* x = batch.data();
  // Channel by channel, with local sums, so the loop runs once per value
  // without a division (this runs on every batch of the first epoch).
  const int64_t stride = C == 1 ? 1 : C;
  for (int64_t c = 0; c < C; ++c) {
    Sums& s = channels_[c];
    float lo = s.count ? static_cast<float>(s.min) : INFINITY,
          hi = s.count ? static_cast<float>(s.max) : -INFINITY;
    double sum = 0, squares = 0;
    int64_t count = 0, whole = 0;
    for (int64_t i = c; i < n; i += stride) {
      const float v = x[i];
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v), hi = std::max(hi, v);
      sum += v, squares += static_cast<double>(v) * v;
      ++count;
      whole += v == std::floor(v);
    }
    if (count) s.min = lo, s.max = hi;
    s.sum += sum, s.sum_squares += squares, s.count += count;
    whole_ += whole;
    nonfinite_ += (n - c + stride - 1) / stride - count;
  }
  values_ += n;
  samples_ += batch.dim(0);
  if (sample.size() != 3 || sample[1] < 2) return;
  const int64_t rows = batch.dim(0) * sample[0], W = sample[1], row = W * sample[2];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k + sample[2] < row; ++k) {
      const double a = x[r * row + k], b = x[r * row + k + sample[2]];
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      pair_a_ += a, pair_b_ += b, pair_ab_ += a * b, pair_aa_ += a * a, pair_bb_ += b * b;
      ++pairs_;
    }
}

InputStats InputStatsAccumulator::stats() const {
  InputStats out;
  out.sample_shape = sample_shape_;
  out.samples = samples_;
  out.nonfinite = nonfinite_;
  const int64_t finite = values_ - nonfinite_;
  out.whole_fraction = finite ? static_cast<double>(whole_) / finite : 0;
  Sums total;
  bool first = true;
  auto finish = [](const Sums& s) {
    ChannelStats c;
    if (s.count == 0) return c;
    c.min = s.min, c.max = s.max;
    c.mean = s.sum / s.count;
    c.std = std::sqrt(std::max(0.0, s.sum_squares / s.count - c.mean * c.mean));
    return c;
  };
  for (const Sums& s : channels_) {
    out.channels.push_back(finish(s));
    if (s.count == 0) continue;
    if (first) total.min = s.min, total.max = s.max, first = false;
    total.min = std::min(total.min, s.min);
    total.max = std::max(total.max, s.max);
    total.sum += s.sum;
    total.sum_squares += s.sum_squares;
    total.count += s.count;
  }
  out.all = finish(total);
  if (pairs_ > 0) {
    const double n = static_cast<double>(pairs_);
    const double cov = pair_ab_ / n - (pair_a_ / n) * (pair_b_ / n);
    const double va = pair_aa_ / n - (pair_a_ / n) * (pair_a_ / n);
    const double vb = pair_bb_ / n - (pair_b_ / n) * (pair_b_ / n);
    if (va > 0 && vb > 0) out.neighbor_correlation = cov / std::sqrt(va * vb);
  }
  return out;
}

InputStats input_stats_of(const Tensor& batch) {
  InputStatsAccumulator acc;
  acc.add(batch);
  return acc.stats();
}

bool InputStats::looks_like_raw_pixels() const {
  return !is_table() && whole_fraction > 0.99 && all.min >= 0 && all.max <= 255 && all.max > 1.5;
}

std::string InputStats::describe_range() const {
  if (looks_like_raw_pixels()) return "raw 8-bit pixels, whole numbers 0..255";
  if (is_table() && whole_fraction > 0.99 && all.min >= 0 && all.max > 1.5)
    return fmt::format("whole numbers {}..{}", short_number(all.min), short_number(all.max));
  if (all.min >= 0 && all.max <= 1) return "scaled to 0..1";
  if (all.min >= -1 && all.max <= 1) return "scaled to -1..1";
  if (std::fabs(all.mean) < 0.2 && all.std > 0.5 && all.std < 2)
    return "standardized (mean ~0, std ~1)";
  return fmt::format("{}..{}", short_number(all.min), short_number(all.max));
}

std::string InputStats::describe() const {
  return fmt::format("min {}, max {}, mean {}, std {}", short_number(all.min),
                     short_number(all.max), short_number(all.mean), short_number(all.std));
}

nlohmann::json InputStats::to_json() const {
  nlohmann::json channel_list = nlohmann::json::array();
  for (const ChannelStats& c : channels) channel_list.push_back(channel_json(c));
  return {{"sample_shape", sample_shape},
          {"samples", samples},
          {"nonfinite", nonfinite},
          {"whole_fraction", whole_fraction},
          {"all", channel_json(all)},
          {"channels", channel_list},
          {"range", describe_range()},
          {"neighbor_correlation", std::isfinite(neighbor_correlation)
                                       ? nlohmann::json(neighbor_correlation)
                                       : nlohmann::json(nullptr)}};
}

InputStats InputStats::from_json(const nlohmann::json& j) {
  InputStats s;
  try {
    s.sample_shape = j.at("sample_shape").get<Shape>();
    s.samples = j.at("samples").get<int64_t>();
    s.nonfinite = j.at("nonfinite").get<int64_t>();
    s.whole_fraction = j.at("whole_fraction").get<double>();
    s.all = channel_from_json(j.at("all"));
    for (const auto& c : j.at("channels")) s.channels.push_back(channel_from_json(c));
    if (j.contains("neighbor_correlation") && j["neighbor_correlation"].is_number())
      s.neighbor_correlation = j["neighbor_correlation"].get<double>();
  } catch (const nlohmann::json::exception& e) {
    fail("malformed input statistics record ({})", e.what());
  }
  return s;
}

namespace {

// How far inputs may drift from the training statistics before a model
// given them is working outside what it learned. A forgotten or different
// preprocessing moves them far more (x255 for a missing 1/255, x2 and a shift
// of 2 stds for -1..1 instead of 0..1); fresh samples of the same data stay
// well inside. A handful of inputs (one image to predict) varies more by
// chance, so they get looser bounds.
struct DriftBounds {
  double std_ratio;   // std now / std in training, either way
  double mean_shift;  // |mean now - mean in training| / std in training
};
constexpr int64_t kManySamples = 32;
constexpr DriftBounds kManyBounds{1.5, 1.0};
constexpr DriftBounds kFewBounds{4.0, 3.0};
constexpr const char* kMismatchSource =
    "training-serving skew (Zinkevich, \"Rules of Machine Learning\", section Training-Serving "
    "Skew; TensorFlow Data Validation's skew detection); article 003";

std::string channel_name(const InputStats& s, size_t c, const std::vector<std::string>& names) {
  if (s.is_table()) {
    if (c < names.size()) return fmt::format("feature column '{}'", names[c]);
    return fmt::format("feature column {}", c);
  }
  if (s.channels.size() == 1) return "the input";
  return fmt::format("channel {}", c);
}

}  // namespace

std::vector<Finding> compare_input_stats(const InputStats& training, const InputStats& now,
                                         const std::vector<std::string>& names) {
  std::vector<Finding> findings;
  if (now.nonfinite > 0 && training.nonfinite == 0) {
    Finding f{"input-non-finite", Severity::problem,
              fmt::format("the inputs hold {} NaN or Inf values; the training inputs held none",
                          now.nonfinite)};
    f.add("nonfinite", static_cast<double>(now.nonfinite),
          fmt::format("{} non-finite values in {} samples", now.nonfinite, now.samples));
    f.threshold = "any NaN or Inf in an input";
    f.source = "article 003 ex. 3 (missing values must be imputed as in training)";
    f.fix = "impute missing values the way the training data was (e.g. the training mean)";
    findings.push_back(f);
  }
  const Shape& a = training.sample_shape;
  const Shape& b = now.sample_shape;
  if (!a.empty() && !b.empty() && a != b) {
    Finding f{"preprocessing-mismatch", Severity::problem,
              fmt::format("the inputs are {}, the model was trained on {}", shape_compact(b),
                          shape_compact(a))};
    f.add("sample_size", static_cast<double>(shape_size(b)),
          fmt::format("input shape {} (training: {})", shape_compact(b), shape_compact(a)));
    f.threshold = "any difference in input shape";
    f.source = kMismatchSource;
    f.fix = fmt::format("resize the inputs to {} as in training", shape_compact(a));
    findings.push_back(f);
    if (training.channels.size() != now.channels.size()) return findings;
  }
  if (training.channels.size() != now.channels.size() || training.samples == 0 || now.samples == 0)
    return findings;
  const DriftBounds bounds = now.samples >= kManySamples ? kManyBounds : kFewBounds;
  const double kMaxStdRatio = bounds.std_ratio, kMaxMeanShift = bounds.mean_shift;

  // A std needs several values: one feature of one row has no spread to
  // compare, so only its mean is judged then.
  const int64_t per_channel =
      now.samples * (shape_size(now.sample_shape) / static_cast<int64_t>(now.channels.size()));
  const bool enough = per_channel >= 8;
  // The channel that drifted most, by std ratio and mean shift; for tables,
  // every drifted column is named.
  double worst_score = 0;
  size_t worst = 0;
  double worst_ratio = 1, worst_shift = 0;
  std::vector<std::string> drifted;
  for (size_t c = 0; c < training.channels.size(); ++c) {
    const ChannelStats& t = training.channels[c];
    const ChannelStats& n = now.channels[c];
    const double floor = std::max(1e-6, 1e-3 * std::max(std::fabs(t.max), std::fabs(t.min)));
    const double t_std = std::max(t.std, floor), n_std = std::max(n.std, floor);
    const double ratio = enough ? n_std / t_std : 1.0;
    const double shift = std::fabs(n.mean - t.mean) / t_std;
    const double score =
        std::max({ratio / kMaxStdRatio, 1 / (ratio * kMaxStdRatio), shift / kMaxMeanShift});
    if (score > 1 && training.is_table())
      drifted.push_back(fmt::format("{} (mean {} vs {})", channel_name(now, c, names),
                                    short_number(n.mean), short_number(t.mean)));
    if (score > worst_score)
      worst_score = score, worst = c, worst_ratio = ratio, worst_shift = shift;
  }
  if (worst_score <= 1) return findings;

  const ChannelStats& t = training.channels[worst];
  const ChannelStats& n = now.channels[worst];
  const std::string where = channel_name(now, worst, names);
  std::string cause;
  if (now.looks_like_raw_pixels() && !training.looks_like_raw_pixels())
    cause = fmt::format("the inputs look like raw 0..255 pixels, the training inputs were {}",
                        training.describe_range());
  else if (training.looks_like_raw_pixels() && !now.looks_like_raw_pixels())
    cause = fmt::format("the training inputs were raw 0..255 pixels, these are {}",
                        now.describe_range());
  else if (worst_ratio > kMaxStdRatio || worst_ratio < 1 / kMaxStdRatio)
    cause =
        fmt::format("{} is scaled {}x differently from training", where, short_number(worst_ratio));
  else
    cause = fmt::format("{} is shifted by {} training standard deviations", where,
                        short_number(worst_shift));
  if (drifted.size() > 1)
    cause += fmt::format(" ({} of {} feature columns drifted)", drifted.size(),
                         training.channels.size());
  Finding f{"preprocessing-mismatch", Severity::problem,
            "the inputs are not preprocessed as the training inputs were: " + cause};
  f.add("std_ratio", worst_ratio,
        enough
            ? fmt::format("{}: std {} now vs {} in training (ratio {})", where, short_number(n.std),
                          short_number(t.std), short_number(worst_ratio))
            : fmt::format("{}: std not compared: {} value{} per {} {} no spread to measure (std {} "
                          "in training)",
                          where, per_channel, per_channel == 1 ? "" : "s",
                          now.is_table() ? "feature column" : "channel",
                          per_channel == 1 ? "gives" : "give", short_number(t.std)));
  f.add("mean_shift", worst_shift,
        fmt::format("{}: mean {} now vs {} in training ({} training stds apart)", where,
                    short_number(n.mean), short_number(t.mean), short_number(worst_shift)));
  if (!drifted.empty())
    f.add("drifted_columns", static_cast<double>(drifted.size()),
          "drifted: " + fmt::format("{}", fmt::join(drifted, ", ")));
  f.add("range_now", n.max,
        fmt::format("inputs now: {}; training: {}", now.describe(), training.describe()));
  f.threshold = fmt::format(
      "std ratio outside [1/{0}, {0}] or a mean shift above {1} training stds "
      "(for {2}+ inputs; [1/{3}, {3}] and {4} for fewer)",
      kManyBounds.std_ratio, kManyBounds.mean_shift, kManySamples, kFewBounds.std_ratio,
      kFewBounds.mean_shift);
  f.source = kMismatchSource;
  f.fix =
      "apply the model's own preprocessing (saved in its file) to new inputs, exactly as in "
      "training";
  if (!enough)
    f.threshold += fmt::format("; the std is not compared below 8 values per {}",
                               now.is_table() ? "column" : "channel");
  findings.push_back(f);
  return findings;
}

}  // namespace ck
