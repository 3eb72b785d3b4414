#include "apps/data_options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "apps/commands.h"
#include "core/error.h"
#include "core/format.h"
#include "core/rng.h"
#include "data/balance.h"

namespace ck {

void add_on_bad_image_option(CLI::App& cmd, std::string& on_bad_image) {
  cmd.add_option("--on-bad-image", on_bad_image,
                 "A corrupt, truncated or unreadable image: stop, or skip it with a warning")
      ->capture_default_str()
      ->check(CLI::IsMember({"stop", "skip"}));
}

void add_source_options(CLI::App& cmd, DataOptions& o) {
  cmd.add_option("--data", o.data,
                 "fashion-mnist; a directory of IDX files; an image folder DIR/<class>/<images> "
                 "(DIR/train + DIR/test: both splits); a .csv table; a list file of \"path,label\" "
                 "lines; or synthetic:images=100,shape=32x32x3,values=0-255|0-1,classes=10[,test=N,seed=S]")
      ->capture_default_str();
  cmd.add_option("--test-data", o.test_data,
                 "A separate test source (any --data form; its test split if it has one)");
  cmd.add_option("--limit", o.limit, "Use the first N training samples only (0 = all)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--test-limit", o.test_limit, "Use the first N test samples only (0 = all)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--resize", o.resize,
                 "Resize images to HxW (e.g. 28x28), recorded in the preprocessing; needed when "
                 "image sizes differ");
  cmd.add_option("--resize-method", o.resize_method, "bilinear or nearest (tf.image.resize, no antialiasing)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bilinear", "nearest"}));
  cmd.add_option("--channels", o.channels,
                 "Convert images to 1 (gray), 3 (RGB) or 4 (RGBA) channels (0 = as the first image)")
      ->capture_default_str();
  cmd.add_option("--label-column", o.label_column, "CSV: the column holding the labels")
      ->capture_default_str();
  cmd.add_option("--image-shape", o.image_shape, "CSV: rows are images of this shape, e.g. 8x8x1");
  cmd.add_flag("--regression", o.regression, "CSV: the label column holds numeric targets, not classes");
  cmd.add_option("--impute", o.impute,
                 "CSV missing values (empty, NaN, NA): none (refuse them), mean, median, "
                 "most-frequent, or constant:VALUE; fitted on the training rows")
      ->capture_default_str();
  add_on_bad_image_option(cmd, o.on_bad_image);
  cmd.add_option("--cache-limit", o.cache_limit_mb,
                 "MiB of decoded images kept in memory; larger image folders are decoded again for "
                 "every batch (0 = always)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
}

void add_data_options(CLI::App& cmd, DataOptions& o) {
  add_source_options(cmd, o);
  cmd.add_option("--validation-split", o.validation_split,
                 "Fraction of the training data held out for validation (the last samples, as Keras)")
      ->capture_default_str();
  cmd.add_flag("--stratify", o.stratify,
               "Take the validation split from the end of every class, keeping class proportions");
  cmd.add_option("--scale", o.scale,
                 "auto (1/255 for 8-bit images, none otherwise), none, 1/255, minmax, zscore (per "
                 "channel), caffe, tf or torch; fitted on the training split only")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (text == "auto") return "";
            try {
              parse_scaling(text);
              return "";
            } catch (const Error&) {
              return fmt::format(
                  "unknown scaling \"{}\": choose auto, none, 1/255, minmax, zscore, "
                  "caffe, tf or torch",
                  text);
            }
          },
          "SCALING"));
  cmd.add_option("--augment", o.augment,
                 "Training-only augmentation, e.g. \"flip(horizontal) rotation(0.2) zoom(0.2) "
                 "translation(0.1) crop(24x24)\" (Keras semantics; see docs/data.md)");
  cmd.add_option("--class-weight", o.class_weight,
                 "Per-class loss weights on training: balanced (n/(k*count)), inverse (1/count), or "
                 "explicit 0:1,1:5");
  cmd.add_option("--resample", o.resample,
                 "Balance training classes every epoch: over (repeat rarer classes) or under (drop "
                 "from larger ones)")
      ->check(CLI::IsMember({"over", "under", "none"}));
}

