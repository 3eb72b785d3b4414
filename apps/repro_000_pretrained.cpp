// Article 000, "What is the error in the TensorFlow tutorial?", example 3: a
// pretrained base is only as good as the inputs it is given
// (pretrained-preprocessing). As written it is VGG16 with ImageNet weights,
// which cannot be downloaded here and take minutes of CPU per epoch: the run
// is behind --full. The real-data twin pretrains a base itself and transfers
// it with the matching, raw and a different preprocessing.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "apps/input_stats.h"
#include "apps/model_builder.h"
#include "apps/progress.h"
#include "apps/repro.h"
#include "core/atomic_file.h"
#include "core/format.h"
#include "data/sources.h"
#include "data/synthetic.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

// The twin's networks. The base ends in a hidden layer and its own top, as
// VGG16 does; the transfer model keeps the convolutions (same names and
// shapes: imported and frozen) and puts a new Flatten + Dense head on them,
// as the article puts Flatten + Dense(10) on VGG16 without its top.
constexpr const char* kBaseModel =
    "conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) maxpool(2) flatten dense(64,relu) "
    "dense(5,softmax)";
constexpr const char* kTransferModel =
    "conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) maxpool(2) flatten dense(5,softmax)";

// What a preprocessing mode makes of `images` (8-bit), as the model would see them.
InputStats preprocessed(const Dataset& images, const std::string& mode) {
  Preprocessing p;
  p.scaling = parse_scaling(mode);
  p.fit(images);
  Shape shape = images.sample_shape;
  shape.insert(shape.begin(), images.size());
  Tensor x(shape);
  for (int64_t i = 0; i < images.size(); ++i) images.copy_sample(i, x.data() + i * images.sample_size());
  p.apply(x.data(), images.size(), images.sample_size());
  return input_stats_of(x);
}

std::string channel_means(const InputStats& s) {
  std::string out;
  for (const ChannelStats& c : s.channels) out += (out.empty() ? "" : ", ") + fmt::format("{:.1f}", c.mean);
  return out;
}

struct AsWritten {
  bool comment_wrong = false;  // caffe is not -1..1
  InputStats caffe, tf;
  bool trained = false;
  const ReproRun* run = nullptr;
};

