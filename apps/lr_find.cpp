#include "apps/lr_find.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "apps/finding.h"

namespace ck {

LrFindResult find_learning_rate(Model& model, Optimizer& optimizer, Loader& train,
                                const LrFindOptions& o, uint64_t seed) {
  // Save what the sweep changes.
  std::vector<Param*> params = model.params();
  optimizer.prepare(params);
  std::vector<Tensor> weights, state;
  for (Param* p : params) weights.push_back(p->value.clone());
  for (auto& [name, t] : optimizer.state()) state.push_back(t->clone());
  const int64_t iterations = optimizer.iterations;
  const float rate = optimizer.learning_rate;

  LrFindResult r;
  Batch batch;
  Tensor dout;
  int epoch = 0;
  train.start_epoch(epoch);
  double average = 0, best = INFINITY;
  const int steps = std::max(o.steps, 2);
  for (int i = 0; i < steps; ++i) {
    if (!train.next(batch)) {
      train.start_epoch(++epoch);
      if (!train.next(batch)) break;
    }
    const double lr = o.start * std::pow(o.end / o.start, static_cast<double>(i) / (steps - 1));
    optimizer.learning_rate = static_cast<float>(lr);
    Rng rng = Rng::derive(seed, 0x1f, static_cast<uint64_t>(i));
    const Tensor& out = model.forward(batch.x, ForwardContext{true, &rng});
    dout.resize(out.shape());
    const double loss = compute_loss(model.loss(), out, batch.targets.data(),
                                     batch.weights.empty() ? nullptr : batch.weights.data(), &dout)
                            .mean();
    r.learning_rates.push_back(lr);
    r.losses.push_back(loss);
    if (!std::isfinite(loss)) {
      r.smoothed.push_back(loss);
      r.diverged = true;
      break;
    }
    average = o.smoothing * average + (1 - o.smoothing) * loss;
    const double smoothed = average / (1 - std::pow(o.smoothing, i + 1));
    r.smoothed.push_back(smoothed);
    if (smoothed < best) best = smoothed, r.lowest = r.smoothed.size() - 1;
    if (i > 0 && smoothed > o.diverge * best) {
      r.diverged = true;
      break;
    }
    model.backward(dout);
    optimizer.step(params);
  }
  // Steepest fall of the smoothed loss per decade, up to its lowest point
  // (beyond it the loss only rises), skipping the first tenth whose average
  // has barely started.
  const size_t first = std::min(r.lowest, r.smoothed.size() / 10);
  double steepest = INFINITY;
  r.steepest = r.lowest;
  for (size_t i = first + 1; i <= r.lowest && i < r.smoothed.size(); ++i) {
    const double slope = (r.smoothed[i] - r.smoothed[i - 1]) /
                         (std::log10(r.learning_rates[i]) - std::log10(r.learning_rates[i - 1]));
    if (slope < steepest) steepest = slope, r.steepest = i;
  }

  for (size_t i = 0; i < params.size(); ++i) params[i]->value.copy_from(weights[i]);
  std::vector<std::pair<std::string, Tensor*>> now = optimizer.state();
  for (size_t i = 0; i < now.size() && i < state.size(); ++i) now[i].second->copy_from(state[i]);
  optimizer.iterations = iterations;
  optimizer.learning_rate = rate;
  return r;
}

std::string lr_find_chart(const LrFindResult& r, int width, int height) {
  if (r.smoothed.empty()) return "(no steps)\n";
  const double lo_x = std::log10(r.learning_rates.front()), hi_x = std::log10(r.learning_rates.back());
  double lo_y = INFINITY, hi_y = -INFINITY;
  for (double v : r.smoothed)
    if (std::isfinite(v)) lo_y = std::min(lo_y, v), hi_y = std::max(hi_y, v);
  // Show the descent, not the blow-up: cap at twice the first loss.
  hi_y = std::min(hi_y, std::max(2 * r.smoothed.front(), lo_y * 1.5));
  if (!(hi_y > lo_y)) hi_y = lo_y + 1;
  std::vector<std::string> rows(height, std::string(width, ' '));
  auto column = [&](double lr) {
    return hi_x > lo_x ? static_cast<int>(std::lround((std::log10(lr) - lo_x) / (hi_x - lo_x) * (width - 1))) : 0;
  };
  const int mark = column(r.suggested());
  for (auto& row : rows) row[mark] = '|';
  for (size_t i = 0; i < r.smoothed.size(); ++i) {
    if (!std::isfinite(r.smoothed[i])) continue;
    const double v = std::min(r.smoothed[i], hi_y);
    const int y = static_cast<int>(std::lround((hi_y - v) / (hi_y - lo_y) * (height - 1)));
    rows[y][column(r.learning_rates[i])] = '*';
  }
  std::string s;
  for (int y = 0; y < height; ++y) {
    const double v = hi_y - (hi_y - lo_y) * y / (height - 1);
    s += fmt::format("{:>9} |{}\n", y % 5 == 0 || y == height - 1 ? short_number(v) : "", rows[y]);
  }
  s += fmt::format("{:>9} +{}\n", "", std::string(width, '-'));
  s += fmt::format("{:>9}  {:<{}}{}\n", "lr", short_number(r.learning_rates.front()), width - 8,
                   short_number(r.learning_rates.back()));
  return s;
}

LinePlot lr_find_plot(const LrFindResult& r) {
  LinePlot p;
  p.title = "Learning-rate range test";
  p.x_label = "learning rate";
  p.y_label = "loss";
  p.log_x = true;
  p.series.push_back({"loss", r.learning_rates, r.losses, series_color(0), true});
  p.series.push_back({"smoothed loss", r.learning_rates, r.smoothed, series_color(0)});
  if (!r.smoothed.empty()) {
    // Show the descent, not the blow-up after it.
    p.y_max = std::max(1.25 * r.smoothed.front(), r.smoothed[r.lowest] * 1.5);
    p.markers.push_back({r.suggested(), fmt::format("suggested {}", short_number(r.suggested()))});
  }
  return p;
}

}  // namespace ck
