#pragma once
// Elementwise kernels: bias + activation (fused into Conv2D and Dense), the
// activations' backward passes, and the bias gradient. Each fast kernel has a
// plain `_reference` twin beside it; tests check that the two agree.
//
// Matrices here are (rows, cols), row-major: for a Conv2D output (N,H,W,F),
// rows = N*H*W and cols = F; for Dense (N,F), rows = N.
#include <cstdint>
#include <optional>
#include <string>

namespace ck {

enum class Activation { linear, relu, sigmoid, tanh, softmax };

std::string activation_name(Activation act);
std::optional<Activation> parse_activation(const std::string& name);

// y (rows,cols) = act(y + bias (cols)), in place. bias may be null (no bias).
// Softmax is taken over each row. NaN propagates (ReLU(NaN) is NaN, as in
// TensorFlow), so the NaN guard can see it.
void bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, Activation act);
void bias_activation_reference(float* y, const float* bias, int64_t rows, int64_t cols,
                               Activation act);

// dz (rows,cols) = dL/d(pre-activation), given the activation's output y and
// dy = dL/dy. Every activation here has a derivative expressible through its
// output: relu' = [y > 0], sigmoid' = y(1-y), tanh' = 1-y^2, and softmax's
// Jacobian product dz = y * (dy - sum_j(dy_j * y_j)) per row. dz may alias dy.
void activation_backward(const float* y, const float* dy, float* dz, int64_t rows, int64_t cols,
                         Activation act);
void activation_backward_reference(const float* y, const float* dy, float* dz, int64_t rows,
                                   int64_t cols, Activation act);

// row (n) += other (n), vectorized.
void add_row(float* row, const float* other, int64_t n);
// dst (n) = src (n), vectorized inline: for the short runs of im2col, where a
// call to memcpy per run costs more than the copy.
void copy_row(float* dst, const float* src, int64_t n);

// db (cols) = sum over rows of dz (rows,cols); overwrites db.
void bias_grad(const float* dz, int64_t rows, int64_t cols, float* db);

// Numerically stable softmax of each row, out of place: p = exp(z - max) / sum.
void softmax_rows(const float* z, float* p, int64_t rows, int64_t cols);

}  // namespace ck