AsWritten vgg16_as_written(ReproContext& ctx) {
  AsWritten a;
  ctx.heading("As written: VGG16 base + Flatten + Dense(10, softmax), 100 random 224x224x3 images 0..255");
  ctx.say(
      "The article loads keras.applications.VGG16(weights='imagenet', include_top=False, "
      "input_shape=(224, 224, 3)), puts Flatten and Dense(10, softmax) on it with no layer frozen, "
      "applies keras.applications.vgg16.preprocess_input to 100 random images with values 0..255 "
      "and random labels 0..9, and trains with Adam for 5 epochs (batch 32, Keras's default). Its "
      "comment says \"VGG16 uses -1 to 1 range\". convkit's --scale caffe is Keras's "
      "preprocess_input for VGG16: RGB -> BGR, then the ImageNet means (103.939, 116.779, 123.68) "
      "subtracted, no scaling. Here is what each mode makes of the article's images:");

  const std::string synthetic = fmt::format(
      "synthetic:images=100,shape=224x224x3,values=0-255,classes=10,seed={}", ctx.seed());
  SyntheticSpec few = parse_synthetic(synthetic);
  const Dataset sample = make_synthetic(few, ctx.pick<int64_t>(4, 16), 0);
  Table t;
  t.title = fmt::format("Keras preprocess_input modes on {} of the article's images", sample.size());
  t.columns = {"--scale", "used by", "min", "max", "channel means", "range"};
  const std::vector<std::pair<std::string, std::string>> modes = {
      {"caffe", "VGG16, VGG19, ResNet50"}, {"tf", "MobileNet, Inception, Xception"},
      {"torch", "DenseNet"}, {"none", "nothing (raw)"}};
  for (const auto& [mode, used_by] : modes) {
    const InputStats s = preprocessed(sample, mode);
    t.rows.push_back({mode, used_by, fmt::format("{:.1f}", s.all.min), fmt::format("{:.1f}", s.all.max),
                      channel_means(s), s.describe_range()});
    if (mode == "caffe") a.caffe = s;
    if (mode == "tf") a.tf = s;
  }
  ctx.table(t);
  a.comment_wrong = a.caffe.all.min < -100 && a.caffe.all.max > 100 && a.tf.all.min >= -1.0001 &&
                    a.tf.all.max <= 1.0001;
  ctx.check("The article's comment \"VGG16 uses -1 to 1 range\" is wrong (VGG16's preprocess_input "
            "is caffe mode)",
            a.comment_wrong,
            fmt::format("caffe mode leaves the inputs in {:.1f}..{:.1f} (BGR, ImageNet means "
                        "subtracted); -1..1 is the tf mode ({:.1f}..{:.1f}) of MobileNet and "
                        "Inception",
                        a.caffe.all.min, a.caffe.all.max, a.tf.all.min, a.tf.all.max));

  TrainOptions o = repro_options(ctx, synthetic, "pretrained-preprocessing", 5);
  o.data.scale = "caffe";
  o.init_from = ctx.options().init_from;
  Model model = make_model(o.model, std::nullopt);
  ctx.preformatted(model.summary());
  ctx.number("as_written.params", static_cast<double>(model.param_count()));
  ctx.number("as_written.gflop_per_image", model.flops() / 1e9);
  // Training costs about three forward passes per image (forward, then the
  // gradients with respect to inputs and to weights).
  const double training_tflop = 3.0 * model.flops() * 100 * 5 / 1e12;
  const std::string weights =
      o.init_from.empty()
          ? "ImageNet weights cannot be downloaded here, so the run starts from Glorot-initialized "
            "weights; with real weights (a VGG16 converted to convkit's tensor names, "
            "docs/model-format.md) add --init-from FILE"
          : fmt::format("the weights come from {} (--init-from)", o.init_from);
  if (!ctx.full()) {
    ReproRun shown;
    shown.options = o;
    std::string cost = fmt::format("{:.1f} GFLOP per image forward, about {:.0f} TFLOP for 5 "
                                   "epochs of 100 images",
                                   model.flops() / 1e9, training_tflop);
    if (!ctx.quick()) {
      // One forward pass of one image, measured here, for a time estimate.
      Rng rng(ctx.seed());
      model.init(rng);
      Tensor x({1, 224, 224, 3});
      for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(-120.0f, 150.0f);
      const auto start = std::chrono::steady_clock::now();
      model.forward(x, ForwardContext{.backward = false});
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      cost += fmt::format("; one image's forward pass took {} on this machine, so training would "
                          "take about {}",
                          format_duration(seconds), format_duration(3 * seconds * 100 * 5));
      ctx.number("as_written.forward_seconds", seconds);
    }
    ctx.say(fmt::format("Skipped without --full ({}). {}. The run would be:", cost, weights));
    ctx.preformatted(shown.command());
    return a;
  }
  ctx.say(fmt::format("Running it (--full): about {:.0f} TFLOP of training. {}.", training_tflop,
                      weights));
  a.run = &ctx.train("as written: caffe", o);
  a.trained = true;
  ctx.table(epoch_table("Per epoch (as written)", {a.run}, {"loss", "accuracy", "capped", "grad_norm"}));
  ctx.number("as_written.accuracy", a.run->last("accuracy"));
  ctx.number("as_written.loss", a.run->last("loss"));
  return a;
}

struct Twin {
  ReproRun *base = nullptr, *matching = nullptr, *raw = nullptr, *tf = nullptr;
  EvalResult base_raw, base_tf;  // the base on its own test images, preprocessed otherwise
  bool base_tf_breaks = false, base_raw_breaks = false;
  bool raw_costs = false, raw_loss_costs = false, tf_costs = false;
  bool flagged = false;
};

// Big-endian IDX file: magic (0, 0, type 0x08 = unsigned byte, rank), dims, bytes.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& bytes) {
  std::string s = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  return s + std::string(bytes.begin(), bytes.end());
}

void write_idx_pair(const fs::path& dir, const std::string& prefix, const Dataset& data,
                    const std::vector<int>& classes) {
  std::vector<uint8_t> pixels, labels;
  for (int64_t i = 0; i < data.size(); ++i) {
    const auto k = std::find(classes.begin(), classes.end(), data.label(i));
    if (k == classes.end()) continue;
    pixels.insert(pixels.end(), data.pixels.begin() + i * data.sample_size(),
                  data.pixels.begin() + (i + 1) * data.sample_size());
    labels.push_back(static_cast<uint8_t>(k - classes.begin()));
  }
  const auto n = static_cast<uint32_t>(labels.size());
  const auto h = static_cast<uint32_t>(data.sample_shape[0]), w = static_cast<uint32_t>(data.sample_shape[1]);
  write_file_atomically((dir / (prefix + "-images-idx3-ubyte")).string(), idx_bytes({n, h, w}, pixels));
  write_file_atomically((dir / (prefix + "-labels-idx1-ubyte")).string(), idx_bytes({n}, labels));
}

