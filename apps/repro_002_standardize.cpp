// Article 002, "Why is my TensorFlow image classification model failing to
// learn?", example 1: min-max over the whole array vs z-score per channel
// (standardize). Examples 2 and 3 live in apps/repro_002_augment.cpp
// (augmentation) and apps/repro_002_balance.cpp (class-weights).
#include <fmt/format.h>

#include <cmath>

#include "apps/model_builder.h"
#include "apps/repro.h"
#include "core/error.h"
#include "core/format.h"
#include "data/preprocess.h"
#include "data/sources.h"

namespace ck {

namespace {

// The model of the real-data twin (and of the shape demonstration).
constexpr const char* kStandardizeModel = "lenet5";

Preprocessing fitted(const Dataset& data, Scaling scaling) {
  Preprocessing p;
  p.scaling = scaling;
  p.set_geometry(data);
  p.fit(data);
  return p;
}

// The training and test images as one array: "the entire dataset" the
// article computes its statistics over.
Dataset concatenated(const Dataset& train, const Dataset& test) {
  Dataset all = train;
  all.pixels.insert(all.pixels.end(), test.pixels.begin(), test.pixels.end());
  all.targets.insert(all.targets.end(), test.targets.begin(), test.targets.end());
  return all;
}

struct ArticleMap {
  Shape element;  // what normalize() returns for one element
  Shape batch;    // what batch(32) would stack
  bool same_for_all = false;
  std::string refused;  // the model's error on that batch, empty if it ran
};

// The article's pipeline, as printed:
//   mean = np.mean(images, axis=(0, 1, 2)); std = np.std(images, axis=(0, 1, 2))
//   images_standardized = (images - mean) / std
//   def normalize(image, label):
//     return tf.cast(images_standardized, tf.float32), label
//   dataset = dataset.map(normalize)
// normalize() never reads `image`: each element becomes the whole array.
ArticleMap article_map(const Dataset& images, int batch) {
  const Preprocessing z = fitted(images, Scaling::zscore);
  const int64_t n = images.size(), size = images.sample_size();
  Shape whole = {n};
  whole.insert(whole.end(), images.sample_shape.begin(), images.sample_shape.end());
  Tensor standardized(whole);
  for (int64_t i = 0; i < n; ++i) images.copy_sample(i, standardized.data() + i * size);
  z.scale(standardized.data(), n, size);
  // Each call returns its own copy, as each mapped element is its own tensor.
  auto normalize = [&](int64_t /*element*/) {
    return standardized.clone();
  };  // the image is ignored

  ArticleMap m;
  m.element = normalize(0).shape();
  const Tensor first = normalize(0), last = normalize(n - 1);
  m.same_for_all = first.shape() == last.shape();
  for (int64_t k = 0; m.same_for_all && k < first.size(); ++k) m.same_for_all = first[k] == last[k];
  // The first batch as dataset.batch(batch) stacks it.
  m.batch = {batch};
  m.batch.insert(m.batch.end(), m.element.begin(), m.element.end());
  Tensor stacked(m.batch);
  for (int b = 0; b < batch; ++b) {
    const Tensor e = normalize(b);
    std::copy(e.data(), e.data() + e.size(), stacked.data() + b * e.size());
  }
  Model model = make_model(kStandardizeModel, images.sample_shape);
  try {
    ForwardContext ctx;
    model.forward(stacked, ctx);
  } catch (const Error& e) {
    m.refused = e.what();
  }
  return m;
}

}  // namespace

void repro_standardize(ReproContext& ctx) {
  ctx.heading("As written: min-max over the whole array, z-score per channel, and normalize()");
  ctx.say(
      "The article scales images two ways: min-max over the whole array, (x - x.min()) / "
      "(x.max() - x.min()), and z-score per channel with the mean and std over the N, H, W axes. "
      "It then maps a tf.data dataset with normalize(image, label), which returns "
      "tf.cast(images_standardized, tf.float32): the whole standardized array, whatever image it "
      "is given. It also calls statistics 'across the entire dataset' the way to avoid "
      "leakage; if that dataset includes the test images, fitting on it is the leak, not its "
      "cure: the statistics belong to the training split, reused unchanged at test.");
  const DataSplits fmnist = load_data("fashion-mnist");
  const Dataset& train = fmnist.train;
  const Dataset& test = *fmnist.test;

  // normalize() on the article's scale of data: 100 images.
  const int64_t article_images = 100;
  std::vector<int64_t> first(article_images);
  for (int64_t i = 0; i < article_images; ++i) first[i] = i;
  const ArticleMap m = article_map(train.subset(first), 32);
  const int64_t element_values = shape_size(m.element);
  const bool bug_shown = m.element != train.sample_shape && m.same_for_all && !m.refused.empty();
  ctx.number("as_written.element_values", static_cast<double>(element_values));
  ctx.number("as_written.model_refuses", m.refused.empty() ? 0 : 1);
  const double whole_bytes = 4.0 * static_cast<double>(train.size()) * train.sample_size();
  ctx.say(fmt::format(
      "On {} Fashion-MNIST images, every element normalize() returns has shape {} ({} values) "
      "instead of one image's {}; the first and the last element are {}. dataset.batch(32) then "
      "stacks a batch of shape {}, and the {} model built for {} inputs {}. On all {} training "
      "images each element would be a {:.0f} MB float32 array, and the dataset {} of them "
      "({:.1f} TB).",
      article_images, shape_str(m.element), with_commas(element_values),
      shape_str(train.sample_shape), m.same_for_all ? "identical" : "different", shape_str(m.batch),
      kStandardizeModel, shape_str(train.sample_shape),
      m.refused.empty() ? "accepts it" : "refuses it: \"" + m.refused + "\"",
      with_commas(train.size()), whole_bytes / 1e6, with_commas(train.size()),
      whole_bytes * static_cast<double>(train.size()) / 1e12));
  ctx.check(
      "The article's normalize() returns the whole array for every element, which no "
      "per-image model accepts",
      bug_shown,
      fmt::format("element shape {} vs image shape {}; elements {}; model: {}",
                  shape_str(m.element), shape_str(train.sample_shape),
                  m.same_for_all ? "identical" : "differ", m.refused.empty() ? "ran" : m.refused));

  // The statistics: training split only, and "the entire dataset".
  const Preprocessing minmax = fitted(train, Scaling::minmax);
  const Preprocessing z = fitted(train, Scaling::zscore);
  const Preprocessing z_test = fitted(test, Scaling::zscore);
  const Dataset all = concatenated(train, test);
  const Preprocessing z_all = fitted(all, Scaling::zscore);
  const double mean = z.offset[0], std = z.divisor[0];
  // The test images as the training statistics leave them.
  const double test_mean = (z_test.offset[0] - mean) / std, test_std = z_test.divisor[0] / std;
  const double leak =
      std::max(std::fabs(z_all.offset[0] / mean - 1), std::fabs(z_all.divisor[0] / std - 1));
  Table stats;
  stats.title = "Fashion-MNIST's pixels (one channel), before scaling";
  stats.columns = {"images", "count", "min", "max", "mean", "std"};
  auto row = [&](const std::string& what, const Dataset& data, const Preprocessing& z_of) {
    const Preprocessing range = fitted(data, Scaling::minmax);
    stats.rows.push_back({what, with_commas(data.size()), fmt::format("{:g}", range.offset[0]),
                          fmt::format("{:g}", range.offset[0] + range.divisor[0]),
                          fmt::format("{:.4f}", z_of.offset[0]),
                          fmt::format("{:.4f}", z_of.divisor[0])});
  };
  row("training split (what to fit)", train, z);
  row("train + test (the article's 'entire dataset')", all, z_all);
  row("test split (for comparison only)", test, z_test);
  ctx.table(stats);
  ctx.number("as_written.train_min", minmax.offset[0]);
  ctx.number("as_written.train_range", minmax.divisor[0]);
  ctx.number("as_written.train_mean", mean);
  ctx.number("as_written.train_std", std);
  ctx.number("as_written.leak", leak);
  ctx.number("as_written.test_mean_standardized", test_mean);
  ctx.number("as_written.test_std_standardized", test_std);
  const bool minmax_is_unit = minmax.offset[0] == 0 && minmax.divisor[0] == 255;
  ctx.check("On Fashion-MNIST min-max over the whole array is exactly x / 255", minmax_is_unit,
            fmt::format("the training pixels span {:g}..{:g}", minmax.offset[0],
                        minmax.offset[0] + minmax.divisor[0]));
  const bool carries_over = std::fabs(test_mean) < 0.1 && std::fabs(test_std - 1) < 0.1;
  ctx.check("Training statistics reused at test leave the test images near mean 0, std 1",
            carries_over,
            fmt::format("test pixels standardized with the training mean {:.2f} and std {:.2f}: "
                        "mean {:+.3f}, std {:.3f}",
                        mean, std, test_mean, test_std));

  ctx.heading("Real-data twin: raw vs min-max vs z-score on Fashion-MNIST, same model and budget");
  const int epochs = ctx.pick(2, 5);
  TrainOptions raw = repro_options(ctx, "fashion-mnist", kStandardizeModel, epochs);
  raw.data.limit = ctx.pick<int64_t>(2000, 20000);
  raw.data.test_limit = ctx.pick<int64_t>(1000, 10000);
  raw.data.scale = "none";
  TrainOptions mm = raw, zs = raw;
  mm.data.scale = "minmax";
  zs.data.scale = "zscore";
  ReproRun& r = ctx.train("raw: 0..255", raw);
  ReproRun& a = ctx.train("minmax: (x - min) / (max - min)", mm);
  ReproRun& b = ctx.train("zscore: (x - mean) / std", zs);
  ctx.say(
      fmt::format("Fitted on the {} training images only and reused for the test images: {}; {}.",
                  with_commas(raw.data.limit), a.run->data->preprocessing.describe(),
                  b.run->data->preprocessing.describe()));
  ctx.table(epoch_table("Per epoch (Fashion-MNIST)", {&r, &a, &b},
                        {"loss", "test_loss", "test_accuracy"}));
  for (const ReproRun* run : {&r, &a, &b}) {
    const std::string who = run->label.substr(0, run->label.find(':'));
    ctx.number("real." + who + ".test_accuracy", run->last("test_accuracy"));
    ctx.number("real." + who + ".test_loss", run->last("test_loss"));
  }
  const double raw_acc = r.last("test_accuracy"), mm_acc = a.last("test_accuracy"),
               z_acc = b.last("test_accuracy");
  const double raw_loss = r.last("test_loss"), mm_loss = a.last("test_loss"),
               z_loss = b.last("test_loss");
  const bool lower_loss = mm_loss < raw_loss && z_loss < raw_loss;
  ctx.check("Normalized inputs (min-max and z-score) give a lower test loss than raw 0..255",
            lower_loss,
            fmt::format("test loss {} raw, {} min-max, {} z-score", metric_text(raw_loss),
                        metric_text(mm_loss), metric_text(z_loss)));
  const double mm_gain = mm_acc - raw_acc, z_gain = z_acc - raw_acc;
  ctx.number("real.minmax.gain", mm_gain);
  ctx.number("real.zscore.gain", z_gain);
  const bool mm_higher = ctx.check(
      "Min-max gives a higher test accuracy than raw 0..255 (by more than a point)", mm_gain > 0.01,
      fmt::format("test accuracy {:.3f} min-max vs {:.3f} raw ({:+.1f} points)", mm_acc, raw_acc,
                  100 * mm_gain));
  const bool z_higher = ctx.check(
      "Z-score gives a higher test accuracy than raw 0..255 (by more than a point)", z_gain > 0.01,
      fmt::format("test accuracy {:.3f} z-score vs {:.3f} raw ({:+.1f} points)", z_acc, raw_acc,
                  100 * z_gain));
  const double z_vs_mm = z_acc - mm_acc;
  ctx.number("real.zscore_minus_minmax", z_vs_mm);
  const bool close = std::fabs(z_vs_mm) <= 0.015;
  ctx.check("Min-max and z-score end within 1.5 points of test accuracy", close,
            fmt::format("z-score - min-max = {:+.1f} points (test loss {} vs {})", 100 * z_vs_mm,
                        metric_text(z_loss), metric_text(mm_loss)));

  std::string v =
      bug_shown ? fmt::format(
                      "As printed, the article's pipeline cannot train: normalize() ignores the "
                      "image it is given, so every element of the dataset is the whole "
                      "standardized array ({} instead of {}) and the model refuses the first "
                      "batch; the fix is to standardize each image with statistics fitted "
                      "once on the training split, which is convkit's --scale zscore. ",
                      shape_str(m.element), shape_str(train.sample_shape))
                : fmt::format(
                      "The article's normalize() did NOT fail as expected here (element shape "
                      "{}, model: {}). ",
                      shape_str(m.element), m.refused.empty() ? "accepted it" : m.refused);
  v += minmax_is_unit
           ? "On Fashion-MNIST its min-max over the whole array is exactly x / 255, since the "
             "training pixels span 0..255. "
           : fmt::format("Its min-max over the whole array is (x - {:g}) / {:g}, not x / 255. ",
                         minmax.offset[0], minmax.divisor[0]);
  v += fmt::format(
      "Statistics over train + test (the article's 'entire dataset', read "
      "literally) differ from the "
      "training-only ones by {:.2f}%{}; the training statistics, reused at test, "
      "leave the test images at mean {:+.3f} and std {:.3f}. ",
      100 * leak,
      leak < 0.01 ? " here, a negligible leak because both splits come from one "
                    "distribution, but a leak all the same"
                  : ", a leak of the test set into training",
      test_mean, test_std);
  v += lower_loss ? fmt::format(
                        "On real images both normalizations lower the test loss against "
                        "raw pixels ({} raw, {} min-max, {} z-score)",
                        metric_text(raw_loss), metric_text(mm_loss), metric_text(z_loss))
                  : fmt::format(
                        "On real images the normalizations do NOT both lower the test "
                        "loss ({} raw, {} min-max, {} z-score)",
                        metric_text(raw_loss), metric_text(mm_loss), metric_text(z_loss));
  auto effect = [](double gain, bool higher) {
    return higher          ? fmt::format("raises it {:.1f} points", 100 * gain)
           : gain >= -0.01 ? fmt::format("leaves it within a point ({:+.1f})", 100 * gain)
                           : fmt::format("lowers it {:.1f} points", -100 * gain);
  };
  v += fmt::format("; against {:.1f}% raw test accuracy, min-max {} and z-score {}. ",
                   100 * raw_acc, effect(mm_gain, mm_higher), effect(z_gain, z_higher));
  v += close ? fmt::format(
                   "Between the two normalizations the difference is small ({:+.1f} "
                   "points for z-score): what matters is a small input range fitted on "
                   "the training data, not which of the two formulas gives it.",
                   100 * z_vs_mm)
             : fmt::format("Between the two normalizations, {} is ahead by {:.1f} points here.",
                           z_vs_mm > 0 ? "z-score" : "min-max", 100 * std::fabs(z_vs_mm));
  ctx.verdict(v);
}

}  // namespace ck
