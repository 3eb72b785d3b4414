#include "apps/nonfinite.h"

#include <fmt/format.h>

#include <cmath>

#include "apps/finding.h"
#include "core/reduce.h"

namespace ck {

namespace {

const char* kind_of(float v) { return std::isnan(v) ? "NaN" : "Inf"; }

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.size(); ++i)
    if (std::isfinite(t[i])) m = std::max(m, static_cast<double>(std::fabs(t[i])));
  return m;
}

// The first non-finite value among a layer's parameter values or gradients.
std::optional<float> first_bad(Layer& layer, bool gradients) {
  for (Param* p : layer.params()) {
    const Tensor& t = gradients ? p->grad : p->value;
    if (t.empty()) continue;
    int64_t i = first_nonfinite(t.data(), t.size());
    if (i >= 0) return t[i];
  }
  return std::nullopt;
}

double max_abs_weight(Layer& layer) {
  double m = 0;
  for (Param* p : layer.params()) m = std::max(m, max_abs(p->value));
  return m;
}

}  // namespace

std::string NonFiniteReport::describe(int epoch, int64_t step) const {
  std::string where;
  if (pass == "input") where = "the input batch";
  else if (pass == "weights") where = "the weights of " + layer;
  else if (pass == "loss") where = "the loss";
  else where = fmt::format("the {} pass of {}", pass, layer);
  return fmt::format("{} in {} at epoch {} step {} ({})", what, where, epoch + 1, step + 1, detail);
}

std::optional<NonFiniteReport> locate_nonfinite(Model& model, const Batch& batch, double loss) {
  const auto& layers = model.layers();
  const size_t L = layers.size();
  const bool loss_finite = std::isfinite(loss);
  NonFiniteReport r;
  const Tensor& x = batch.x;
  if (int64_t i = first_nonfinite(x.data(), x.size()); i >= 0) {
    const int64_t row = x.row_size() ? i / x.row_size() : 0;
    r.pass = "input";
    r.what = kind_of(x[i]);
    r.detail = fmt::format("sample {} of the batch (dataset sample {}), value {} of the sample: the "
                           "data holds missing or broken values",
                           row + 1, row < batch.size() ? batch.indices[row] : row,
                           i - row * x.row_size());
    return r;
  }
  double input_max = max_abs(x);
  for (size_t i = 0; i < L; ++i) {
    // A ReLU convolution's output overwritten by its gradient: the max
    // pooling above it tells, since pooling finite values gives finite
    // values and a NaN or Inf among them wins its window.
    if (model.activation_overwritten(i)) continue;
    const Tensor& y = model.activation(i);
    int64_t k = first_nonfinite(y.data(), y.size());
    if (k < 0) {
      input_max = max_abs(y);
      continue;
    }
    if (i > 0 && model.activation_overwritten(i - 1)) --i;
    Layer& layer = *layers[i];
    r.layer = layer.name;
    r.what = kind_of(y[k]);
    if (std::optional<float> w = first_bad(layer, false)) {
      r.pass = "weights";
      r.what = kind_of(*w);
      r.detail = "they were already non-finite before this step: an earlier update overflowed";
      return r;
    }
    r.pass = "forward";
    r.detail = fmt::format("its input was finite, largest |input| {}, largest |weight| {}",
                           short_number(input_max), short_number(max_abs_weight(layer)));
    return r;
  }
  if (!loss_finite) {
    r.pass = "loss";
    r.what = std::isnan(loss) ? "NaN" : "Inf";
    r.detail = fmt::format("the model's outputs were finite, largest |output| {}",
                           short_number(max_abs(model.activation(L - 1))));
    return r;
  }
  for (size_t i = L; i-- > 0;) {
    Layer& layer = *layers[i];
    std::optional<float> bad = first_bad(layer, true);
    if (!bad && i > 0) {
      const Tensor& dx = model.activation_grad(i - 1);
      if (int64_t k = first_nonfinite(dx.data(), dx.size()); k >= 0) bad = dx[k];
    }
    if (!bad) continue;
    r.pass = "backward";
    r.layer = layer.name;
    r.what = kind_of(*bad);
    r.detail = i + 1 < L ? fmt::format("the gradient arriving from above was finite, largest {}",
                                       short_number(max_abs(model.activation_grad(i))))
                         : "the loss gradient arriving from above was finite";
    return r;
  }
  return std::nullopt;
}

}  // namespace ck
