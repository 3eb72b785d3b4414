#include "apps/layer_health.h"

#include <algorithm>
#include <cmath>

namespace ck {

namespace {

constexpr int64_t kProbeBatch = 128;
constexpr float kNearZero = 0.05f;  // fastai ActivationStats: share of outputs <= 0.05

struct Accumulator {
  double sum = 0, sum_squares = 0;
  int64_t count = 0, near_zero = 0;
  std::vector<uint8_t> fired;  // per unit, ReLU layers only
};

// The predicted class of one output row: argmax, or logit > 0 for one unit.
int predicted_class(const float* z, int64_t K) {
  if (K == 1) return z[0] > 0.0f;
  return static_cast<int>(std::max_element(z, z + K) - z);
}

}  // namespace

bool is_relu_layer(const Layer& layer) { return layer.activation() == Activation::relu; }

std::vector<LayerInfo> describe_layers(const Model& model) {
  std::vector<LayerInfo> out;
  for (const auto& layer : model.layers()) {
    int64_t params = 0;
    for (Param* p : layer->params()) params += p->value.size();
    out.push_back({layer->name, layer->kind(), activation_name(layer->activation()),
                   layer->output_shape, params});
  }
  return out;
}

ProbeResult run_probe(Model& model, const Tensor& inputs, const std::vector<float>& targets,
                      int classes) {
  const size_t L = model.layers().size();
  const int64_t N = inputs.dim(0);
  const int64_t target_size = N ? static_cast<int64_t>(targets.size()) / N : 1;
  std::vector<Accumulator> acc(L);
  ProbeResult r;
  if (classes > 0) {
    r.predicted.assign(classes, 0);
    r.confusion.assign(static_cast<size_t>(classes) * classes, 0);
  }
  for (int64_t begin = 0; begin < N; begin += kProbeBatch) {
    const int64_t n = std::min(kProbeBatch, N - begin);
    const Tensor& out = model.forward(inputs.slice(begin, n), ForwardContext{});
    r.stats.add(compute_loss(model.loss(), out, targets.data() + begin * target_size, nullptr, nullptr));
    for (size_t i = 0; i < L; ++i) {
      const Tensor& y = model.activation(i);
      Accumulator& a = acc[i];
      const int64_t units = y.dim(-1);
      const bool relu = is_relu_layer(*model.layers()[i]);
      if (relu && a.fired.empty()) a.fired.assign(units, 0);
      for (int64_t k = 0; k < y.size(); ++k) {
        const float v = y[k];
        a.sum += v;
        a.sum_squares += static_cast<double>(v) * v;
        a.near_zero += v <= kNearZero;
        if (relu && v > 0.0f) a.fired[k % units] = 1;
      }
      a.count += y.size();
    }
    if (classes == 0) continue;
    const int64_t K = out.row_size();
    for (int64_t s = 0; s < n; ++s) {
      const int p = predicted_class(out.data() + s * K, K);
      const int truth = static_cast<int>(targets[(begin + s) * target_size]);
      r.predictions.push_back(p);
      if (p >= 0 && p < classes) r.predicted[p]++;
      if (truth >= 0 && truth < classes && p >= 0 && p < classes) r.confusion[truth * classes + p]++;
    }
  }
  for (size_t i = 0; i < L; ++i) {
    const Accumulator& a = acc[i];
    LayerHealth h;
    h.units = model.layers()[i]->output_shape.empty() ? 0 : model.layers()[i]->output_shape.back();
    if (a.count) {
      h.act_mean = a.sum / a.count;
      h.act_std = std::sqrt(std::max(0.0, a.sum_squares / a.count - h.act_mean * h.act_mean));
      h.near_zero = static_cast<double>(a.near_zero) / a.count;
    }
    if (!a.fired.empty())
      h.dead_fraction = static_cast<double>(std::count(a.fired.begin(), a.fired.end(), 0)) / a.fired.size();
    r.layers.push_back(h);
  }
  return r;
}

}  // namespace ck