// Fashion-MNIST's images of `classes` (relabelled 0..K-1, in the source's
// order), training and test split, written back in Fashion-MNIST's own IDX
// format: lossless, four files, read by --data DIR like the original, with
// --limit and --test-limit setting the budget on the command line.
std::string write_classes(ReproContext& ctx, const DataSplits& fashion, const std::string& name,
                          const std::vector<int>& classes) {
  const fs::path dir = fs::path(ctx.work_dir()) / name;
  fs::create_directories(dir);
  write_idx_pair(dir, "train", fashion.train, classes);
  write_idx_pair(dir, "t10k", *fashion.test, classes);
  return dir.string();
}

// The base's test images preprocessed with `scale` instead of what it was
// trained with, evaluated with its own head: what the imported weights know
// before anything is retrained.
EvalResult evaluate_base_with(ReproRun& base, const std::string& scale) {
  const Dataset& test = *base.run->data->splits.test;
  Preprocessing p = base.run->data->preprocessing;
  p.scaling = parse_scaling(scale);
  p.fit(test);  // none and tf are constants: nothing is learned from the test images
  std::vector<int64_t> all(test.size());
  std::iota(all.begin(), all.end(), 0);
  Loader loader(test, all, 256, p, false, 0);
  return evaluate(base.run->model, loader);
}

