// convkit data preview | stats | bench (see cmd_data.cpp for export).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/model_builder.h"
#include "apps/trainer.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/parallel.h"
#include "data/preview.h"
#include "data/stats.h"
#include "optim/optimizer.h"

namespace ck {

namespace {

struct LookCli {
  DataOptions data;
  uint64_t seed = 42;
  // preview
  std::string out = "preview.png";
  int count = 16, columns = 8, zoom = 0, epoch = 0;
  // bench
  std::string model = "fmnist-cnn";
  int batch = 32, epochs = 1;
  int64_t images = 2000;
  bool skip_training = false, skip_pipeline = false;
};

void run_preview(const LookCli& c) {
  if (c.count < 1 || c.count > 1024) fail("--count must be 1..1024, got {}", c.count);
  // Checked before the data is read; a PNG under another name (--out table.csv)
  // would silently replace that file.
  std::string ext = std::filesystem::path(c.out).extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext != ".png")
    fail("--out {}: preview writes a PNG image; name a .png file, e.g. --out preview.png", c.out);
  check_writable_path(c.out);
  auto p = prepare_data(c.data, c.count, c.seed);
  if (!p->train_set().is_image()) fail("{} holds table rows; preview shows images", p->train_set().description);
  // The same samples without augmentation: same seed, so the same order.
  LoaderOptions plain = p->train->options();
  plain.augment = nullptr;
  Loader before(p->train_set(), p->train_indices, p->preprocessing, plain);
  Batch a, b;
  p->train->start_epoch(c.epoch);
  before.start_epoch(c.epoch);
  p->train->next(a);
  before.next(b);
  float lo = INFINITY, hi = -INFINITY;
  for (const Tensor* t : {&a.x, &b.x})
    for (int64_t i = 0; i < t->size(); ++i) lo = std::min(lo, (*t)[i]), hi = std::max(hi, (*t)[i]);
  const Shape in = p->input_shape();
  const int zoom = c.zoom > 0 ? c.zoom : std::max<int>(1, static_cast<int>(96 / std::max<int64_t>(in[0], in[1])));
  std::vector<Image> panels = {render_grid(b.x, b.targets, c.columns, zoom, lo, hi)};
  if (!p->augmentation.empty()) panels.push_back(render_grid(a.x, a.targets, c.columns, zoom, lo, hi));
  write_png(c.out, stack_images(panels, 12));
  fmt::print("Wrote {}: {} training samples of epoch {} as the model sees them ({}, {}).\n", c.out, b.size(),
             c.epoch, shape_compact(in), p->preprocessing.describe());
  fmt::print("  values {:.4g} .. {:.4g} are drawn black .. white{}\n", lo, hi,
             p->preprocessing.channel_order == "BGR" ? " (channels in BGR order, as the model gets them)" : "");
  if (p->augmentation.empty())
    fmt::print("  no --augment given: one panel, the batch as fed to the model\n");
  else
    fmt::print("  top: before augmentation; bottom: after {}\n", p->augmentation.describe());
  std::string legend;
  for (int k = 0; k < p->train_set().num_classes() && k < 20; ++k)
    legend += fmt::format("{}{}={}", k ? ", " : "", k, p->train_set().class_names[k]);
  fmt::print("  frame color and number: the class ({})\n", legend);
}

void run_stats(const LookCli& c) {
  const DataSplits splits = load_splits(c.data, c.seed, true);
  fmt::print("{}", format_stats(splits));
}

// Decode + resize + augment + scale throughput of `loader` over its first
// `images` samples, without prefetching (the work itself, timed).
double pipeline_rate(const Dataset& data, const std::vector<int64_t>& indices, const Preprocessing& pre,
                     const LoaderOptions& options, int threads) {
  set_threads(threads);
  LoaderOptions o = options;
  o.prefetch = false;
  o.shuffle = false;
  Loader loader(data, indices, pre, o);
  Batch batch;
  loader.start_epoch(0);
  const auto start = std::chrono::steady_clock::now();
  int64_t n = 0;
  while (loader.next(batch)) n += batch.size();
  return n / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_bench(const LookCli& c) {
  const int all = hardware_threads();
  auto p = prepare_data(c.data, c.batch, c.seed);
  const Dataset& train = p->train_set();
  fmt::print("Data pipeline benchmark: {}\n{}", p->splits.name, p->describe());
  std::vector<int64_t> first(p->train_indices.begin(),
                             p->train_indices.begin() + std::min<int64_t>(c.images, p->train_indices.size()));
  const LoaderOptions options = p->train->options();
  const char* what = train.streamed() ? "decode+resize+augment+scale" : "augment+scale (decoded images cached in memory)";
  for (int t : {1, all}) {
    if (c.skip_pipeline) break;
    const double rate = pipeline_rate(train, first, p->preprocessing, options, t);
    fmt::print("  pipeline, {} thread{}: {:>9.0f} images/s  ({}, {} images)\n", t, t == 1 ? " " : "s", rate, what,
               first.size());
  }
  set_threads(0);
  if (c.skip_training) return;
  Model model = make_model(c.model, p->input_shape());
  model.compile(default_loss(model, train.num_classes() == 0));
  Rng init(c.seed);
  model.init(init);
  auto optimizer = make_optimizer("adam", 0.0f);
  TrainSetup setup;
  setup.model = &model;
  setup.optimizer = optimizer.get();
  setup.train = p->train.get();
  setup.epochs = c.epochs;
  setup.seed = c.seed;
  const std::vector<EpochResult> results = ck::train(setup);
  double seconds = 0;
  for (const EpochResult& r : results) seconds += r.seconds;
  const double waited = p->train->wait_seconds();
  fmt::print("  training {} ({} epoch{}, {} samples, batch {}, {} threads): {:.1f}s, {:.0f} img/s\n", c.model,
             c.epochs, c.epochs == 1 ? "" : "s", with_commas(p->train->samples()), c.batch, threads(), seconds,
             p->train->samples() * c.epochs / std::max(seconds, 1e-9));
  fmt::print("  waiting for data: {:.2f}s = {:.1f}% of the training time ({})\n", waited,
             100.0 * waited / std::max(seconds, 1e-9),
             train.streamed() ? "files decoded for every batch, prefetched" : "cached, prefetched");
}

void add_look_common(CLI::App& cmd, LookCli& c, bool training_options) {
  if (training_options) add_data_options(cmd, c.data);
  else add_source_options(cmd, c.data);
  // Without the training options there is no augmentation or resampling:
  // the seed only orders an image folder's files before --limit.
  cmd.add_option("--seed", c.seed,
                 training_options
                     ? "Seed for the shuffle, augmentation and resampling"
                     : "Seed for the one shuffle of an image folder's files before --limit "
                       "(as Keras's image_dataset_from_directory)")
      ->capture_default_str()
      ->check(seed_value());
  add_compute_options(cmd, /*gemm=*/false);
}

}  // namespace

void setup_data_look(CLI::App& data) {
  {
    auto c = std::make_shared<LookCli>();
    CLI::App& cmd = *data.add_subcommand(
        "preview", "Write a PNG grid of a training batch as the model sees it, before and after augmentation");
    add_look_common(cmd, *c, true);
    cmd.add_option("--out", c->out, "The PNG file to write")->capture_default_str();
    cmd.add_option("--count", c->count, "Samples to show")->capture_default_str();
    cmd.add_option("--columns", c->columns, "Samples per row")
        ->capture_default_str()
        ->check(at_least(1, "POSITIVE"));
    cmd.add_option("--zoom", c->zoom, "Magnification (0 = about 96 pixels a sample)")->capture_default_str()
        ->check(CLI::Range(0, 64));
    cmd.add_option("--epoch", c->epoch,
                   "Which epoch's first batch (augmentation differs per epoch)")
        ->capture_default_str()
        ->check(at_least(0, "NONNEGATIVE"));
    cmd.callback([c] { run_preview(*c); });
  }
  {
    auto c = std::make_shared<LookCli>();
    CLI::App& cmd = *data.add_subcommand(
        "stats", "Print classes and imbalance, image sizes, value ranges per channel, missing values per column");
    add_look_common(cmd, *c, false);
    cmd.callback([c] { run_stats(*c); });
  }
  {
    auto c = std::make_shared<LookCli>();
    CLI::App& cmd = *data.add_subcommand(
        "bench", "Measure pipeline throughput at 1 and all threads, and the share of a training epoch spent waiting for data");
    add_look_common(cmd, *c, true);
    cmd.add_option("--model", c->model, "The model trained for the waiting measurement")->capture_default_str();
    cmd.add_option("--batch", c->batch, "Batch size")
        ->capture_default_str()
        ->check(at_least(1, "POSITIVE"));
    cmd.add_option("--epochs", c->epochs, "Epochs trained")
        ->capture_default_str()
        ->check(at_least(1, "POSITIVE"));
    cmd.add_option("--images", c->images, "Images timed through the pipeline alone")
        ->capture_default_str()
        ->check(at_least(1, "POSITIVE"));
    cmd.add_flag("--skip-training", c->skip_training, "Time the pipeline only");
    cmd.add_flag("--skip-pipeline", c->skip_pipeline, "Time the training only");
    cmd.callback([c] { run_bench(*c); });
  }
}

}  // namespace ck
