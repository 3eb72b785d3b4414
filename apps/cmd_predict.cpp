// convkit predict: run a saved model on image files, folders of images, or
// CSV rows, applying the preprocessing recorded in the model file.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <numeric>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/inference.h"
#include "core/error.h"
#include "data/csv.h"
#include "data/image.h"

namespace fs = std::filesystem;

namespace ck {

namespace {

struct PredictOptions {
  std::string model;
  std::vector<std::string> inputs;
  int top = 3;
  bool json = false;
  bool no_preprocess = false;
  std::string on_bad_image = "stop";
};

// One model input and where it came from.
struct Item {
  std::string name;  // "photo.jpg", "new.csv line 4"
  Tensor x;          // one sample (no batch dimension)
};

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

// Raw pixels at the image's own size, in the model's channel count (--no-preprocess).
Tensor raw_image_input(const Image& image, int channels) {
  Image converted = convert_channels(image, channels);
  Tensor t({converted.height, converted.width, channels});
  std::copy(converted.pixels.begin(), converted.pixels.end(), t.data());
  return t;
}

// An image file that could not be decoded, and why.
struct Unreadable {
  std::string name, why;
};

// What the inputs hold. An image that cannot be decoded stops the command
// (as in train), or with --on-bad-image skip is left out and listed in `unreadable`.
std::vector<Item> read_inputs(const PredictOptions& o, const Preprocessing& pre,
                              std::vector<Unreadable>& unreadable) {
  std::vector<Item> items;
  const int channels = pre.stored_shape.size() == 3 ? static_cast<int>(pre.stored_shape[2]) : 0;
  // Whether there are other images the user may still want predicted.
  const bool several =
      o.inputs.size() > 1 || std::any_of(o.inputs.begin(), o.inputs.end(), [](auto& in) {
        std::error_code ec;
        return fs::is_directory(in, ec);
      });
  auto add_image = [&](const std::string& path) {
    if (!o.no_preprocess) {
      try {
        pre.require_images();
      } catch (const Error& e) {
        fail("{}: {}", path, e.what());
      }
    }
    Image image;
    try {
      image = decode_image(path);
    } catch (const Error& e) {
      if (o.on_bad_image != "skip")
        fail("{}{}", e.what(),
             several ? "; pass --on-bad-image skip to predict the other images without it" : "");
      unreadable.push_back({path, e.what()});
      return;
    }
    Item item{path, {}};
    if (o.no_preprocess) {
      item.x = raw_image_input(image, channels);
    } else {
      try {
        item.x = pre.image_input(image);
      } catch (const Error& e) {
        fail("{}: {}", path, e.what());
      }
    }
    items.push_back(std::move(item));
  };
  for (const std::string& input : o.inputs) {
    std::error_code ec;
    if (!fs::exists(input, ec))
      fail("{} not found; check the path (predict takes image files, folders of images and .csv "
           "files)", input);
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::recursive_directory_iterator(input, ec))
        if (e.is_regular_file() && is_image_name(e.path())) files.push_back(e.path().string());
      if (files.empty()) fail("{} holds no image files (.jpg, .png, .bmp, .gif)", input);
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) add_image(f);
    } else if (fs::path(input).extension() == ".csv") {
      if (pre.columns.empty())
        fail("{} is a table, but {} takes {} images", input, o.model,
             shape_compact(pre.stored_shape));
      CsvTable table = read_csv(input);
      // Named from the header once, not as "line 2" of the first row.
      std::vector<std::string> missing;
      for (const std::string& column : pre.columns)
        if (std::find(table.header.begin(), table.header.end(), column) == table.header.end())
          missing.push_back('"' + column + '"');
      if (!missing.empty())
        fail("{}: the header line has no column{} {}; the model expects the column{} {} (the "
             "features it was trained on): add {}, or name {} as in training",
             input, missing.size() == 1 ? "" : "s", fmt::join(missing, ", "),
             pre.columns.size() == 1 ? "" : "s", fmt::join(pre.columns, ", "),
             missing.size() == 1 ? "it" : "them", missing.size() == 1 ? "it" : "them");
      if (table.rows.empty())  // else nothing printed and exit 0
        fail("{} has a header but no rows to predict; add a row of values per sample", input);
      for (size_t r = 0; r < table.rows.size(); ++r) {
        Item item{fmt::format("{} line {}", input, table.lines[r]), Tensor(pre.input_shape())};
        pre.row_input(table.header, table.rows[r], item.name, item.x.data());
        items.push_back(std::move(item));
      }
    } else {
      add_image(input);
    }
  }
  return items;
}