Twin transfer_twin(ReproContext& ctx) {
  Twin w;
  ctx.heading("Real-data twin: a base pretrained on Fashion-MNIST classes 0-4, transferred to classes 5-9");
  const int64_t base_images = ctx.pick<int64_t>(3000, 20000), new_images = ctx.pick<int64_t>(500, 1000);
  const int64_t test_images = ctx.pick<int64_t>(1000, 5000);
  const int base_epochs = ctx.pick(2, 5), epochs = ctx.pick(3, 5);
  ctx.say(fmt::format(
      "convkit pretrains a base itself: {} on {} images of classes 0-4 (T-shirt, Trouser, "
      "Pullover, Dress, Coat), pixels / 255, {} epochs, saved (--save) with its preprocessing "
      "and the statistics of its inputs. Each class subset is written back in Fashion-MNIST's "
      "own IDX format, relabelled 0..4; test figures come from {} held-out images of its classes.",
      kBaseModel, base_images, base_epochs, test_images));
  const DataSplits fashion = load_data("fashion-mnist");
  const std::string base_dir = write_classes(ctx, fashion, "classes-0-4", {0, 1, 2, 3, 4});
  const std::string new_dir = write_classes(ctx, fashion, "classes-5-9", {5, 6, 7, 8, 9});
  TrainOptions base = repro_options(ctx, base_dir, kBaseModel, base_epochs);
  base.data.limit = base_images;
  base.data.test_limit = test_images;
  base.data.scale = "1/255";
  base.save = (fs::path(ctx.work_dir()) / "base.safetensors").string();
  w.base = &ctx.train("base: classes 0-4, / 255", base);

  // What the pretrained weights know depends on the inputs they are given.
  const double base_accuracy = w.base->last("test_accuracy");
  w.base_raw = evaluate_base_with(*w.base, "none");
  w.base_tf = evaluate_base_with(*w.base, "tf");
  Table t;
  t.title = "The base on its own test images (classes 0-4), no retraining";
  t.columns = {"inputs", "test accuracy", "test loss"};
  t.rows = {{"/ 255, as trained", fmt::format("{:.3f}", base_accuracy), metric_text(w.base->last("test_loss"))},
            {"raw 0..255", fmt::format("{:.3f}", w.base_raw.accuracy()), metric_text(w.base_raw.loss())},
            {"-1..1 (tf)", fmt::format("{:.3f}", w.base_tf.accuracy()), metric_text(w.base_tf.loss())}};
  ctx.table(t);
  ctx.number("real.base.test_accuracy", base_accuracy);
  ctx.number("real.base.raw_accuracy", w.base_raw.accuracy());
  ctx.number("real.base.tf_accuracy", w.base_tf.accuracy());
  ctx.number("real.base.test_loss", w.base->last("test_loss"));
  ctx.number("real.base.raw_loss", w.base_raw.loss());
  // A difference beyond the draw of the test set: two binomial standard
  // deviations (at most 0.5 / sqrt(n) each).
  const double noise = 2 * 0.5 / std::sqrt(static_cast<double>(test_images));
  w.base_tf_breaks = base_accuracy - w.base_tf.accuracy() > noise;
  w.base_raw_breaks = base_accuracy - w.base_raw.accuracy() > noise;
  ctx.check("The pretrained base itself loses accuracy on -1..1 inputs", w.base_tf_breaks,
            fmt::format("test accuracy {:.3f} as trained vs {:.3f} on -1..1 ({:+.1f} points; noise "
                        "about {:.1f})",
                        base_accuracy, w.base_tf.accuracy(),
                        100 * (w.base_tf.accuracy() - base_accuracy), 100 * noise));
  ctx.check("The pretrained base itself loses accuracy on raw 0..255 inputs", w.base_raw_breaks,
            fmt::format("test accuracy {:.3f} as trained vs {:.3f} on raw pixels ({:+.1f} points), "
                        "test loss {} vs {}",
                        base_accuracy, w.base_raw.accuracy(),
                        100 * (w.base_raw.accuracy() - base_accuracy),
                        metric_text(w.base->last("test_loss")), metric_text(w.base_raw.loss())));

  ctx.say(fmt::format(
      "Transfer: the base's two convolutions are imported (--init-from) and frozen (--freeze "
      "imported) under a new Flatten + Dense(5, softmax) head, trained on {} images of classes "
      "5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), the few labelled images transfer learning "
      "is for, for {} epochs with (a) the base's preprocessing, (b) raw 0..255 pixels, (c) the "
      "article's -1..1 (--scale tf). Same seed, data and budget: the commands differ only by "
      "--scale.",
      new_images, epochs));
  TrainOptions matching = repro_options(ctx, new_dir, kTransferModel, epochs);
  matching.data.limit = new_images;
  matching.data.test_limit = test_images;
  matching.init_from = base.save;
  matching.freeze = "imported";
  matching.data.scale = "1/255";
  TrainOptions raw = matching, tf = matching;
  raw.data.scale = "none";
  tf.data.scale = "tf";
  w.matching = &ctx.train("matching: / 255", matching);
  w.raw = &ctx.train("raw: 0..255", raw);
  w.tf = &ctx.train("tf: -1..1", tf);
  ctx.table(epoch_table("Per epoch (transfer to classes 5-9)", {w.matching, w.raw, w.tf},
                        {"loss", "test_loss", "test_accuracy"}));

  const double m = w.matching->last("test_accuracy"), r = w.raw->last("test_accuracy"),
               f = w.tf->last("test_accuracy");
  const double m_loss = w.matching->last("test_loss"), r_loss = w.raw->last("test_loss");
  ctx.number("real.matching.test_accuracy", m);
  ctx.number("real.raw.test_accuracy", r);
  ctx.number("real.tf.test_accuracy", f);
  ctx.number("real.matching.test_loss", m_loss);
  ctx.number("real.raw.test_loss", r_loss);
  ctx.number("real.tf.test_loss", w.tf->last("test_loss"));
  w.raw_costs = m - r > noise;
  w.tf_costs = m - f > noise;
  w.raw_loss_costs = r_loss > 1.5 * m_loss;
  ctx.check("Transferred with raw 0..255 pixels, the base gives a lower test accuracy", w.raw_costs,
            fmt::format("test accuracy {:.3f} matching vs {:.3f} raw ({:+.1f} points; noise about "
                        "{:.1f})",
                        m, r, 100 * (r - m), 100 * noise));
  ctx.check("Transferred with raw 0..255 pixels, the model is overconfident (higher test loss)",
            w.raw_loss_costs,
            fmt::format("test loss {} matching vs {} raw", metric_text(m_loss), metric_text(r_loss)));
  ctx.check("Transferred with -1..1 (tf) inputs, the base gives a lower test accuracy", w.tf_costs,
            fmt::format("test accuracy {:.3f} matching vs {:.3f} with -1..1 ({:+.1f} points)", m, f,
                        100 * (f - m)));
  auto mismatch = [](const ReproRun* run) {
    for (const Finding& x : run->findings)
      if (x.id == "preprocessing-mismatch" && x.severity != Severity::note) return true;
    return false;
  };
  w.flagged = mismatch(w.raw) && mismatch(w.tf) && !mismatch(w.matching);
  ctx.check("diagnose names preprocessing-mismatch against the base's recorded inputs, for the "
            "mismatched runs only",
            w.flagged,
            fmt::format("diagnosis: matching {}; raw {}; tf {}", w.matching->diagnosis(),
                        w.raw->diagnosis(), w.tf->diagnosis()));
  return w;
}

}  // namespace

