// convkit summary: print a model's layers, output shapes, parameters and FLOPs.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>

#include "apps/commands.h"
#include "apps/model_builder.h"
#include "apps/model_file.h"
#include "core/error.h"
#include "core/tensor.h"
#include "layers/spec.h"

namespace ck {

void setup_summary(CLI::App& cmd) {
  struct Options {
    std::string model, model_flag;
    std::string input;
    bool list = false;
  };
  auto o = std::make_shared<Options>();
  // Two options, not one with two names: CLI11 refuses both given ("At Most 1
  // required but received 2").
  cmd.add_option("model", o->model,
                 "A preset name, a layer spec, or a saved model (.safetensors); default "
                 "fmnist-cnn");
  cmd.add_option("--model", o->model_flag, "The same, if not given first");
  cmd.add_option("--input", o->input, "Input shape HxWxC (default: the preset's)");
  cmd.add_flag("--list", o->list, "List the model presets");
  cmd.callback([o] {
    o->model = one_model_file(o->model, o->model_flag, "summary", "fmnist-cnn");
    if (o->list) {
      for (const Preset& p : presets())
        fmt::print("{:<26} {:<10} {}\n  {}\n", p.name, p.input, p.about, p.spec);
      return;
    }
    // A saved model, or any existing file (load_model says what a non-model file is).
    if (o->model.ends_with(".safetensors") || std::filesystem::is_regular_file(o->model)) {
      LoadedModel saved = load_model(o->model);
      if (!o->input.empty())
        fail("--input applies to a preset or a layer spec, not to a saved model: {} was built for "
             "{} inputs",
             o->model, shape_str(saved.model.input_shape()));
      fmt::print("{}\n{}", o->model, saved.model.summary());
      fmt::print("Loss: {}\n", loss_name(saved.model.loss()));
      fmt::print("Preprocessing (applied by predict and evaluate):\n{}",
                 saved.info.preprocessing.details());
      const nlohmann::json& t = saved.info.training;
      const bool regression = saved.info.class_names.empty();
      if (!regression) {
        fmt::print("Classes ({}): {}\n", saved.info.class_names.size(),
                   fmt::join(saved.info.class_names, ", "));
      } else {
        // No classes: say what it predicts (not "Classes (0):").
        const nlohmann::json data = t.value("options", nlohmann::json::object())
                                        .value("data", nlohmann::json::object());
        const std::string column = data.value("regression", false)
                                       ? data.value("label_column", std::string())
                                       : std::string();
        const int64_t outputs = shape_size(saved.model.output_shape());
        fmt::print("Target: regression{}, {} output{}\n",
                   column.empty() ? "" : fmt::format(" on column \"{}\"", column), outputs,
                   outputs == 1 ? "" : "s");
      }
      if (t.contains("epochs") && t["epochs"].is_array()) {
        fmt::print("Trained on {} for {} epoch{}:\n", t.value("data", std::string("?")),
                   t["epochs"].size(), t["epochs"].size() == 1 ? "" : "s");
        for (const auto& e : t["epochs"]) {
          std::string line = fmt::format("  epoch {:>3}:", e.value("epoch", 0));
          for (const char* key :
               {"loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}) {
            // A regression run records accuracy 0 (no classes to be right about).
            if (!e.contains(key) || (regression && std::string(key).ends_with("accuracy")))
              continue;
            const auto& v = e[key];
            line += fmt::format(" {} {}", key,
                                v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : v.dump());
          }
          fmt::print("{}\n", line);
        }
      }
      return;
    }
    // A folder (a run or checkpoint directory) read as a spec would be "unknown layer".
    const std::span<const Preset> known = presets();
    const bool preset = std::any_of(known.begin(), known.end(),
                                    [&](const Preset& p) { return p.name == o->model; });
    if (!preset && std::filesystem::is_directory(o->model))
      fail("{} is a directory; summary takes a preset, a layer spec, or a saved model file "
           "(a .safetensors file in it?)", o->model);
    // A path that is not there (not a spec: no layer has '/' or a file's extension).
    const std::filesystem::path as_path(o->model);
    if (o->model.find('(') == std::string::npos &&
        (o->model.find('/') != std::string::npos || as_path.has_extension()))
      fail("{}: no such file (summary takes a preset, a layer spec, or a saved model file)",
           o->model);
    std::optional<Shape> input;
    if (!o->input.empty()) input = parse_shape(o->input, "--input");
    // No compile(): a summary needs no loss, and a feature extractor
    // (vgg16-base) or a regression head has no classification loss to pair with.
    Model model = make_model(o->model, input);
    fmt::print("{}", model.summary());
  });
}

}  // namespace ck
