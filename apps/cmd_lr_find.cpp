// convkit lr-find: the learning-rate range test on the training data, with
// the chosen model and optimizer.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/finding.h"
#include "apps/lr_find.h"
#include "apps/model_builder.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace ck {

void setup_lr_find(CLI::App& cmd) {
  struct Options {
    DataOptions data;
    std::string model = "fmnist-cnn";
    std::string optimizer = "adam";
    float momentum = 0;
    bool nesterov = false;
    int batch = 32;
    uint64_t seed = 42;
    LrFindOptions sweep;
    std::string csv, svg, png;
  };
  auto o = std::make_shared<Options>();
  add_data_options(cmd, o->data);
  cmd.add_option("--model", o->model, "A preset or a layer spec (as for convkit train)")->capture_default_str();
  cmd.add_option("--optimizer", o->optimizer, "adam or sgd")->capture_default_str();
  cmd.add_option("--momentum", o->momentum, "SGD momentum, in [0, 1)")
      ->check(number_above(0, true, "NONNEGATIVE"));
  cmd.add_flag("--nesterov", o->nesterov, "SGD with Nesterov momentum");
  cmd.add_option("--batch", o->batch, "Samples per step")->capture_default_str()->check(at_least(1, "POSITIVE"));
  cmd.add_option("--seed", o->seed, "Seed for initialization and shuffling")->capture_default_str()
      ->check(seed_value());
  cmd.add_option("--start-lr", o->sweep.start, "First learning rate")->capture_default_str()->check(number_above(0, false, "POSITIVE"));
  cmd.add_option("--end-lr", o->sweep.end, "Last learning rate")->capture_default_str()->check(number_above(0, false, "POSITIVE"));
  cmd.add_option("--steps", o->sweep.steps, "Steps of the sweep")->capture_default_str()->check(CLI::Range(5, 100000));
  cmd.add_option("--csv", o->csv, "Write the curve (lr, loss, smoothed loss) here");
  cmd.add_option("--svg", o->svg, "Draw the curve here (SVG)");
  cmd.add_option("--png", o->png, "Draw the curve here (PNG)");
  add_compute_options(cmd);
  cmd.callback([o] {
    if (!(o->sweep.end > o->sweep.start)) fail("--end-lr must be above --start-lr");
    std::unique_ptr<PreparedData> data = prepare_data(o->data, o->batch, o->seed);
    Model model = make_model(o->model, data->train_set().sample_shape, data->train_set().num_classes());
    model.compile(default_loss(model, data->train_set().num_classes() == 0));
    Rng rng(o->seed);
    model.init(rng);
    auto optimizer = make_optimizer(o->optimizer, 0, o->momentum, o->nesterov);
    fmt::print("Learning-rate range test: {} on {}, {}, batch {}\n", o->model, data->splits.name,
               optimizer->name(), o->batch);
    fmt::print("  sweeping {} -> {} over {} steps (loss smoothed with beta {}, stop at {}x the best)\n\n",
               short_number(o->sweep.start), short_number(o->sweep.end), o->sweep.steps, o->sweep.smoothing,
               o->sweep.diverge);
    LrFindResult r = find_learning_rate(model, *optimizer, *data->train, o->sweep, o->seed);
    if (r.smoothed.empty()) fail("the sweep made no step: is the training data empty?");
    fmt::print("{}\n", lr_find_chart(r));
    fmt::print("  steps run:          {}{}\n", r.smoothed.size(),
               r.diverged ? fmt::format(" (stopped: the loss diverged at lr {})", short_number(r.learning_rates.back()))
                          : "");
    fmt::print("  lowest loss:        {} at lr {} (a tenth of it: {})\n", short_number(r.smoothed[r.lowest]),
               short_number(r.learning_rates[r.lowest]), short_number(r.lowest_over_10()));
    fmt::print("  steepest descent:   at lr {}\n", short_number(r.suggested()));
    fmt::print("Suggested learning rate: {} (convkit train --optimizer {} --lr {})\n", short_number(r.suggested()),
               optimizer->name(), short_number(r.suggested()));
    if (!o->csv.empty()) {
      std::string csv = "learning_rate,loss,smoothed_loss\n";
      for (size_t i = 0; i < r.smoothed.size(); ++i)
        csv += fmt::format("{},{},{}\n", r.learning_rates[i], r.losses[i], r.smoothed[i]);
      write_file_atomically(o->csv, csv);
    }
    if (!o->svg.empty()) write_file_atomically(o->svg, plot_svg(lr_find_plot(r)));
    if (!o->png.empty()) plot_png(lr_find_plot(r)).write_png(o->png);
  });
}

}  // namespace ck