void repro_pretrained_preprocessing(ReproContext& ctx) {
  const AsWritten a = vgg16_as_written(ctx);
  const Twin w = transfer_twin(ctx);

  std::string v = a.comment_wrong
      ? fmt::format("The article's fix is right and its explanation wrong: keras.applications."
                    "vgg16.preprocess_input does not map pixels to -1..1, it flips RGB to BGR and "
                    "subtracts the ImageNet means, leaving {:.0f}..{:.0f}; -1..1 is the tf mode of "
                    "other models (MobileNet, Inception). Each base must get its own mode. ",
                    a.caffe.all.min, a.caffe.all.max)
      : fmt::format("Measured here, caffe mode gives {:.1f}..{:.1f}, not what Keras documents: "
                    "check --scale caffe. ",
                    a.caffe.all.min, a.caffe.all.max);
  if (a.trained)
    v += fmt::format("The as-written VGG16 run ({}) ends at loss {} and {:.0f}% training "
                     "accuracy after 5 epochs; its labels are random, so whatever it reaches is "
                     "memorization of 100 images, and it cannot show the effect of "
                     "preprocessing. ",
                     ctx.options().init_from.empty() ? "Glorot-initialized, no ImageNet weights"
                                                     : "weights from " + ctx.options().init_from,
                     metric_text(a.run->last("loss")), 100 * a.run->last("accuracy"));
  else
    v += "The as-written VGG16 run was not trained (it needs --full); with random labels it "
         "could only memorize, and would show nothing about preprocessing either way. ";
  const double base = w.base->last("test_accuracy");
  v += fmt::format("On real images, convkit's base recognizes {:.1f}% of its own test images with "
                   "the / 255 it was trained on; ",
                   100 * base);
  v += w.base_tf_breaks ? fmt::format("on -1..1 only {:.1f}%: a shift changes which ReLU units "
                                      "fire, so the weights no longer compute what they learned. ",
                                      100 * w.base_tf.accuracy())
                        : fmt::format("on -1..1 {:.1f}%, no loss beyond noise. ",
                                      100 * w.base_tf.accuracy());
  v += w.base_raw_breaks
           ? fmt::format("On raw pixels it falls to {:.1f}%, with a test loss of {} instead of "
                         "{}. ",
                         100 * w.base_raw.accuracy(), metric_text(w.base_raw.loss()),
                         metric_text(w.base->last("test_loss")))
           : fmt::format("On raw pixels it still gets {:.1f}% right, because a pure scale passes "
                         "through ReLU and max pooling (relu(255 x) = 255 relu(x)) and leaves the "
                         "largest logit in place, but its test loss is {} instead of {}: its "
                         "logits are about 255 times too large. For VGG16, raw or -1..1 "
                         "pixels instead of caffe's mean-subtracted BGR are a shift as well, the "
                         "harmful kind. ",
                         100 * w.base_raw.accuracy(), metric_text(w.base_raw.loss()),
                         metric_text(w.base->last("test_loss")));
  const double m = w.matching->last("test_accuracy"), r = w.raw->last("test_accuracy"),
               f = w.tf->last("test_accuracy");
  const std::string m_loss = metric_text(w.matching->last("test_loss")),
                    r_loss = metric_text(w.raw->last("test_loss"));
  v += fmt::format("Transferred to new classes under a new head, the frozen base reaches "
                   "{:.1f}% with its own preprocessing, {:.1f}% on -1..1{} and {:.1f}% on raw "
                   "pixels{}, test loss {} against {}{}. ",
                   100 * m, 100 * f, w.tf_costs ? fmt::format(" ({:.1f} points less)", 100 * (m - f)) : " (within noise)",
                   100 * r, w.raw_costs ? fmt::format(" ({:.1f} points less)", 100 * (m - r)) : " (within noise)",
                   r_loss, m_loss, w.raw_loss_costs ? ": the head absorbs the scale, not the overconfidence" : "");
  if (!w.raw_costs || !w.tf_costs)
    v += "Training a head on top of a mismatched base hides part of the damage; it does not make "
         "the mismatch right. ";
  v += w.flagged ? "diagnose names the mismatch whatever the accuracy: the base's model file "
                   "records the statistics of its inputs, a run that imports it is compared with "
                   "them (preprocessing-mismatch), and the matching run is healthy."
                 : fmt::format("diagnose does not separate the runs as expected (matching: {}; "
                               "raw: {}; tf: {}).",
                               w.matching->diagnosis(), w.raw->diagnosis(), w.tf->diagnosis());
  ctx.verdict(v);
}

}  // namespace ck
