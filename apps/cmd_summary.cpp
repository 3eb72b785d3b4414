// convkit summary: print a model's layers, output shapes, parameters and FLOPs.
#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/model_builder.h"
#include "layers/spec.h"

namespace ck {

void setup_summary(CLI::App& cmd) {
  struct Options {
    std::string model = "fmnist-cnn";
    std::string input;
    bool list = false;
  };
  auto o = std::make_shared<Options>();
  cmd.add_option("model,--model", o->model, "A preset name or a layer spec")->capture_default_str();
  cmd.add_option("--input", o->input, "Input shape HxWxC (default: the preset's)");
  cmd.add_flag("--list", o->list, "List the model presets");
  cmd.callback([o] {
    if (o->list) {
      for (const Preset& p : presets())
        fmt::print("{:<26} {:<10} {}\n  {}\n", p.name, p.input, p.about, p.spec);
      return;
    }
    std::optional<Shape> input;
    if (!o->input.empty()) input = parse_shape(o->input, "--input");
    // No compile(): a summary needs no loss, and a feature extractor
    // (vgg16-base) or a regression head has no classification loss to pair with.
    Model model = make_model(o->model, input);
    fmt::print("{}", model.summary());
  });
}

}  // namespace ck
