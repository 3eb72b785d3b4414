// convkit data: look at data before training on it.
//   export   write an IDX dataset (Fashion-MNIST...) as a folder of PNG/JPEG files
//   preview  a PNG grid of a training batch as the model sees it, before and after augmentation
//   stats    classes and imbalance, image sizes, value ranges, missing values
//   bench    pipeline throughput, and how much of a training epoch waits for data
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/interrupt.h"
#include "apps/model_builder.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "core/format.h"
#include "core/parallel.h"
#include "data/export.h"
#include "data/preview.h"
#include "data/stats.h"
#include "optim/optimizer.h"

namespace ck {

namespace {

struct ExportCli {
  std::string data = "fashion-mnist", to, format = "png", split = "train", classes, imbalance, size, random_size;
  std::string resize_method = "bilinear";
  int64_t limit = 0, test_limit = 0;
  int channels = 0, quality = 90;
  uint64_t seed = 42;
};

void run_export(const ExportCli& c) {
  if (c.to.empty()) fail("give the output directory with --to DIR");
  check_export_target(c.to);  // before the data is read; --split both writes under it
  DataSplits splits = load_data(c.data);
  ExportOptions o;
  o.format = c.format == "jpeg" ? "jpg" : c.format;
  o.quality = c.quality;
  o.seed = c.seed;
  o.channels = c.channels;
  o.method = parse_resize_method(c.resize_method);
  if (c.channels != 0 && c.channels != 1 && c.channels != 3) fail("--channels must be 1 or 3, got {}", c.channels);
  if (!c.classes.empty()) o.classes = parse_class_list(c.classes, splits.train.num_classes());
  const size_t kept = o.classes.empty() ? splits.train.class_names.size() : o.classes.size();
  if (!c.size.empty() && !c.random_size.empty()) fail("give --size or --random-size, not both");
  if (!c.size.empty()) {
    Shape s = parse_shape(c.size, "--size");
    if (s.size() == 1) s.push_back(s[0]);
    if (s.size() != 2 || s[0] < 1 || s[1] < 1 || s[0] > 8192 || s[1] > 8192)
      fail("--size {}: give HxW from 1 to 8192, e.g. --size 224x224", c.size);
    o.height = static_cast<int>(s[0]), o.width = static_cast<int>(s[1]);
  }
  if (!c.random_size.empty()) {
    int lo = 0, hi = 0;
    char tail = 0;
    if (std::sscanf(c.random_size.c_str(), "%d-%d%c", &lo, &hi, &tail) != 2 || lo < 1 || hi < lo || hi > 8192)
      fail("--random-size {}: give a range MIN-MAX of sides in pixels, e.g. --random-size 24-96", c.random_size);
    o.min_side = lo, o.max_side = hi;
  }
  if (c.split != "train" && c.split != "test" && c.split != "both")
    fail("--split {}: choose train, test or both", c.split);
  if (c.split != "train" && !splits.test) fail("{} has no test split", splits.name);
  namespace fs = std::filesystem;
  int64_t files_written = 0;
  int64_t empty_classes = 0;  // folders --limit left without images
  auto write = [&](const Dataset& data, const std::string& dir, int64_t limit, bool imbalanced) {
    ExportOptions eo = o;
    eo.limit = limit;
    eo.stop_requested = interrupt_requested;
    if (imbalanced && !c.imbalance.empty()) eo.imbalance = parse_ratio(c.imbalance, kept);
    const ExportResult r = export_images(data, dir, eo);
    files_written += r.files;
    empty_classes += std::count(r.counts.begin(), r.counts.end(), int64_t{0});
    if (r.stopped)
      throw Interrupted(
          fmt::format("data export stopped after {} files", with_commas(files_written)));
    std::string per_class;
    for (size_t k = 0; k < r.counts.size(); ++k)
      per_class += fmt::format("{}    {:<24} {:>8}\n", k ? "" : "", r.class_dirs[k], with_commas(r.counts[k]));
    fmt::print("Wrote {} {} files to {}:\n{}", with_commas(r.files), eo.format == "jpg" ? "JPEG" : "PNG", dir,
               per_class);
  };
  const std::string size_note = o.max_side ? fmt::format("random sizes {}-{} px a side", o.min_side, o.max_side)
                                : o.height ? fmt::format("{}x{}", o.height, o.width)
                                           : shape_compact(splits.train.sample_shape);
  fmt::print("Exporting {} ({}, {}, seed {})\n", splits.name, size_note,
             o.channels ? channels_name(o.channels) : "channels as stored", o.seed);
  // All or nothing: a folder with some classes half written would train
  // without complaint. Ctrl-C stops between files; the rollback then removes them.
  ExportRollback rollback(c.to);
  const StopPoint stop_point;
  auto with_rollback = [&](const std::string& message) {
    const std::string undone = rollback.undo();
    return undone.empty() ? message : message + "; " + undone;
  };
  try {
    if (c.split == "both") {
      write(splits.train, (fs::path(c.to) / "train").string(), c.limit, true);
      write(*splits.test, (fs::path(c.to) / "test").string(), c.test_limit, false);
      if (!c.imbalance.empty())
        fmt::print(
            "(--imbalance applies to the training split; the test split keeps the source's "
            "balance)\n");
    } else {
      // One split: --limit counts it (--test-limit also works for --split test).
      const int64_t limit = c.split == "test" && c.limit == 0 ? c.test_limit : c.limit;
      write(c.split == "test" ? *splits.test : splits.train, c.to, limit, true);
    }
  } catch (const Interrupted& e) {
    throw Interrupted(with_rollback(e.what()));
  } catch (const Error& e) {
    throw Error(with_rollback(e.what()));
  }
  rollback.keep();
  // train and evaluate refuse a class folder without images ("holds no images").
  if (empty_classes > 0)
    fmt::print(
        "{} class folder{} got no images, so train and evaluate would refuse {}: export one image "
        "per class or more, or fewer classes with --classes. Its files can be predicted: convkit "
        "predict --model MODEL.safetensors {}\n",
        empty_classes, empty_classes == 1 ? "" : "s", shell_word(c.to), shell_word(c.to));
  // A test split is for judging a model, not for training one.
  else if (c.split == "test")
    fmt::print(
        "Evaluate a model on it: convkit evaluate MODEL.safetensors --data {0}\n"
        "or predict its files: convkit predict --model MODEL.safetensors {0}\n",
        shell_word(c.to));
  else
    fmt::print("Train on it: convkit train --data {}{}\n", shell_word(c.to),
               o.max_side ? fmt::format(" --resize {}x{}", splits.train.sample_shape[0],
                                        splits.train.sample_shape[1])
                          : "");
}

void setup_export(CLI::App& cmd) {
  auto c = std::make_shared<ExportCli>();
  cmd.add_option("--to", c->to, "Output directory (new or empty): DIR/<index>-<class>/<index>.png")->required();
  cmd.add_option("--data", c->data, "Source with 8-bit images: fashion-mnist, an IDX dir, synthetic:... or an image folder")
      ->capture_default_str();
  cmd.add_option("--format", c->format, "png or jpg")->capture_default_str()->check(CLI::IsMember({"png", "jpg", "jpeg"}));
  cmd.add_option("--quality", c->quality, "JPEG quality 1..100")->capture_default_str()->check(CLI::Range(1, 100));
  cmd.add_option("--split", c->split, "train, test, or both (into DIR/train and DIR/test)")->capture_default_str();
  cmd.add_option("--limit", c->limit,
                 "Images in all, shared by --imbalance (0 = as many as the classes allow)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--test-limit", c->test_limit,
                 "Test images with --split both/test (0 = all of the chosen classes)")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  cmd.add_option("--classes", c->classes, "Class indices to export, e.g. 7,9 (default: all)");
  cmd.add_option("--imbalance", c->imbalance, "Shares of the exported classes in --classes order, e.g. 9:1");
  cmd.add_option("--size", c->size, "Resize every image to HxW, e.g. 224x224 (upscaling)");
  cmd.add_option("--random-size", c->random_size, "Give each image a random height and width in MIN-MAX, e.g. 24-96");
  cmd.add_option("--resize-method", c->resize_method, "bilinear or nearest")->capture_default_str()
      ->check(CLI::IsMember({"bilinear", "nearest"}));
  cmd.add_option("--channels", c->channels, "Write 1 (gray) or 3 (RGB) channels (0 = as stored; JPEG files always hold 3)")
      ->capture_default_str();
  cmd.add_option("--seed", c->seed, "Seed for the choice of images and their sizes")->capture_default_str()
      ->check(seed_value());
  add_compute_options(cmd, /*gemm=*/false);
  cmd.callback([c] { run_export(*c); });
}

}  // namespace

void setup_data_look(CLI::App& data);  // cmd_data_look.cpp: preview, stats, bench

void setup_data(CLI::App& cmd) {
  cmd.require_subcommand(1);
  setup_export(*cmd.add_subcommand("export", "Write an IDX dataset (default Fashion-MNIST) as a folder of PNG or JPEG files"));
  setup_data_look(cmd);
}

}  // namespace ck
