#include "layers/gradcheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "core/conv.h"
#include "core/error.h"

namespace ck {

double LayerCheck::max_rel_error() const {
  double m = 0;
  for (const TensorCheck& t : tensors) m = std::max(m, t.max_rel_error);
  return m;
}

int64_t LayerCheck::checked() const {
  int64_t n = 0;
  for (const TensorCheck& t : tensors) n += t.checked;
  return n;
}

int64_t LayerCheck::skipped() const {
  int64_t n = 0;
  for (const TensorCheck& t : tensors) n += t.skipped;
  return n;
}

namespace {

// All of [0, size) when it is small enough, else `count` distinct entries
// drawn from `rng`, in increasing order.
std::vector<int64_t> sample_entries(int64_t size, int64_t count, Rng rng) {
  std::vector<int64_t> out;
  if (size <= count) {
    for (int64_t i = 0; i < size; ++i) out.push_back(i);
    return out;
  }
  std::set<int64_t> chosen;
  while (static_cast<int64_t>(chosen.size()) < count)
    chosen.insert(static_cast<int64_t>(rng.below(static_cast<uint64_t>(size))));
  return {chosen.begin(), chosen.end()};
}

// One central difference of `loss` in values[i] with step `step`, plus its
// two one-sided slopes; values[i] is restored.
struct Difference {
  double central, forward, backward;
};
Difference difference(float* values, int64_t i, double step, double L0,
                      const std::function<double()>& loss) {
  const float orig = values[i];
  // The steps actually taken, after rounding orig +- step to float.
  const float up = static_cast<float>(orig + step), down = static_cast<float>(orig - step);
  const double hp = static_cast<double>(up) - orig, hm = orig - static_cast<double>(down);
  values[i] = up;
  const double Lp = loss();
  values[i] = down;
  const double Lm = loss();
  values[i] = orig;
  return {(Lp - Lm) / (hp + hm), (Lp - L0) / hp, (L0 - Lm) / hm};
}

// Compares analytic[i] with central differences of `loss` in values[i] for
// the sampled entries; restores every value it touches.
TensorCheck check_tensor(const std::string& name, float* values, int64_t size,
                         const std::vector<float>& analytic, double L0,
                         const std::function<double()>& loss, const GradCheckOptions& o,
                         uint64_t stream) {
  TensorCheck t;
  t.name = name;
  t.size = size;
  const std::vector<int64_t> entries =
      sample_entries(size, o.max_entries, Rng::derive(o.seed, 0x67c, stream));
  // The floor of the relative error: a fraction of this tensor's largest
  // gradient (see gradcheck.h), never below the absolute floor.
  double largest = 0;
  for (int64_t i : entries) largest = std::max(largest, std::fabs(double{analytic[i]}));
  const double floor = std::max(o.floor, o.relative_floor * largest);
  for (int64_t i : entries) {
    // Level k uses the step eps / 2^k; an entry is accepted at the first
    // level k >= 1 where both kink tests pass (see gradcheck.h), with the
    // Richardson extrapolation of the central differences of levels k-1, k.
    Difference previous = difference(values, i, o.epsilon, L0, loss);
    double numeric = previous.central;
    bool accepted = std::isnan(numeric);  // NaN is compared (and fails), never skipped
    double step = o.epsilon;
    for (int level = 1; level <= o.max_level && !accepted; ++level) {
      step /= 2;
      const Difference d = difference(values, i, step, L0, loss);
      const double scale = std::max({std::fabs(d.forward), std::fabs(d.backward), floor});
      // F - B is h * f'' where L is smooth: it halves with the step.
      const double one_sided = (d.forward - d.backward) - (previous.forward - previous.backward) / 2;
      const bool smooth = std::fabs(one_sided) <= o.kink_tolerance * scale &&
                          std::fabs(d.central - previous.central) <= o.kink_tolerance * scale;
      numeric = (4 * d.central - previous.central) / 3;
      accepted = smooth || std::isnan(numeric);
      previous = d;
    }
    if (!accepted) {
      ++t.skipped;
      continue;
    }
    ++t.checked;
    const double a = analytic[i];
    const double abs_error = std::fabs(a - numeric);
    double rel_error = abs_error / std::max({std::fabs(a), std::fabs(numeric), floor});
    // NaN in either value must fail the check: it counts as an infinite error.
    if (std::isnan(rel_error)) rel_error = INFINITY;
    t.max_abs_error = std::max(t.max_abs_error, abs_error);
    if (t.worst_index < 0 || rel_error > t.max_rel_error) {
      t.max_rel_error = rel_error;
      t.worst_index = i;
      t.worst_analytic = a;
      t.worst_numeric = numeric;
    }
  }
  return t;
}

std::vector<float> copy_of(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

// Convolutions without Winograd's transforms while a check runs (core/conv.h).
class ExactConvolution {
 public:
  ExactConvolution() : was_(conv_winograd_enabled()) { set_conv_winograd(false); }
  ~ExactConvolution() { set_conv_winograd(was_); }
  ExactConvolution(const ExactConvolution&) = delete;
  ExactConvolution& operator=(const ExactConvolution&) = delete;

 private:
  bool was_;
};

}  // namespace

LayerCheck gradcheck_layer(Layer& layer, const Tensor& x_in, const GradCheckOptions& o) {
  const ExactConvolution exact;
  LayerCheck result;
  result.layer = layer.name.empty() ? layer.kind() : layer.name;
  result.spec = layer.spec();

  Tensor x = x_in.clone();
  Shape sample(x.shape().begin() + 1, x.shape().end());
  Shape out_shape = {x.dim(0)};
  for (int64_t d : layer.infer(sample)) out_shape.push_back(d);
  Tensor y(out_shape);

  Rng r_rng = Rng::derive(o.seed, 0x72);
  Tensor r(out_shape);
  for (int64_t j = 0; j < r.size(); ++j) r[j] = r_rng.uniform(-1.0f, 1.0f);

  auto loss = [&]() -> double {
    Rng rng(o.forward_seed);
    ForwardContext ctx{o.training, &rng};
    layer.forward(x, y, ctx);
    double L = 0;
    for (int64_t j = 0; j < y.size(); ++j) L += static_cast<double>(y[j]) * r[j];
    return L;
  };

  // Analytic gradients first: backward needs the state of an unperturbed forward.
  const double L0 = loss();
  Tensor dx(x.shape());
  dx.fill(NAN);  // a backward that forgets to write dx shows up as NaN
  layer.backward(x, y, r, &dx);
  std::vector<Param*> params = layer.params();
  std::vector<std::vector<float>> grads;
  for (Param* p : params) grads.push_back(copy_of(p->grad));

  result.tensors.push_back(check_tensor("input", x.data(), x.size(), copy_of(dx), L0, loss, o, 0));
  for (size_t k = 0; k < params.size(); ++k) {
    Param& p = *params[k];
    std::string name = p.name.empty() ? fmt::format("{}/{}", result.layer, k == 0 ? "kernel" : "bias")
                                      : p.name;
    result.tensors.push_back(
        check_tensor(name, p.value.data(), p.value.size(), grads[k], L0, loss, o, k + 1));
  }
  // Leave the layer as after the analytic pass (its last forward is at x).
  loss();
  for (size_t k = 0; k < params.size(); ++k)
    std::copy(grads[k].begin(), grads[k].end(), params[k]->grad.data());
  return result;
}

LayerCheck gradcheck_layer(Layer& layer, const Shape& sample_shape, int64_t batch,
                           const GradCheckOptions& o) {
  layer.input_shape = sample_shape;
  layer.output_shape = layer.infer(sample_shape);
  layer.build(sample_shape);
  Rng init_rng = Rng::derive(o.seed, 0x1a1);
  layer.init(init_rng);
  Shape shape = {batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  Tensor x(shape);
  Rng x_rng = Rng::derive(o.seed, 0x78);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = x_rng.uniform(-1.0f, 1.0f);
  return gradcheck_layer(layer, x, o);
}

std::vector<LayerCheck> gradcheck_layers(Model& model, const Shape& input, int64_t batch,
                                         const GradCheckOptions& o) {
  if (!shape_known(input))
    fail("gradcheck needs an input shape with every size known, got {}", shape_str(input));
  std::vector<LayerCheck> checks;
  Shape sample = input;
  for (size_t i = 0; i < model.layers().size(); ++i) {
    Layer& layer = model.layer(i);
    Shape shape = {batch};
    shape.insert(shape.end(), sample.begin(), sample.end());
    Tensor x(shape);
    Rng rng = Rng::derive(o.seed, 0x1a7, i);
    for (int64_t k = 0; k < x.size(); ++k) x[k] = rng.uniform(-1.0f, 1.0f);
    checks.push_back(gradcheck_layer(layer, x, o));
    checks.back().spec = model.layer_spec(i);
    sample = layer.infer(sample);
  }
  return checks;
}

std::vector<LayerCheck> gradcheck_model(Model& model, const Tensor& x, const float* targets,
                                        const float* weights, const GradCheckOptions& o) {
  const ExactConvolution exact;
  auto loss = [&]() -> double {
    Rng rng(o.forward_seed);
    ForwardContext ctx{o.training, &rng};
    const Tensor& out = model.forward(x, ctx);
    return compute_loss(model.loss(), out, targets, weights, nullptr).mean();
  };

  Rng rng(o.forward_seed);
  const Tensor& out = model.forward(x, ForwardContext{o.training, &rng});
  Tensor dout(out.shape());
  const double L0 = compute_loss(model.loss(), out, targets, weights, &dout).mean();
  model.backward(dout);
  std::vector<std::vector<float>> grads;
  for (Param* p : model.params()) grads.push_back(copy_of(p->grad));

  std::vector<LayerCheck> checks;
  size_t k = 0;
  for (size_t i = 0; i < model.layers().size(); ++i) {
    Layer& layer = model.layer(i);
    LayerCheck c;
    c.layer = layer.name;
    c.spec = model.layer_spec(i);
    for (Param* p : layer.params()) {
      c.tensors.push_back(
          check_tensor(p->name, p->value.data(), p->value.size(), grads[k], L0, loss, o, k + 1));
      ++k;
    }
    checks.push_back(std::move(c));
  }
  // Leave the model as after the analytic pass.
  loss();
  k = 0;
  for (Param* p : model.params()) {
    std::copy(grads[k].begin(), grads[k].end(), p->grad.data());
    ++k;
  }
  return checks;
}

TensorCheck gradcheck_tensor(const std::string& name, Tensor& values,
                             const std::vector<float>& analytic,
                             const std::function<double()>& loss, const GradCheckOptions& o) {
  if (static_cast<int64_t>(analytic.size()) != values.size())
    fail("gradcheck_tensor: {} analytic values for a tensor of {}", analytic.size(), values.size());
  const ExactConvolution exact;
  const double L0 = loss();
  return check_tensor(name, values.data(), values.size(), analytic, L0, loss, o, 0);
}

std::string format_gradcheck(const std::vector<LayerCheck>& checks, double tolerance) {
  auto label_of = [](const LayerCheck& c) { return fmt::format("{} ({})", c.layer, c.spec); };
  size_t w0 = 14, w1 = 8;
  for (const LayerCheck& c : checks) {
    w0 = std::max(w0, label_of(c).size() + 2);
    for (const TensorCheck& t : c.tensors) w1 = std::max(w1, t.name.size() + 2);
  }
  std::string s = fmt::format("{:<{}}{:<{}}{:>9}{:>9}{:>15}\n", "layer (spec)", w0, "tensor", w1,
                              "checked", "skipped", "max rel error");
  for (const LayerCheck& c : checks) {
    const std::string label = label_of(c);
    if (c.tensors.empty()) {
      s += fmt::format("{:<{}}{:<{}}{:>9}{:>9}{:>15}\n", label, w0, "(no parameters)", w1, "-", "-", "-");
      continue;
    }
    for (const TensorCheck& t : c.tensors) {
      const bool ok = t.max_rel_error <= tolerance && t.checked > 0;
      s += fmt::format("{:<{}}{:<{}}{:>9}{:>9}{:>15.2e}  {}", label, w0, t.name, w1, t.checked,
                       t.skipped, t.max_rel_error, ok ? "PASS" : "FAIL");
      if (!ok && t.worst_index >= 0)
        s += fmt::format("  (entry {}: analytic {:.6g}, numeric {:.6g})", t.worst_index,
                         t.worst_analytic, t.worst_numeric);
      s += "\n";
    }
  }
  return s;
}

}  // namespace ck
