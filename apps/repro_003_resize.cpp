// Article 003, example 2 (with article 001, example 1): images resized to
// 64x64 for training and loaded at their own size for inference
// (resize-at-inference).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "apps/commands.h"
#include "apps/input_stats.h"
#include "apps/model_builder.h"
#include "apps/repro.h"
#include "core/error.h"
#include "core/format.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "data/export.h"
#include "data/image.h"
#include "data/sources.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

constexpr const char* kFlatten = "conv2d(16,3,relu) maxpool(2) flatten dense(4,softmax)";
constexpr const char* kGlobalPool =
    "conv2d(8,3,relu) maxpool(2) conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) maxpool(2) "
    "conv2d(32,3,relu) globalavgpool dense(4,softmax)";

// `convkit predict ARGS` run in process, as a user would type it: the error
// it stops with, or "" when it predicts (its output then goes to stdout).
std::string predict_error(const std::string& args) {
  CLI::App app;
  for (const Command& c : commands())
    if (std::string(c.name) == "predict") c.setup(app);
  try {
    app.parse(fmt::format("{} --threads {} --gemm {}", args, threads(),
                          gemm_backend_name(gemm_backend())),
              false);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct TestImage {
  std::string path;
  int label = 0;
  Image image;
};

// The exported test images, at their own sizes, labelled by class folder.
std::vector<TestImage> read_test_images(const fs::path& dir,
                                        const std::vector<std::string>& classes) {
  std::vector<TestImage> images;
  for (int k = 0; k < static_cast<int>(classes.size()); ++k) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir / classes[k]))
      files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) images.push_back({f, k, decode_image(f)});
  }
  return images;
}

// `image` brought to h x w and scaled exactly as the trained preprocessing
// would bring it to its own stored size.
Tensor at_size(const Preprocessing& trained, const Image& image, int h, int w) {
  Preprocessing p = trained;
  p.stored_shape = {h, w, trained.stored_shape[2]};
  p.resize = true;
  Tensor x = p.image_input(image);
  return x.reshaped({1, h, w, trained.stored_shape[2]});
}

struct SizeResult {
  double accuracy = 0, loss = 0;
};

// Accuracy and mean cross-entropy of `model` with every image at `side`
// (0: each at its own size, one at a time; otherwise in batches).
SizeResult at_side(Model& model, const Preprocessing& pre, const std::vector<TestImage>& images,
                   int side) {
  SizeResult r;
  const int64_t n = static_cast<int64_t>(images.size()), batch = side ? 50 : 1;
  Tensor x, p;
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t m = std::min(batch, n - begin);
    for (int64_t i = 0; i < m; ++i) {
      const Image& image = images[begin + i].image;
      Tensor one = at_size(pre, image, side ? side : image.height, side ? side : image.width);
      if (i == 0) {
        Shape shape = one.shape();
        shape[0] = m;
        x = Tensor(shape);
      }
      std::copy(one.data(), one.data() + one.size(), x.data() + i * one.size());
    }
    model.predict(x, p);
    const int64_t K = p.dim(1);
    for (int64_t i = 0; i < m; ++i) {
      const float* q = p.data() + i * K;
      const int label = images[begin + i].label;
      r.accuracy += std::max_element(q, q + K) - q == label;
      r.loss -= std::log(std::max(q[label], 1e-7f));
    }
  }
  r.accuracy /= n, r.loss /= n;
  return r;
}

}  // namespace

