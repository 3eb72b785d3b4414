// The pieces of the diagnosis: input statistics and their comparison, NaN
// localization, the LR finder, plots and the report's encoding, run records
// with NaN values.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "apps/input_stats.h"
#include "apps/lr_find.h"
#include "apps/model_builder.h"
#include "apps/nonfinite.h"
#include "apps/plot.h"
#include "apps/raster.h"
#include "apps/report_html.h"
#include "apps/run_record.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/font.h"
#include "core/format.h"
#include "core/reduce.h"
#include "diag_helpers.h"
#include "helpers.h"
#include "optim/optimizer.h"

using namespace ck;
namespace fs = std::filesystem;

TEST_CASE("input statistics: per channel, raw pixels recognized, ranges described") {
  Tensor rgb({2, 2, 2, 3});
  for (int64_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<float>((i % 3) * 100 + i);  // whole numbers
  InputStats s = input_stats_of(rgb);
  REQUIRE(s.channels.size() == 3);
  CHECK(s.samples == 2);
  CHECK(s.channels[1].min == 101);
  CHECK(s.looks_like_raw_pixels());
  CHECK(s.describe_range() == "raw 8-bit pixels, whole numbers 0..255");
  for (int64_t i = 0; i < rgb.size(); ++i) rgb[i] /= 255.0f;
  InputStats scaled = input_stats_of(rgb);
  CHECK(!scaled.looks_like_raw_pixels());
  CHECK(scaled.describe_range() == "scaled to 0..1");
  // A JSON round trip, as in model files.
  InputStats back = InputStats::from_json(nlohmann::json::parse(scaled.to_json().dump()));
  CHECK(back.channels[2].mean == doctest::Approx(scaled.channels[2].mean));
  CHECK(back.sample_shape == Shape{2, 2, 3});
  // Vectors: one channel per feature up to kMaxFeatureChannels.
  CHECK(input_stats_of(Tensor({4, 5})).channels.size() == 5);
  CHECK(input_stats_of(Tensor({4, 100})).channels.size() == 1);
  // Noise against structure: adjacent pixels.
  Rng rng(1);
  Tensor noise = test::random_tensor({8, 16, 16, 1}, rng), smooth({8, 16, 16, 1});
  for (int64_t i = 0; i < smooth.size(); ++i) smooth[i] = static_cast<float>(std::sin(i * 0.1));
  CHECK(std::fabs(input_stats_of(noise).neighbor_correlation) < 0.1);
  CHECK(input_stats_of(smooth).neighbor_correlation > 0.9);
}

TEST_CASE("compare_input_stats: raw pixels against scaled training inputs, and alike inputs") {
  Rng rng(2);
  Tensor pixels({64, 8, 8, 1});
  for (int64_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(rng.below(256));
  Tensor scaled = pixels.clone();
  for (int64_t i = 0; i < scaled.size(); ++i) scaled[i] /= 255.0f;
  const InputStats training = input_stats_of(scaled);
  std::vector<Finding> f = compare_input_stats(training, input_stats_of(pixels));
  REQUIRE(f.size() == 1);
  CHECK(f[0].id == "preprocessing-mismatch");
  CHECK(f[0].severity == Severity::problem);
  CHECK(f[0].value("std_ratio") == doctest::Approx(255).epsilon(0.01));
  CHECK(f[0].title.find("raw 0..255 pixels") != std::string::npos);
  // Another sample of the same distribution is not a mismatch.
  Tensor other = scaled.slice(0, 32).clone();
  CHECK(compare_input_stats(training, input_stats_of(other)).empty());
  // NaN in new inputs.
  other[5] = NAN;
  std::vector<Finding> nan = compare_input_stats(training, input_stats_of(other));
  REQUIRE(!nan.empty());
  CHECK(nan[0].id == "input-non-finite");
}

TEST_CASE("locate_nonfinite names the first layer and pass where a NaN or Inf appears") {
  Model m = make_model("dense(8,relu) dense(8,relu) dense(3,softmax)", Shape{4});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(3);
  m.init(rng);
  Batch batch;
  batch.x = test::random_tensor({2, 4}, rng);
  batch.targets = {0, 1};
  batch.indices = {10, 11};
  auto step = [&] {
    const Tensor& out = m.forward(batch.x, ForwardContext{});
    Tensor dout(out.shape());
    double loss = compute_loss(m.loss(), out, batch.targets.data(), nullptr, &dout).mean();
    m.backward(dout);
    return loss;
  };
  // A first layer passing 4 to every unit, and a second one large enough to overflow.
  batch.x.fill(1.0f);
  m.layers()[0]->params()[0]->value.fill(1.0f);
  m.layers()[0]->params()[1]->value.fill(0.0f);
  for (Param* p : m.layers()[1]->params()) p->value.fill(1e38f);
  double loss = step();
  CHECK(!std::isfinite(loss));
  std::optional<NonFiniteReport> r = locate_nonfinite(m, batch, loss);
  REQUIRE(r);
  CHECK(r->pass == "forward");
  CHECK(r->layer == "dense_1");
  CHECK(r->describe(0, 36).rfind("Inf in the forward pass of dense_1 at epoch 1 step 37 (its input was finite", 0) == 0);
  // A finite loss with a NaN gradient: the backward pass of the topmost layer where it appears.
  {
    Model b = make_model("dense(8,relu) dense(8,relu) dense(3,softmax)", Shape{4});
    b.compile(LossKind::sparse_categorical_crossentropy);
    b.init(rng);
    Batch finite = batch;
    finite.x = test::random_tensor({2, 4}, rng);
    const Tensor& out = b.forward(finite.x, ForwardContext{});
    Tensor dout(out.shape());
    const double ok = compute_loss(b.loss(), out, finite.targets.data(), nullptr, &dout).mean();
    b.backward(dout);
    CHECK(!locate_nonfinite(b, finite, ok));
    b.layers()[1]->params()[0]->grad[3] = NAN;
    std::optional<NonFiniteReport> back = locate_nonfinite(b, finite, ok);
    REQUIRE(back);
    CHECK(back->pass == "backward");
    CHECK(back->layer == "dense_1");
    CHECK(back->detail.find("the gradient arriving from above was finite") != std::string::npos);
  }
  // NaN already in a layer's weights.
  m.layers()[1]->params()[0]->value[0] = NAN;
  loss = step();
  r = locate_nonfinite(m, batch, loss);
  REQUIRE(r);
  CHECK(r->pass == "weights");
  CHECK(r->layer == "dense_1");
  // NaN in the input batch: named before anything else, with the dataset sample.
  batch.x[5] = NAN;
  loss = step();
  r = locate_nonfinite(m, batch, loss);
  REQUIRE(r);
  CHECK(r->pass == "input");
  CHECK(r->detail.find("dataset sample 11") != std::string::npos);
  // A ReLU convolution under max pooling, whose output's storage took its
  // gradient in the backward pass: the pooled output names it.
  {
    Model c = make_model("conv2d(2,3,relu) maxpool(2) flatten dense(3,softmax)", Shape{6, 6, 1});
    c.compile(LossKind::sparse_categorical_crossentropy);
    c.init(rng);
    Batch images;
    images.x = Tensor({2, 6, 6, 1});
    images.x.fill(1.0f);
    images.targets = {0, 1};
    images.indices = {0, 1};
    c.layers()[0]->params()[0]->value.fill(1e38f);  // 9 taps of 1e38: Inf
    const Tensor& out = c.forward(images.x, ForwardContext{});
    Tensor dout(out.shape());
    const double inf_loss =
        compute_loss(c.loss(), out, images.targets.data(), nullptr, &dout).mean();
    c.backward(dout);
    REQUIRE(c.activation_overwritten(0));
    std::optional<NonFiniteReport> conv = locate_nonfinite(c, images, inf_loss);
    REQUIRE(conv);
    CHECK(conv->pass == "forward");
    CHECK(conv->layer == "conv2d");
    CHECK(conv->what == "Inf");
    CHECK(conv->detail.find("largest |input| 1,") != std::string::npos);
  }
}

TEST_CASE("the LR finder sweeps exponentially, suggests a rate inside the sweep and restores the model") {
  const Dataset data = test::first_samples(test::fashion_mnist().train, 640);
  Model m = make_model("conv2d(4,3,relu) maxpool(2) flatten dense(10,softmax)", data.sample_shape);
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(4);
  m.init(rng);
  const Tensor before = m.params()[0]->value.clone();
  Preprocessing pre;
  pre.scaling = Scaling::unit;
  std::vector<int64_t> all(data.size());
  std::iota(all.begin(), all.end(), 0);
  Loader loader(data, all, 32, pre, true, 4);
  auto adam = make_optimizer("adam", 0);
  LrFindOptions o;
  o.steps = 50;
  LrFindResult r = find_learning_rate(m, *adam, loader, o, 4);
  REQUIRE(r.learning_rates.size() >= 10);
  CHECK(r.learning_rates.front() == doctest::Approx(1e-7));
  CHECK(r.learning_rates[1] / r.learning_rates[0] == doctest::Approx(std::pow(1e8, 1.0 / 49)));
  CHECK(r.suggested() > 1e-6);
  CHECK(r.suggested() < 1);
  CHECK(r.smoothed[r.lowest] < r.smoothed.front());
  CHECK(test::max_abs_diff(before, m.params()[0]->value) == 0);
  CHECK(adam->learning_rate == doctest::Approx(0.001));
  CHECK(adam->iterations == 0);
  CHECK(lr_find_chart(r).find('|') != std::string::npos);
}

TEST_CASE("plots: a NaN splits a curve, log axes skip values <= 0, text is escaped") {
  LinePlot p;
  p.title = "a <b> & c";
  p.series.push_back({"s", {1, 2, 3, 4, 5}, {1, 2, NAN, 4, 5}, series_color(0)});
  const std::string svg = plot_svg(p);
  CHECK(svg.find("a &lt;b&gt; &amp; c") != std::string::npos);
  size_t lines = 0;
  for (size_t at = svg.find("data-series=\"s\""); at != std::string::npos; at = svg.find("data-series=\"s\"", at + 1)) ++lines;
  CHECK(lines == 2);
  p.log_y = true;
  p.series[0].y = {0, 1, 10, 100, -1};
  CHECK(plot_svg(p).find("points=\"") != std::string::npos);
  Canvas png = plot_png(p, 200, 120);
  CHECK(png.png().substr(1, 3) == "PNG");
}

TEST_CASE("the 5x7 font, and PNG plots that carry their text") {
  const uint8_t* a = font::glyph('A');
  CHECK(a[0] == 0x0E);  // .###.
  CHECK(a[4] == 0x1F);  // #####
  CHECK(font::glyph('\x01') == font::glyph('?'));
  CHECK(font::glyph(static_cast<char>(200)) == font::glyph('?'));
  CHECK(font::text_width("loss") == 24);
  // "I" is a 3-pixel bar on rows 0 and 6 and a stem in column 2: drawn at
  // (10, 20), and turned upward at (10, 20).
  Canvas flat(40, 40), up(40, 40);
  CHECK(flat.text(10, 20, "I", {0, 0, 0}) == 6);
  CHECK(flat.get(11, 20).r == 0);   // top bar
  CHECK(flat.get(10, 20).r == 255);
  CHECK(flat.get(12, 23).r == 0);   // stem
  up.text(10, 20, "I", {0, 0, 0}, /*upward=*/true);
  CHECK(up.get(10, 19).r == 0);  // the top bar is now on the left, running up
  CHECK(up.get(13, 18).r == 0);  // the stem, horizontal
  CHECK(up.get(13, 20).r == 255);
  // A plot PNG shows its title, axis labels and legend: ink where each goes.
  LinePlot p;
  p.title = "Loss";
  p.x_label = "epoch";
  p.y_label = "loss";
  p.series.push_back({"training", {1, 2, 3}, {3, 2, 1}, series_color(0)});
  const int width = 640, height = 360;
  Canvas png = plot_png(p, width, height);
  auto ink_in = [&](int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) n += png.get(x, y).r == 0 && png.get(x, y).g == 0;
    return n;
  };
  CHECK(ink_in(64, 12, 64 + 24, 18) > 10);                  // the title, top left
  CHECK(ink_in(0, 0, 63, 11) == 0);                         // nothing left of it
  CHECK(ink_in(width / 2 - 60, height - 16, width / 2 + 60, height - 10) > 10);  // "epoch"
  CHECK(ink_in(8, height / 2 - 40, 14, height / 2 + 40) > 10);                    // "loss", upward
  CHECK(ink_in(width - 140 + 30, 34, width - 1, 50) > 10);  // the legend's "training"
}

TEST_CASE("shell_word quotes what a shell would read differently") {
  CHECK(shell_word("runs/ck-1") == "runs/ck-1");
  CHECK(shell_word("odd dir/sub") == "'odd dir/sub'");
  CHECK(shell_word("it's") == "'it'\\''s'");
  CHECK(shell_word("") == "''");
  CHECK(shell_word("conv2d(8,3) flatten") == "'conv2d(8,3) flatten'");
}

TEST_CASE("base64 and atomic files") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  const test::TempDir temp;
  const fs::path& dir = temp.path;
  write_file_atomically((dir / "a.txt").string(), "one");
  write_file_atomically((dir / "a.txt").string(), "two");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temporary left
  CHECK_THROWS_AS(write_file_atomically((dir / "missing" / "b.txt").string(), "x"), Error);
  // A signal handler about to end the process removes the temporary file of a
  // write in progress (here, from inside the write); the target never appears.
  auto files_in_dir = [&] { return std::distance(fs::directory_iterator(dir), fs::directory_iterator()); };
  CHECK_THROWS_AS(write_file_atomically((dir / "c.txt").string(),
                                        [&](const WriteBytes& write) {
                                          write("x", 1);
                                          CHECK(files_in_dir() == 2);  // a.txt and .c.txt.tmp.<pid>
                                          remove_unfinished_files();
                                          CHECK(files_in_dir() == 1);
                                        }),
                  Error);
  CHECK(!fs::exists(dir / "c.txt"));
  remove_unfinished_files();  // nothing in progress: a.txt stays
  CHECK(fs::exists(dir / "a.txt"));
}