void run_predict(const PredictOptions& o) {
  LoadedModel saved = load_model(o.model);
  Model& model = saved.model;
  Preprocessing pre = saved.info.preprocessing;
  std::string skipped;
  if (o.no_preprocess) {
    pre = without_preprocessing(pre, skipped);
    fmt::print(stderr,
               "convkit: warning: --no-preprocess: inputs go to the model raw, skipping {}; the "
               "predictions will not be what the model was trained to give\n",
               skipped);
  }
  std::vector<Unreadable> unreadable;
  std::vector<Item> items = read_inputs(o, pre, unreadable);
  for (const Unreadable& u : unreadable)
    fmt::print(stderr, "convkit: warning: skipped: {}\n", u.why);
  if (items.empty()) fail("none of the {} images could be read", unreadable.size());
  // The inputs as they enter the model (after the saved preprocessing, or
  // raw with --no-preprocess) against the training record: train/inference skew.
  InputStatsAccumulator entering;
  for (const Item& item : items) {
    Shape one = {1};
    one.insert(one.end(), item.x.shape().begin(), item.x.shape().end());
    entering.add(item.x.reshaped(one));
  }
  const std::vector<Finding> skew = check_inputs_against_training(saved, entering.stats());
  const std::vector<std::string>& names = saved.info.class_names;
  const bool regression = model.loss() == LossKind::mean_squared_error;
  nlohmann::json all = nlohmann::json::array();
  Tensor probabilities;
  for (const Item& item : items) {
    // One at a time: inputs read without resizing may differ in size.
    Shape batch_shape = {1};
    batch_shape.insert(batch_shape.end(), item.x.shape().begin(), item.x.shape().end());
    const Shape& expected = model.input_shape();
    bool fits = item.x.rank() == static_cast<int>(expected.size());
    for (size_t d = 0; fits && d < expected.size(); ++d)
      fits = expected[d] < 0 || expected[d] == item.x.dim(static_cast<int>(d));
    if (!fits)
      fail("{}: the model takes inputs of shape {}, this one is {}{}", item.name,
           shape_str(expected), shape_str(item.x.shape()),
           o.no_preprocess ? fmt::format("; --no-preprocess skipped {}", skipped) : "");
    model.predict(item.x.reshaped(batch_shape), probabilities);
    for (int64_t k = 0; k < probabilities.size(); ++k)
      if (!std::isfinite(probabilities[k]))
        fail("{}: the model's output is not a number (its weights or this input hold NaN or Inf)",
             item.name);
    nlohmann::json entry = {{"input", item.name}};
    std::string line = item.name + ":";
    if (regression) {
      std::vector<float> values(probabilities.data(), probabilities.data() + probabilities.size());
      entry["prediction"] = values;
      for (float v : values) line += fmt::format(" {:.6g}", v);
    } else {
      // A single sigmoid output is P(class 1).
      std::vector<float> p(probabilities.data(), probabilities.data() + probabilities.size());
      if (p.size() == 1) p = {1.0f - p[0], p[0]};
      std::vector<int> order(p.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
      nlohmann::json top = nlohmann::json::array();
      for (int i = 0; i < std::min<int>(o.top, static_cast<int>(p.size())); ++i) {
        const int k = order[i];
        const std::string name = k < static_cast<int>(names.size()) ? names[k] : std::to_string(k);
        top.push_back({{"class", k}, {"name", name}, {"probability", p[k]}});
        line += fmt::format("{} {} {:.3f}", i ? "," : "", name, p[k]);
      }
      entry["top"] = top;
    }
    if (o.json)
      all.push_back(entry);
    else
      fmt::print("{}\n", line);
  }
  if (o.json) {
    nlohmann::json out = {{"predictions", all},
                          {"input_check", input_check_json(saved, skew)},
                          {"unreadable", nlohmann::json::array()}};  // --on-bad-image skip
    for (const Unreadable& u : unreadable)
      out["unreadable"].push_back({{"input", u.name}, {"error", u.why}});
    fmt::print("{}\n", out.dump(2));
  }
}

}  // namespace

void setup_predict(CLI::App& cmd) {
  auto o = std::make_shared<PredictOptions>();
  cmd.add_option("--model", o->model, "The saved model (.safetensors)")->required();
  cmd.add_option("inputs", o->inputs, "Image files, folders of images, or CSV files")->required();
  cmd.add_option("--top", o->top, "How many classes to show per input")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_flag("--json", o->json, "Print the predictions as JSON");
  add_on_bad_image_option(cmd, o->on_bad_image);
  cmd.add_flag("--no-preprocess", o->no_preprocess,
               "Skip the model's scaling, resize and imputation (to reproduce the mistake; says "
               "what it skips)");
  add_compute_options(cmd);
  cmd.callback([o] { run_predict(*o); });
}

}  // namespace ck