void repro_resize_at_inference(ReproContext& ctx) {
  ctx.heading("As written: train on 64x64 images, load a test image without target_size");
  ctx.say(
      "The article resizes its training images to 64x64 when loading them (load_img with "
      "target_size) and loads the test image without it: the array keeps the file's own size, "
      "which a model built for 64x64 cannot take. The article gives no model; convkit uses a "
      "small CNN ending in Flatten, and one ending in global average pooling, on four "
      "Fashion-MNIST classes exported as JPEG files at random sizes 40..128 (RGB, as load_img "
      "gives).");
  const fs::path dir = ctx.work_dir();
  const int64_t train_images = ctx.pick<int64_t>(600, 4000),
                test_images = ctx.pick<int64_t>(200, 1000);
  const DataSplits fm = load_data("fashion-mnist");
  ExportOptions e;
  e.format = "jpg";
  e.channels = 3;
  e.classes = {0, 1, 8, 9};  // T-shirt/top, Trouser, Bag, Ankle boot
  e.seed = ctx.seed();
  e.limit = train_images;
  ExportOptions fixed = e, random = e;
  fixed.height = fixed.width = 64;
  random.min_side = 40, random.max_side = 128;
  export_images(fm.train, (dir / "resized-64").string(), fixed);
  const ExportResult exported = export_images(fm.train, (dir / "random/train").string(), random);
  random.limit = test_images;
  export_images(*fm.test, (dir / "random/test").string(), random);

  const int epochs = ctx.pick(4, 5);
  // As written: resized by the user's own code, so the model file knows only "64x64 images".
  TrainOptions outside = repro_options(ctx, (dir / "resized-64").string(), kFlatten, epochs);
  outside.save = (dir / "flatten-outside.safetensors").string();
  TrainOptions inside = repro_options(ctx, (dir / "random").string(), kFlatten, epochs);
  inside.data.resize = "64x64";
  inside.save = (dir / "flatten-resize.safetensors").string();
  TrainOptions pooled = inside;
  pooled.model = kGlobalPool;
  pooled.save = (dir / "globalavgpool-resize.safetensors").string();
  ReproRun& a = ctx.train("outside: flatten, images resized before convkit", outside);
  ReproRun& b = ctx.train("flatten: --resize 64x64", inside);
  ReproRun& c = ctx.train("globalavgpool: --resize 64x64", pooled);
  for (const ReproRun* r : {&a, &b, &c})
    save_model(r->options.save, r->run->model, trained_model_info(*r->run, r->outcome));
  ctx.table(epoch_table("Per epoch", {&a, &b, &c}, {"loss", "accuracy"}));

  // One test file that is not 64x64.
  const std::vector<TestImage> tests = read_test_images(dir / "random/test", exported.class_dirs);
  const TestImage* odd = &tests[0];
  for (const TestImage& t : tests)
    if (t.image.height != 64 && t.image.width != 64) {
      odd = &t;
      break;
    }
  const std::string odd_shape = fmt::format("{}x{}x3", odd->image.height, odd->image.width);
  ctx.heading("What `convkit predict` does with " + fs::path(odd->path).filename().string() + " (" +
              odd_shape + ")");
  const std::string err_outside =
      predict_error(fmt::format("--model {} {}", outside.save, odd->path));
  const std::string err_raw =
      predict_error(fmt::format("--model {} --no-preprocess {}", inside.save, odd->path));
  const std::string err_pooled =
      predict_error(fmt::format("--model {} --no-preprocess {}", pooled.save, odd->path));
  ctx.preformatted(fmt::format(
      "$ convkit predict --model flatten-outside.safetensors FILE\nconvkit: {}\n\n"
      "$ convkit predict --model flatten-resize.safetensors --no-preprocess FILE\nconvkit: {}\n\n"
      "$ convkit predict --model globalavgpool-resize.safetensors --no-preprocess FILE\nconvkit: "
      "{}",
      err_outside.empty() ? "(ran)" : err_outside, err_raw.empty() ? "(ran)" : err_raw,
      err_pooled.empty() ? "(ran)" : err_pooled));
  const std::string actual = fmt::format("({}, {}, 3)", odd->image.height, odd->image.width);
  const bool names_outside = ctx.check(
      "A model trained on images resized outside convkit refuses an un-resized image, naming both "
      "shapes",
      err_outside.find(odd_shape) != std::string::npos &&
          err_outside.find("64x64x3") != std::string::npos,
      fmt::format("predict stopped with: {}",
                  err_outside.empty() ? "(nothing: it ran)" : err_outside));
  const bool names_raw = ctx.check(
      "predict --no-preprocess (the article's load_img without target_size) stops the Flatten "
      "model, naming both shapes",
      err_raw.find(actual) != std::string::npos && err_raw.find("(64, 64, 3)") != std::string::npos,
      fmt::format("predict stopped with: {}", err_raw.empty() ? "(nothing: it ran)" : err_raw));

  // The model file carries the resize: read through it, the un-resized test
  // files give the test accuracy training measured (one image apart at most,
  // should a near tie round differently in a batch of one).
  LoadedModel flat = load_model(inside.save);
  const SizeResult through_file = at_side(flat.model, flat.info.preprocessing, tests, 64);
  ctx.number("flatten.test_accuracy", b.last("test_accuracy"));
  ctx.number("flatten.predict_accuracy", through_file.accuracy);
  const bool carries = ctx.check(
      "The model file carries its resize: predict on the un-resized files matches training's test "
      "accuracy",
      std::fabs(through_file.accuracy - b.last("test_accuracy")) <= 1.0 / tests.size() + 1e-12,
      fmt::format("{} test files at sizes 40..128 each read through the file's preprocessing "
                  "({}): accuracy {:.4f}; training's test accuracy {:.4f}",
                  tests.size(), flat.info.preprocessing.describe(), through_file.accuracy,
                  b.last("test_accuracy")));

  // The global-pooling model built for any size, as Keras's input_shape=(None, None, 3).
  ctx.heading("A size-agnostic model: the same weights built for (-1, -1, 3)");
  LoadedModel saved = load_model(pooled.save);
  Model any = make_model(kGlobalPool, Shape{-1, -1, 3});
  any.compile(saved.model.loss());
  const ImportReport imported = import_weights(any, pooled.save);
  ctx.say(fmt::format(
      "convkit builds a model for its data, so the trained file records input {}: Model::forward "
      "and predict refuse any other size, the global-pooling model too (above). Global pooling "
      "makes every weight's shape independent of the image size, so the same layers built for "
      "(-1, -1, 3) take the file's {} tensors unchanged ({} left out) and run at any size, as "
      "Keras does with input_shape=(None, None, 3). The scaling is the file's ({}); only the "
      "resize is skipped or changed.",
      shape_str(saved.model.input_shape()), imported.loaded.size(),
      imported.not_in_file.size() + imported.shape_mismatch.size(),
      saved.info.preprocessing.describe()));
  const std::vector<int> sides = ctx.quick() ? std::vector<int>{48, 64, 96, 128}
                                             : std::vector<int>{40, 48, 56, 64, 80, 96, 112, 128};
  Table t;
  t.title = fmt::format("The global-pooling model on {} test images at other sizes", tests.size());
  t.columns = {"inference size", "accuracy", "loss", "vs 64x64"};
  const SizeResult at64 = at_side(any, saved.info.preprocessing, tests, 64);
  double worst = 1;
  for (int side : sides) {
    const SizeResult r = side == 64 ? at64 : at_side(any, saved.info.preprocessing, tests, side);
    worst = std::min(worst, r.accuracy);
    t.rows.push_back({fmt::format("{}x{}", side, side), fmt::format("{:.3f}", r.accuracy),
                      metric_text(r.loss),
                      fmt::format("{:+.1f} points", 100 * (r.accuracy - at64.accuracy))});
    ctx.number(fmt::format("gap.accuracy_{}", side), r.accuracy);
  }
  const SizeResult native = at_side(any, saved.info.preprocessing, tests, 0);
  t.rows.push_back({"own size (40..128)", fmt::format("{:.3f}", native.accuracy),
                    metric_text(native.loss),
                    fmt::format("{:+.1f} points", 100 * (native.accuracy - at64.accuracy))});
  ctx.table(t);
  // "Any size" has a floor: four valid 3x3 convolutions and three 2x2 pools need 38 pixels.
  std::string too_small;
  try {
    Tensor p;
    any.predict(Tensor({1, 32, 32, 3}), p);
  } catch (const Error& e) {
    too_small = e.what();
  }
  ctx.say("Any size, down to a floor: at 32x32 " +
          (too_small.empty() ? std::string("it runs too.") : "convkit stops: " + too_small + "."));
  ctx.number("gap.accuracy_64", at64.accuracy);
  ctx.number("gap.accuracy_native", native.accuracy);
  ctx.number("gap.test_accuracy", c.last("test_accuracy"));

  // Would convkit's input check have caught the silent case?
  const InputStats trained = InputStats::from_json(saved.info.training["input_stats"]);
  int64_t flagged = 0, other_size = 0;
  for (const TestImage& x : tests) {
    if (x.image.height == 64 && x.image.width == 64) continue;
    ++other_size;
    const std::vector<Finding> f = compare_input_stats(
        trained,
        input_stats_of(at_size(saved.info.preprocessing, x.image, x.image.height, x.image.width)));
    flagged += !f.empty() && f[0].id == "preprocessing-mismatch";
  }
  ctx.number("gap.flagged_share", other_size ? double(flagged) / other_size : 0);

  const double drop = at64.accuracy - native.accuracy;
  const double noise = 2 * std::sqrt(at64.accuracy * (1 - at64.accuracy) / tests.size());
  const bool runs = err_pooled.find("(64, 64, 3)") != std::string::npos &&
                    imported.not_in_file.empty() && imported.shape_mismatch.empty();
  const bool loses = ctx.check(
      "Built for any size, the global-pooling model runs on un-resized images and silently loses "
      "accuracy",
      runs && drop > noise,
      fmt::format(
          "accuracy {:.3f} at 64x64 (the training pipeline), {:.3f} with each image at its "
          "own size ({:+.1f} points; two standard errors {:.1f}), {:.3f} at the worst size tried",
          at64.accuracy, native.accuracy, -100 * drop, 100 * noise, worst));
  const bool caught = ctx.check(
      "convkit's input check names the size mismatch the global-pooling model hides",
      other_size > 0 && flagged == other_size,
      fmt::format(
          "{} of {} test images not at 64x64 named preprocessing-mismatch against the input "
          "statistics recorded in the model file",
          flagged, other_size));

  std::string v;
  v += names_outside && names_raw
           ? "The article's mistake cannot pass silently in convkit with the usual model: a "
             "Flatten model takes one size, and predict stops with both shapes and the fix, "
             "whether the resize was done outside convkit or skipped with --no-preprocess. "
           : "The Flatten model did NOT stop as expected on an un-resized image (see the "
             "messages above). ";
  v += carries ? fmt::format(
                     "Trained with --resize 64x64, the model file carries the resize and "
                     "predict applies it by itself: the {} test files at their own sizes "
                     "give {:.1f}%, {} the test accuracy training measured ({:.1f}%). ",
                     tests.size(), 100 * through_file.accuracy,
                     through_file.accuracy == b.last("test_accuracy") ? "exactly"
                                                                      : "within one image of",
                     100 * b.last("test_accuracy"))
               : fmt::format(
                     "Read through the model file, the test files give {:.1f}% but "
                     "training measured {:.1f}%: the recorded preprocessing is NOT "
                     "reproducing training's. ",
                     100 * through_file.accuracy, 100 * b.last("test_accuracy"));
  v += loses ? fmt::format(
                   "The dangerous case is the size-agnostic model: with global pooling "
                   "it runs on any size and nothing fails, but accuracy falls from "
                   "{:.1f}% at 64x64 to {:.1f}% with each image at its own size, and to "
                   "{:.1f}% at the worst size tried. ",
                   100 * at64.accuracy, 100 * native.accuracy, 100 * worst)
             : fmt::format(
                   "The size-agnostic model did NOT lose accuracy beyond noise at other "
                   "sizes here ({:.1f}% at 64x64, {:.1f}% at their own sizes). ",
                   100 * at64.accuracy, 100 * native.accuracy);
  v += caught ? "convkit's predict refuses it too (the file records 64x64x3), and the input "
                "statistics in the file name every other size as a preprocessing mismatch."
              : fmt::format("The input-statistics check named only {} of {} other-size images.",
                            flagged, other_size);
  ctx.verdict(v);
}

}  // namespace ck
