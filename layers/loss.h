#pragma once
// Losses and metrics, with Keras's reduction: the batch loss is
// sum_i(w_i * l_i) / N (sum_over_batch_size), N the batch size, not sum(w).
//
// Cross-entropies are computed from logits. A model whose last layer ends in
// softmax (or sigmoid) hands the loss its pre-activation values instead (see
// Model::compile), and the loss applies log-softmax itself:
//   l_i = logsumexp(z_i) - z_i[label]          gradient: softmax(z_i) - onehot
// This equals Keras with the TensorFlow backend, which also uses the logits.
// Keras's generic formula instead clips the probability to [1e-7, 1 - 1e-7],
// which caps each sample's loss at -ln(1e-7) = 16.118 and zeroes its gradient
// there; convkit reports the exact value (it can exceed 16.118 when a model is
// confidently wrong) and counts how many samples are past that cap, since a
// loss stuck near 16.1 * error rate is the signature of a diverged model.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace ck {

enum class LossKind { sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error };

std::string loss_name(LossKind loss);
// Keras names and short aliases: sparse_categorical_crossentropy|scce,
// binary_crossentropy|bce, mean_squared_error|mse.
LossKind parse_loss(const std::string& name);

inline constexpr double kKerasLossCap = 16.11809565095832;  // -ln(1e-7)

struct LossStats {
  double weighted_sum = 0;  // sum_i w_i * l_i
  int64_t count = 0;        // samples
  int64_t correct = 0;      // accuracy numerator (cross-entropies only)
  int64_t capped = 0;       // samples whose loss exceeds kKerasLossCap
  double mean() const { return count ? weighted_sum / count : 0.0; }
  double accuracy() const { return count ? static_cast<double>(correct) / count : 0.0; }
  void add(const LossStats& other);
};

// out (N,K): the model's outputs (logits for the cross-entropies).
// targets (N): class indices (SCCE), 0/1 (BCE, K = 1), or (N,K) values (MSE).
// weights (N) or null for all ones.
// Ensures: returns the batch's statistics; when dout is non-null, writes
// d(batch loss)/d(out) (N,K) into it. Throws ck::Error on a label outside
// [0, K) (SCCE) or not 0/1 (BCE).
LossStats compute_loss(LossKind loss, const Tensor& out, const float* targets,
                       const float* weights, Tensor* dout);

// Reference: the same losses by their textbook formulas in double precision
// (probabilities via softmax, then -log), without gradients. For tests.
double loss_reference(LossKind loss, const Tensor& out, const float* targets, const float* weights);

}  // namespace ck
