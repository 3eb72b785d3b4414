// convkit gradcheck: finite differences against backprop for every layer of
// a model, one line per tensor (layers/gradcheck.h explains the measure).
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/model_builder.h"
#include "core/error.h"
#include "layers/gradcheck.h"

namespace ck {

namespace {

struct GradcheckOptions {
  std::string model, model_flag;
  std::string input;
  int64_t batch = 2;
  int64_t entries = 64;
  uint64_t seed = 1;
};

void run_gradcheck(const GradcheckOptions& o) {
  std::optional<Shape> input;
  if (!o.input.empty()) input = parse_shape(o.input, "--input");
  Model model = make_model(o.model, input);
  if (!shape_known(model.input_shape()))
    fail("gradcheck needs a fixed input size; give --input HxWxC");
  Rng rng(o.seed);
  model.init(rng);
  GradCheckOptions options;
  options.max_entries = o.entries;
  options.seed = o.seed;
  fmt::print("Gradient check of {} on input {}, batch {}: each layer's backward() against central\n"
             "differences of its forward(), on random inputs; error = |analytic - numeric| / "
             "max(|analytic|, |numeric|, 1% of the tensor's largest).\n\n",
             o.model, shape_str(model.input_shape()), o.batch);
  std::vector<LayerCheck> checks = gradcheck_layers(model, model.input_shape(), o.batch, options);
  fmt::print("{}", format_gradcheck(checks, kGradCheckTolerance));
  int failed = 0;
  for (const LayerCheck& c : checks) failed += !c.passed(kGradCheckTolerance);
  if (failed)
    fail("{} of {} layers failed the gradient check (tolerance {:g}): their backward() does not "
         "match their forward()",
         failed, checks.size(), kGradCheckTolerance);
  fmt::print("\nAll {} layers pass (tolerance {:g}).\n", checks.size(), kGradCheckTolerance);
}

}  // namespace

void setup_gradcheck(CLI::App& cmd) {
  auto o = std::make_shared<GradcheckOptions>();
  // Two options, not one with two names: CLI11 refuses both given.
  cmd.add_option("model", o->model, "A preset or a layer spec; default lenet5");
  cmd.add_option("--model", o->model_flag, "The same, if not given first");
  cmd.add_option("--input", o->input, "Input shape HxWxC (default: the preset's)");
  cmd.add_option("--batch", o->batch, "Samples per check")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--entries", o->entries, "Entries checked per tensor (larger tensors are sampled)")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  cmd.add_option("--seed", o->seed, "Seed for the weights, inputs and sampled entries")
      ->capture_default_str()
      ->check(seed_value());
  add_compute_options(cmd);
  cmd.callback([o] {
    o->model = one_model_file(o->model, o->model_flag, "gradcheck", "lenet5");
    run_gradcheck(*o);
  });
}

}  // namespace ck