TEST_CASE("run records keep NaN and Inf through the CSV files") {
  RunRecord r;
  r.model_spec = "dense(2,softmax)";
  r.loss = "sparse_categorical_crossentropy";
  r.classes = 2;
  r.layers.push_back({"dense", "dense", "linear", {2}, 6});
  r.steps.push_back({0, 0, NAN, 0.5, 0.1, INFINITY, 3, 4, true});
  EpochRecord e;
  e.loss = NAN;
  e.layers.push_back({});
  e.layers[0].update_ratio = NAN;
  r.epochs.push_back(e);
  r.initial_loss = INFINITY;
  r.initial_grad_norms = {NAN};
  r.initial_param_norms = {NAN};
  const test::TempDir temp;
  const fs::path& dir = temp.path;
  write_run_files(dir.string(), r);
  RunRecord back = read_run_dir(dir.string());
  REQUIRE(back.steps.size() == 1);
  CHECK(std::isnan(back.steps[0].loss));
  CHECK(std::isinf(back.steps[0].grad_norm));
  CHECK(back.steps[0].skipped);
  CHECK(std::isnan(back.epochs[0].loss));
  CHECK(std::isnan(back.epochs[0].layers[0].update_ratio));
  CHECK(std::isinf(back.initial_loss));
  CHECK(std::isnan(back.initial_grad_norms[0]));
  // Damaged files are refused with the file named, never half read.
  write_file_atomically((dir / "steps.csv").string(), "epoch,step\n1,2,3\n");
  CHECK_THROWS_WITH_AS(read_run_dir(dir.string()), doctest::Contains("steps.csv row 2: 3 values for 2 columns"), Error);
  write_run_files(dir.string(), r);
  write_file_atomically((dir / "layers.csv").string(), "epoch,layer\n");
  CHECK_THROWS_WITH_AS(read_run_dir(dir.string()), doctest::Contains("layers.csv"), Error);
  write_run_files(dir.string(), r);
  write_file_atomically((dir / "epochs.csv").string(), "");
  CHECK_THROWS_WITH_AS(read_run_dir(dir.string()), doctest::Contains("epochs.csv is empty"), Error);
}
