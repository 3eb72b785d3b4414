#pragma once
// The learning-rate range test (Smith, "Cyclical Learning Rates for Training
// Neural Networks", 2015/2017; fastai's lr_find): train for a few dozen steps
// while the learning rate grows exponentially from tiny to huge, smooth the
// loss, stop once it diverges, and suggest the rate where it fell fastest.
#include <string>
#include <vector>

#include "apps/plot.h"
#include "data/loader.h"
#include "layers/model.h"
#include "optim/optimizer.h"

namespace ck {

struct LrFindOptions {
  double start = 1e-7, end = 10;
  int steps = 100;
  double smoothing = 0.98;  // exponential moving average of the loss (bias-corrected)
  double diverge = 4.0;     // stop once the smoothed loss passes this many times its best
};

struct LrFindResult {
  std::vector<double> learning_rates, losses, smoothed;
  bool diverged = false;
  size_t lowest = 0;    // index of the lowest smoothed loss
  size_t steepest = 0;  // index of the steepest fall of the smoothed loss (per log lr)
  double suggested() const { return learning_rates.empty() ? 0 : learning_rates[steepest]; }
  double lowest_over_10() const { return learning_rates.empty() ? 0 : learning_rates[lowest] / 10; }
};

// Requires: the model initialized and compiled; `train` yields batches (it is
// cycled through epochs as needed). Ensures: the model's weights and the
// optimizer's state and rate are as they were before.
LrFindResult find_learning_rate(Model& model, Optimizer& optimizer, Loader& train,
                                const LrFindOptions& options, uint64_t seed);

// The smoothed curve as text: log10(lr) across, loss up, the suggestion marked.
std::string lr_find_chart(const LrFindResult& result, int width = 64, int height = 16);
LinePlot lr_find_plot(const LrFindResult& result);

}  // namespace ck
