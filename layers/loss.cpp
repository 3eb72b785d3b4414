#include "layers/loss.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ck {

std::string loss_name(LossKind loss) {
  switch (loss) {
    case LossKind::sparse_categorical_crossentropy: return "sparse_categorical_crossentropy";
    case LossKind::binary_crossentropy: return "binary_crossentropy";
    case LossKind::mean_squared_error: return "mean_squared_error";
  }
  return "?";
}

LossKind parse_loss(const std::string& name) {
  if (name == "sparse_categorical_crossentropy" || name == "scce")
    return LossKind::sparse_categorical_crossentropy;
  if (name == "binary_crossentropy" || name == "bce") return LossKind::binary_crossentropy;
  if (name == "mean_squared_error" || name == "mse") return LossKind::mean_squared_error;
  fail("unknown loss \"{}\": choose sparse_categorical_crossentropy (scce), "
       "binary_crossentropy (bce) or mean_squared_error (mse)",
       name);
}

void LossStats::add(const LossStats& o) {
  weighted_sum += o.weighted_sum;
  count += o.count;
  correct += o.correct;
  capped += o.capped;
}

namespace {

int64_t class_index(float label, int64_t K, int64_t i) {
  if (!(label >= 0 && label < K) || label != std::floor(label))
    fail("label {} of sample {} is not a class index in 0..{} (the model has {} outputs)", label,
         i, K - 1, K);
  return static_cast<int64_t>(label);
}

float binary_label(float t, int64_t i) {
  if (t != 0.0f && t != 1.0f)
    fail("label {} of sample {} is not 0 or 1, as binary cross-entropy needs", t, i);
  return t;
}

// log(1 + exp(x)) without overflow.
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

}  // namespace

LossStats compute_loss(LossKind loss, const Tensor& out, const float* targets,
                       const float* weights, Tensor* dout) {
  const int64_t N = out.dim(0), K = out.row_size();
  const double inv_n = 1.0 / static_cast<double>(N);
  LossStats s;
  s.count = N;
  for (int64_t i = 0; i < N; ++i) {
    const float* z = out.data() + i * K;
    float* dz = dout ? dout->data() + i * K : nullptr;
    const double w = weights ? weights[i] : 1.0;
    double l = 0;
    switch (loss) {
      case LossKind::sparse_categorical_crossentropy: {
        const int64_t label = class_index(targets[i], K, i);
        const int64_t top = std::max_element(z, z + K) - z;
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += std::exp(static_cast<double>(z[k]) - z[top]);
        l = std::log(sum) + z[top] - z[label];
        s.correct += top == label;
        if (dz) {
          for (int64_t k = 0; k < K; ++k) {
            double p = std::exp(static_cast<double>(z[k]) - z[top]) / sum;
            dz[k] = static_cast<float>(w * (p - (k == label)) * inv_n);
          }
        }
        break;
      }
      case LossKind::binary_crossentropy: {
        const float t = binary_label(targets[i], i);
        // -[t log s(z) + (1-t) log(1 - s(z))] = softplus(z) - t z
        l = softplus(z[0]) - t * static_cast<double>(z[0]);
        s.correct += (z[0] > 0.0f) == (t == 1.0f);
        if (dz) {
          double sig = 1.0 / (1.0 + std::exp(-static_cast<double>(z[0])));
          dz[0] = static_cast<float>(w * (sig - t) * inv_n);
        }
        break;
      }
      case LossKind::mean_squared_error: {
        const float* t = targets + i * K;
        for (int64_t k = 0; k < K; ++k) l += (static_cast<double>(z[k]) - t[k]) * (z[k] - t[k]);
        l /= K;
        if (dz)
          for (int64_t k = 0; k < K; ++k) dz[k] = static_cast<float>(w * 2.0 * (z[k] - t[k]) / K * inv_n);
        break;
      }
    }
    // NaN compares false, so it is not counted as capped but does reach the sum.
    s.capped += l > kKerasLossCap;
    s.weighted_sum += w * l;
  }
  return s;
}

double loss_reference(LossKind loss, const Tensor& out, const float* targets, const float* weights) {
  const int64_t N = out.dim(0), K = out.row_size();
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    const float* z = out.data() + i * K;
    double l = 0;
    if (loss == LossKind::sparse_categorical_crossentropy) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += std::exp(static_cast<double>(z[k]));
      l = -std::log(std::exp(static_cast<double>(z[static_cast<int64_t>(targets[i])])) / sum);
    } else if (loss == LossKind::binary_crossentropy) {
      double p = 1.0 / (1.0 + std::exp(-static_cast<double>(z[0])));
      l = -(targets[i] * std::log(p) + (1 - targets[i]) * std::log(1 - p));
    } else {
      for (int64_t k = 0; k < K; ++k) l += std::pow(z[k] - targets[i * K + k], 2) / K;
    }
    total += (weights ? weights[i] : 1.0) * l;
  }
  return total / N;
}

}  // namespace ck
