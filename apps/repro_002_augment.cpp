// Article 002, "Why is my TensorFlow image classification model failing to
// learn?", example 2: RandomFlip("horizontal"), RandomRotation(0.2),
// RandomZoom(0.2) on a small training set (augmentation).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "apps/repro.h"
#include "apps/repro_002_measures.h"
#include "core/format.h"
#include "data/augment.h"
#include "data/sources.h"

namespace ck {

namespace {

constexpr const char* kArticleAugment = "flip(horizontal) rotation(0.2) zoom(0.2)";
// Test accuracy differences within a point are run-to-run noise here.
constexpr double kNoise = 0.01;
// The same layers at ranges that keep a garment upright and framed.
constexpr const char* kGentleAugment = "flip(horizontal) rotation(0.03) zoom(0.1)";
// A small CNN that overfits a thousand images within a few dozen epochs.
constexpr const char* kAugmentModel =
    "conv2d(32,3,relu) maxpool(2) flatten dense(128,relu) dense(10,softmax)";

// A 28x28 gray image as characters, darkest to brightest.
std::vector<std::string> ascii(const std::vector<float>& x, int h, int w) {
  static const char ramp[] = " .:-=+*#%@";
  std::vector<std::string> rows;
  for (int y = 0; y < h; ++y) {
    std::string row;
    for (int i = 0; i < w; ++i) {
      const float v = std::clamp(x[y * w + i], 0.0f, 255.0f);
      row += ramp[std::min(9, static_cast<int>(v / 25.6f))];
    }
    rows.push_back(row);
  }
  return rows;
}

// Panels side by side, each under its caption.
std::string panels(const std::vector<std::pair<std::string, std::vector<std::string>>>& p) {
  std::string s;
  size_t width = 0;
  for (const auto& [caption, rows] : p) width = std::max({width, caption.size(), rows[0].size()});
  for (size_t i = 0; i < p.size(); ++i)
    s += (i ? "    " : "") + p[i].first + std::string(width - p[i].first.size(), ' ');
  s += "\n";
  // Rows blank in every panel are left out at the top and the bottom.
  auto blank = [&](size_t y) {
    for (const auto& panel : p)
      if (panel.second[y].find_first_not_of(' ') != std::string::npos) return false;
    return true;
  };
  size_t top = 0, bottom = p[0].second.size();
  while (top + 1 < bottom && blank(top)) ++top;
  while (bottom > top + 1 && blank(bottom - 1)) --bottom;
  for (size_t y = top; y < bottom; ++y) {
    for (size_t i = 0; i < p.size(); ++i)
      s += (i ? "    " : "") + p[i].second[y] + std::string(width - p[i].second[y].size(), ' ');
    while (!s.empty() && s.back() == ' ') s.pop_back();
    s += "\n";
  }
  return s;
}

// The epoch (1-based) with the lowest test loss.
int best_epoch(const ReproRun& r) {
  int best = 0;
  for (int e = 1; e < r.epochs(); ++e)
    if (r.figure("test_loss", e) < r.figure("test_loss", best)) best = e;
  return best + 1;
}

}  // namespace

void repro_augmentation(ReproContext& ctx) {
  ctx.heading("As written: RandomFlip(\"horizontal\"), RandomRotation(0.2), RandomZoom(0.2)");
  ctx.say(
      "The article's pipeline is three Keras layers. RandomRotation's factor is a fraction of a "
      "full turn: 0.2 draws angles uniformly in +-0.2 x 360 = +-72 degrees (so 58% of the draws "
      "turn the image by more than 30 degrees); RandomZoom(0.2) zooms by a factor in [0.8, 1.2]; "
      "the flip mirrors left-right half the time. convkit's --augment \"" +
      std::string(kArticleAugment) +
      "\" runs the same layers (reflect fill, bilinear). Below, the first Fashion-MNIST training "
      "image and the flip, and rotation and zoom at the end of their ranges.");
  const DataSplits fmnist = load_data("fashion-mnist");
  const Dataset& train = fmnist.train;
  const int h = static_cast<int>(train.sample_shape[0]),
            w = static_cast<int>(train.sample_shape[1]);
  std::vector<float> image(train.sample_size()), out(train.sample_size());
  train.copy_sample(0, image.data());
  auto warp = [&](const float m[6]) {
    affine_warp(image.data(), h, w, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
    return ascii(out, h, w);
  };
  float m[6];
  flip_image(image.data(), h, w, 1, true, false, out.data());
  const std::vector<std::string> flipped = ascii(out, h, w);
  rotation_matrix(static_cast<float>(0.2 * 2 * std::numbers::pi), h, w, m);
  const std::vector<std::string> rotated = warp(m);
  zoom_matrix(0.8f, 0.8f, h, w, m);
  const std::vector<std::string> zoomed_in = warp(m);
  const std::string name = train.class_names[train.label(0)];
  ctx.preformatted(
      panels({{"original (" + name + ")", ascii(image, h, w)}, {"flip(horizontal)", flipped}}) +
      "\n" +
      panels({{"rotation(0.2) at +72 degrees", rotated}, {"zoom(0.2) at 0.8 (in)", zoomed_in}}));

  ctx.heading("Real-data twin: a small Fashion-MNIST training set, without and with augmentation");
  const int epochs = ctx.pick(8, 30);
  TrainOptions none = repro_options(ctx, "fashion-mnist", kAugmentModel, epochs);
  none.data.limit = ctx.pick<int64_t>(400, 1000);
  none.data.test_limit = ctx.pick<int64_t>(1000, 10000);
  ctx.say(fmt::format(
      "A small CNN, {}, on the first {} training images for {} epochs{}, tested on {} test "
      "images: without augmentation, with the article's pipeline, with each of its transforms "
      "alone, and with the same layers at ranges that keep a garment upright (gentle: +-11 "
      "degrees, +-10% zoom). Same seed, data and budget; the commands differ only by --augment. "
      "The training accuracy is measured twice: on the augmented batches as trained, and "
      "afterwards on the training images as they are, which is the one to hold against the "
      "test accuracy.",
      kAugmentModel, with_commas(none.data.limit), epochs,
      ctx.quick() ? " (--quick; the full budget trains 1,000 images for 30 epochs)" : "",
      with_commas(none.data.test_limit)));
  const std::vector<std::pair<std::string, std::string>> variants = {{"article", kArticleAugment},
                                                                     {"flip", "flip(horizontal)"},
                                                                     {"rotation", "rotation(0.2)"},
                                                                     {"zoom", "zoom(0.2)"},
                                                                     {"gentle", kGentleAugment}};
  ReproRun& b = ctx.train("none: no augmentation", none);
  std::vector<ReproRun*> runs = {&b};
  for (const auto& [who, spec] : variants) {
    TrainOptions o = none;
    o.data.augment = spec;
    runs.push_back(&ctx.train(who + ": " + spec, o));
  }
  ReproRun& a = *runs[1];
  ctx.table(epoch_table("Per epoch: no augmentation vs the article's pipeline", {&b, &a},
                        {"loss", "accuracy", "test_loss", "test_accuracy"}));

  Table t;
  t.title = fmt::format("After {} epochs (gap = clean training accuracy - test accuracy)", epochs);
  t.columns = {
      "run",       "--augment", "train acc (augmented)",     "train acc (clean)", "test acc",
      "test loss", "gap",       "lowest test loss at epoch", "diagnosis"};
  std::map<std::string, double> gap, test_accuracy, test_loss, gain;
  for (ReproRun* r : runs) {
    const std::string who = r->label.substr(0, r->label.find(':'));
    const double clean = on_training_images(*r).accuracy();
    gap[who] = clean - r->last("test_accuracy");
    test_accuracy[who] = r->last("test_accuracy");
    test_loss[who] = r->last("test_loss");
    gain[who] = test_accuracy[who] - test_accuracy["none"];
    ctx.number("real." + who + ".clean_train_accuracy", clean);
    ctx.number("real." + who + ".test_accuracy", test_accuracy[who]);
    ctx.number("real." + who + ".test_loss", test_loss[who]);
    ctx.number("real." + who + ".gap", gap[who]);
    if (who != "none") ctx.number("real." + who + ".gain", gain[who]);
    t.rows.push_back({who, r->options.data.augment.empty() ? "(none)" : r->options.data.augment,
                      fmt::format("{:.3f}", r->last("accuracy")), fmt::format("{:.3f}", clean),
                      fmt::format("{:.3f}", test_accuracy[who]), metric_text(test_loss[who]),
                      fmt::format("{:+.3f}", gap[who]), std::to_string(best_epoch(*r)),
                      r->diagnosis()});
  }
  ctx.table(t);

  const bool overfits = ctx.check(
      "Without augmentation the model overfits the small training set", gap["none"] >= 0.1,
      fmt::format("clean training accuracy {:.3f} vs test accuracy {:.3f} (gap {:+.3f}); lowest "
                  "test loss at epoch {} of {}, {} at the end",
                  gap["none"] + test_accuracy["none"], test_accuracy["none"], gap["none"],
                  best_epoch(b), epochs, metric_text(test_loss["none"])));
  const bool shrinks = ctx.check(
      "The article's augmentation shrinks the train/test gap", gap["article"] < gap["none"],
      fmt::format("gap {:+.3f} with augmentation vs {:+.3f} without", gap["article"], gap["none"]));
  const bool improves = ctx.check(
      "The article's augmentation raises test accuracy (by more than a point)",
      gain["article"] > kNoise,
      fmt::format(
          "test accuracy {:.3f} with vs {:.3f} without ({:+.1f} points); test loss {} vs {}",
          test_accuracy["article"], test_accuracy["none"], 100 * gain["article"],
          metric_text(test_loss["article"]), metric_text(test_loss["none"])));
  const std::map<std::string, std::string> names = {
      {"flip", "Horizontal flip"}, {"rotation", "Rotation(0.2)"}, {"zoom", "Zoom(0.2)"}};
  for (const auto& [who, title] : names)
    ctx.check(title + " alone raises test accuracy (by more than a point)", gain[who] > kNoise,
              fmt::format("test accuracy {:.3f} vs {:.3f} without augmentation ({:+.1f} points; "
                          "gap {:+.3f})",
                          test_accuracy[who], test_accuracy["none"], 100 * gain[who], gap[who]));
  const bool rotation_worst = gain["rotation"] < gain["flip"] && gain["rotation"] < gain["zoom"];
  ctx.check(
      "Rotation(0.2) is the transform that costs the most", rotation_worst,
      fmt::format("test accuracy change alone: flip {:+.1f}, rotation {:+.1f}, zoom {:+.1f} points",
                  100 * gain["flip"], 100 * gain["rotation"], 100 * gain["zoom"]));
  const bool gentle_helps = ctx.check(
      "Gentle ranges (+-11 degrees, +-10% zoom) do better than the article's",
      gain["gentle"] > gain["article"],
      fmt::format(
          "test accuracy {:.3f} gentle vs {:.3f} article vs {:.3f} none; test loss {} vs {} vs {}",
          test_accuracy["gentle"], test_accuracy["article"], test_accuracy["none"],
          metric_text(test_loss["gentle"]), metric_text(test_loss["article"]),
          metric_text(test_loss["none"])));

  std::string v =
      overfits ? fmt::format(
                     "On {} images without augmentation the model overfits: {:.1f}% "
                     "training accuracy against {:.1f}% on the test images, and "
                     "the test loss is lowest at epoch {} of {}",
                     with_commas(none.data.limit), 100 * (gap["none"] + test_accuracy["none"]),
                     100 * test_accuracy["none"], best_epoch(b), epochs)
               : fmt::format(
                     "At this budget the model does NOT overfit much without "
                     "augmentation ({:.1f}% training vs {:.1f}% test accuracy)",
                     100 * (gap["none"] + test_accuracy["none"]), 100 * test_accuracy["none"]);
  v += fmt::format(" (diagnosis: {}). ", b.diagnosis());
  if (shrinks && improves)
    v += fmt::format(
        "The article's pipeline does what it claims here: the gap shrinks from "
        "{:.1f} to {:.1f} points and test accuracy rises {:.1f} points. ",
        100 * gap["none"], 100 * gap["article"], 100 * gain["article"]);
  else if (shrinks && gain["article"] >= -kNoise)
    v += fmt::format(
        "The article's pipeline shrinks the gap from {:.1f} to {:.1f} points, but "
        "test accuracy stays within a point ({:+.1f}). ",
        100 * gap["none"], 100 * gap["article"], 100 * gain["article"]);
  else if (shrinks)
    v += fmt::format(
        "The article's pipeline shrinks the gap from {:.1f} to {:.1f} points, but "
        "by making training harder, not the model better: test accuracy falls "
        "{:.1f} points ({:.1f}% vs {:.1f}%). ",
        100 * gap["none"], 100 * gap["article"], -100 * gain["article"],
        100 * test_accuracy["article"], 100 * test_accuracy["none"]);
  else
    v += fmt::format(
        "The article's pipeline does NOT shrink the gap ({:.1f} vs {:.1f} points) "
        "and moves test accuracy {:+.1f} points. ",
        100 * gap["article"], 100 * gap["none"], 100 * gain["article"]);
  std::string helped, hurt, same;
  for (const char* who : {"flip", "rotation", "zoom"}) {
    std::string& list = gain[who] > kNoise ? helped : gain[who] < -kNoise ? hurt : same;
    list += fmt::format("{}{} ({:+.1f})", list.empty() ? "" : ", ", who, 100 * gain[who]);
  }
  std::vector<std::string> parts;
  if (!helped.empty()) parts.push_back(helped + " raised it");
  if (!same.empty()) parts.push_back(same + " left it within a point");
  if (!hurt.empty()) parts.push_back(hurt + " lowered it");
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) joined += (i ? "; " : "") + parts[i];
  v += fmt::format("Alone, in points of test accuracy, {}. ", joined);
  if (rotation_worst)
    v += fmt::format(
        "Rotation by up to 72 degrees costs the most: Fashion-MNIST's garments are "
        "photographed upright and centered, so the test set never shows a tilted "
        "shoe, and the model spends its capacity on views it will never see. "
        "Augmentation must respect the data's own invariances{}. ",
        gain["flip"] >= -kNoise ? ": a mirrored garment is still the same garment, a "
                                  "garment on its side is not what this test set holds"
                                : "");
  else
    v += fmt::format(
        "Rotation by up to 72 degrees is NOT the costliest transform here (flip "
        "{:+.1f}, rotation {:+.1f}, zoom {:+.1f} points). ",
        100 * gain["flip"], 100 * gain["rotation"], 100 * gain["zoom"]);
  const bool calmer =
      test_loss["gentle"] < test_loss["none"] && test_loss["zoom"] < test_loss["none"];
  if (calmer)
    v += fmt::format(
        "What mild augmentation does buy is a lower test loss once the plain model "
        "overfits: without augmentation it ends at {} (lowest at epoch {}), with zoom "
        "alone at {}, with the gentle pipeline at {}. ",
        metric_text(test_loss["none"]), best_epoch(b), metric_text(test_loss["zoom"]),
        metric_text(test_loss["gentle"]));
  v += gentle_helps ? fmt::format(
                          "With ranges that fit the data (flip, +-11 degrees, +-10% zoom) the same "
                          "layers do better than the article's, {:.1f}% against {:.1f}%, {} no "
                          "augmentation ({:+.1f} points, test loss {} against {}).",
                          100 * test_accuracy["gentle"], 100 * test_accuracy["article"],
                          gain["gentle"] > kNoise    ? "and beat"
                          : gain["gentle"] < -kNoise ? "yet still trail"
                                                     : "and match",
                          100 * gain["gentle"], metric_text(test_loss["gentle"]),
                          metric_text(test_loss["none"]))
                    : fmt::format(
                          "Gentler ranges (flip, +-11 degrees, +-10% zoom) do NOT do better than "
                          "the article's here ({:.1f}% vs {:.1f}%).",
                          100 * test_accuracy["gentle"], 100 * test_accuracy["article"]);
  ctx.verdict(v);
}

}  // namespace ck