namespace {

// "HxW" or "N" (square) -> (H, W), within the limits images are decoded to.
std::pair<int, int> parse_size(const std::string& text, const char* flag) {
  const ImageLimits limits;
  auto malformed = [&] {
    fail("{} {}: give the size as HxW, two whole numbers of at least 1, e.g. {} 28x28", flag, text,
         flag);
  };
  // A side past a billion is only "too large"; clamping keeps H * W in range.
  constexpr int64_t kClamp = 1'000'000'000;
  std::vector<int64_t> sides;
  for (size_t pos = 0; pos <= text.size();) {
    const size_t end = std::min(text.find('x', pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    if (part.empty() ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      malformed();
    sides.push_back(part.size() > 9 ? kClamp : std::stoll(part));
    pos = end + 1;
  }
  if (sides.size() == 1) sides.push_back(sides[0]);
  if (sides.size() != 2 || sides[0] < 1 || sides[1] < 1) malformed();
  if (sides[0] > limits.max_side || sides[1] > limits.max_side ||
      sides[0] * sides[1] > limits.max_pixels)
    fail(
        "{} {} is too large: images can have at most {} pixels a side and {} pixels in all (e.g. "
        "8192x8192)",
        flag, text, limits.max_side, with_commas(limits.max_pixels));
  return {static_cast<int>(sides[0]), static_cast<int>(sides[1])};
}

void warn(const std::vector<std::string>& warnings) {
  std::fflush(stdout);
  for (const std::string& w : warnings) fmt::print(stderr, "convkit: warning: {}\n", w);
}

}  // namespace

SourceOptions source_options(const DataOptions& o) {
  SourceOptions s;
  if (o.channels < 0 || o.channels > 4 || o.channels == 2)
    fail("--channels must be 1 (gray), 3 (RGB) or 4 (RGBA), got {}", o.channels);
  s.channels = o.channels;
  if (!o.resize.empty()) s.resize = parse_size(o.resize, "--resize");
  s.resize_method = parse_resize_method(o.resize_method);
  s.skip_bad_images = o.on_bad_image == "skip";
  s.cache_limit_bytes = o.cache_limit_mb << 20;
  s.label_column = o.label_column;
  if (!o.image_shape.empty()) {
    s.image_shape = parse_shape(o.image_shape, "--image-shape");
    if (s.image_shape->size() != 3) fail("--image-shape {}: give HxWxC, e.g. 8x8x1", o.image_shape);
  }
  s.regression = o.regression;
  float constant = 0;
  s.allow_missing = parse_impute(o.impute, constant) != Impute::none;
  return s;
}

DataSplits load_splits(const DataOptions& o, uint64_t seed, bool for_stats) {
  SourceOptions src = source_options(o);
  if (for_stats) src.allow_missing = src.mixed_sizes_ok = true;
  DataSplits splits = load_data(o.data, src);
  if (!o.test_data.empty()) {
    SourceOptions t = src;
    t.read_splits =
        SplitsToRead::test;  // a folder with train/ and test/: only its test split is used
    t.class_names = splits.train.class_names;
    t.stored_shape = splits.train.sample_shape;
    t.columns = splits.train.columns;
    DataSplits test = load_data(o.test_data, t);
    splits.test = test.test ? std::move(*test.test) : std::move(test.train);
    for (auto& w : test.warnings) splits.warnings.push_back("test data: " + w);
    splits.notes.push_back("test data: " + splits.test->description);
  }
  warn(splits.warnings);
  if (splits.train.sorted_by_class) {
    // A folder lists class after class: without this, --limit and the
    // validation tail would take whole classes.
    std::vector<int64_t> order(splits.train.size());
    std::iota(order.begin(), order.end(), 0);
    Rng rng = Rng::derive(seed, 0xf01d);
    rng.shuffle(std::span<int64_t>(order));
    splits.train.reorder(order);
    splits.notes.push_back(fmt::format(
        "files shuffled once with seed {} before --limit and --validation-split (as Keras's "
        "image_dataset_from_directory)", seed));
  }
  limit_samples(splits.train, o.limit);
  if (splits.test) limit_samples(*splits.test, o.test_limit);
  return splits;
}

std::string PreparedData::describe() const {
  const Dataset& d = splits.train;
  std::string s = fmt::format("  data:          {}: {} training samples {}{} ({})", splits.name,
                              with_commas(train_indices.size()), shape_compact(d.sample_shape),
                              d.is_image()             ? ""
                              : d.sample_size() == 1   ? " feature"
                                                       : " features",
                              describe_targets(d, train_indices));
  if (!validation_indices.empty())
    s += fmt::format(", {} validation", with_commas(validation_indices.size()));
  if (splits.test) s += fmt::format(", {} test", with_commas(splits.test->size()));
  s += "\n";
  for (const std::string& note : splits.notes) s += "                 " + note + "\n";
  if (d.num_classes() > 0 && d.num_classes() <= 12) {
    const std::vector<int64_t> counts = d.class_counts(train_indices);
    int64_t lo = INT64_MAX, hi = 0;
    std::string list;
    for (int k = 0; k < d.num_classes(); ++k) {
      list += fmt::format("{}{} {}", k ? ", " : "", d.class_names[k], with_commas(counts[k]));
      lo = std::min(lo, counts[k]), hi = std::max(hi, counts[k]);
    }
    if (lo > 0 && hi > lo) list += fmt::format(" (imbalance {:.2f})", double(hi) / lo);
    s += "  classes:       " + list + "\n";
  }
  s += fmt::format("  preprocessing: {}{}\n", preprocessing.describe(), scale_reason);
  for (const std::string& note : notes) s += "                 " + note + "\n";
  return s;
}

std::unique_ptr<PreparedData> prepare_data(const DataOptions& o, int batch, uint64_t seed) {
  auto p = std::make_unique<PreparedData>();
  p->splits = load_splits(o, seed);
  const Dataset& train = p->splits.train;
  if (o.stratify)
    split_stratified(train, o.validation_split, p->train_indices, p->validation_indices);
  else
    split_tail(train.size(), o.validation_split, p->train_indices, p->validation_indices);
  if (p->train_indices.empty())
    fail("no training samples left (check --limit and --validation-split)");

  // Preprocessing: recorded geometry, chosen scaling and imputer, fitted on
  // the training part only.
  Preprocessing& pre = p->preprocessing;
  pre.set_geometry(train);
  pre.resize = !o.resize.empty();
  pre.resize_method = parse_resize_method(o.resize_method);
  if (o.scale == "auto") {
    pre.scaling = train.is_image() && (train.is_u8() || train.streamed()) ? Scaling::unit : Scaling::none;
    p->scale_reason = pre.scaling == Scaling::unit ? " [--scale auto: 8-bit images]"
                                                   : " [--scale auto: not 8-bit images; consider --scale zscore]";
  } else {
    pre.scaling = parse_scaling(o.scale);
  }
  pre.impute = parse_impute(o.impute, pre.impute_constant);
  if (pre.impute != Impute::none && train.columns.empty())
    fail("--impute fills missing values of CSV tables; {} is not a table", train.description);
  if (!o.augment.empty()) {
    p->augmentation = Augmentation::parse(o.augment);
    if (!train.is_image()) fail("--augment transforms images; {} holds table rows", train.description);
    if (const AugmentStep* crop = p->augmentation.crop())
      pre.crop_height = crop->crop_height, pre.crop_width = crop->crop_width;
  }
  pre.fit(train, p->train_indices);
  if (!p->validation_indices.empty())
    p->notes.push_back(o.stratify ? "validation: the last samples of every class (--stratify)"
                                  : "validation: the last samples, before shuffling (as Keras)");
  if (pre.resize) p->notes.push_back(fmt::format("resize: any image is resized to {} ({}), here and at inference",
                                                 shape_compact({pre.stored_shape[0], pre.stored_shape[1]}),
                                                 resize_method_name(pre.resize_method)));
  if (!p->augmentation.empty())
    p->notes.push_back("augmentation (training only): " + p->augmentation.describe());
  if (pre.crop_height) {
    const int64_t height = pre.stored_shape[0], width = pre.stored_shape[1];
    if (pre.crop_height <= height && pre.crop_width <= width)
      p->notes.push_back(
          fmt::format("model input {}: training takes random crops; validation, test "
                      "and inference take the centered window resized (Keras RandomCrop)",
                      shape_compact(pre.input_shape())));
    else  // Keras's RandomCrop resizes inputs smaller than its window, in training too.
      p->notes.push_back(fmt::format(
          "model input {}: crop({}x{}) is larger than the {}x{} images, so no random crops: "
          "training, "
          "validation, test and inference all take the centered window resized up to {}x{} (Keras "
          "RandomCrop); for random crops give a window up to {}x{}",
          shape_compact(pre.input_shape()), pre.crop_height, pre.crop_width, height, width,
          pre.crop_height, pre.crop_width, height, width));
  }

  // Loaders. Evaluation batches can be larger: there are no gradients to keep.
  LoaderOptions train_options;
  train_options.batch_size = batch;
  train_options.shuffle = true;
  train_options.seed = seed;
  train_options.augment = p->augmentation.empty() ? nullptr : &p->augmentation;
  train_options.resample = parse_resample(o.resample);
  p->train = std::make_unique<Loader>(train, p->train_indices, pre, train_options);
  const std::vector<int64_t> counts = train.class_counts(p->train_indices);
  if (!o.class_weight.empty() && o.class_weight != "none") {
    std::vector<float> w = class_weights(o.class_weight, counts);
    double total = 0;
    int64_t n = 0;
    std::string list;
    for (size_t k = 0; k < w.size(); ++k) {
      total += double(w[k]) * counts[k], n += counts[k];
      list += fmt::format("{}{}:{:.4g}", k ? ", " : "", k, w[k]);
    }
    p->notes.push_back(fmt::format("class weights (training only): {}; mean weight per sample {:.4g}{}",
                                   list, total / std::max<int64_t>(n, 1),
                                   total / std::max<int64_t>(n, 1) < 0.1
                                       ? " (the loss and its gradients shrink by that factor)" : ""));
    p->train->set_class_weights(std::move(w));
  }
  if (train_options.resample != Resample::none)
    p->notes.push_back(fmt::format("resampling (training only): {}: {} samples per epoch from {}",
                                   resample_name(train_options.resample), with_commas(p->train->samples()),
                                   with_commas(p->train_indices.size())));
  // Evaluation has no gradients to keep, so it takes bigger batches than
  // training (fewer, larger GEMMs), but at most about 1M input values per
  // batch: 256 Fashion-MNIST images, 7 at 220x220x3, where 256 would hold
  // gigabytes of activations and im2col columns.
  const int64_t values = std::max<int64_t>(shape_size(pre.input_shape()), 1);
  const int eval_batch =
      std::max<int>(batch, static_cast<int>(std::clamp<int64_t>((1 << 20) / values, 1, 256)));
  if (!p->validation_indices.empty())
    p->validation = std::make_unique<Loader>(train, p->validation_indices, eval_batch, pre, false, seed);
  if (p->splits.test) {
    std::vector<int64_t> all(p->splits.test->size());
    std::iota(all.begin(), all.end(), 0);
    p->test = std::make_unique<Loader>(*p->splits.test, all, eval_batch, pre, false, seed);
  }
  return p;
}

}  // namespace ck
