#pragma once
// Finite-difference gradient checking: compares the gradients a layer's
// backward() computes with central differences of its forward(). Used by the
// tests and by `convkit gradcheck --model SPEC` (one line per layer).
// Convolutions run without Winograd's transforms while a check runs (see
// set_conv_winograd in core/conv.h): the tiled kernel's rounding is the
// noise the figures below were measured with.
//
// What is compared. For one layer with input x and output y = f(x; params),
// the checked scalar is
//     L = sum_j y_j * r_j                       (accumulated in double)
// with r a fixed random tensor, uniform in [-1, 1), drawn once. Then
// dL/dy = r, so backward(x, y, dy = r) must give dL/dx and dL/dparam. For a
// whole model the scalar is the batch loss itself (compute_loss, Keras's
// sum_over_batch_size), and backward starts from the loss's own gradient.
//
// Numeric derivative of entry i of a tensor T (the input or a parameter):
//     D(h) = (L(T_i + h) - L(T_i - h)) / (2 h)
// taken at two steps 2h and h (h = eps / 2 unless a kink forces a smaller
// one, see Kinks below) and combined by Richardson extrapolation,
//     n_i = (4 D(h) - D(2h)) / 3,
// which cancels the eps^2 * f''' / 6 truncation error of smooth activations
// (softmax, tanh), leaving float noise. The layers compute in float32; only
// the sum L is double. Outputs that do not depend on T_i are bit-identical in
// all evaluations (same code path, same inputs), so their rounding cancels
// exactly and the noise in n_i comes only from the outputs T_i touches:
// about 6e-8 * sum|y_j r_j| / h over those outputs, 1e-6..1e-4 absolute in
// practice with eps = 1e-2 and values of order 1. (A smaller eps raises that
// noise in proportion; with inputs and weights of order 0.1..1, eps = 1e-2
// is the measured sweet spot.) Correct gradients then agree to ~1e-4..5e-3
// relative (max 5e-3 over the 200 Conv2D configurations of the tests, 6
// seeds, ~160,000 entries); a wrong one (missing term, transposed index,
// off-by-one padding) is off by O(1) on most entries. kGradCheckTolerance
// below is the pass mark the tests and the gradcheck command use.
//
// Error measure, per entry:
//     e_i = |a_i - n_i| / max(|a_i|, |n_i|, floor_T)
//     floor_T = max(floor, relative_floor * max_k |a_k|)   (k: sampled entries of T)
// Relative, so one tolerance means the same for a layer whose gradients are
// 1e-3 and one whose gradients are 1e+3: 1e-2 reads "two correct digits",
// which float32 central differences reach. The floor stops an entry whose
// gradient is ~0 (a dead ReLU, a sum that cancels) from dividing float noise
// by ~0: below floor_T the measure becomes absolute error / floor_T, i.e.
// such entries are judged against 1% of the tensor's gradient scale. A wrong
// gradient is wrong on the large entries too, so this hides nothing real.
// Each tensor reports the max e_i over the entries it checked.
//
// Kinks. ReLU at 0, a max-pool window whose winner changes, are points where
// L is not differentiable; a difference whose window [T_i - h, T_i + h]
// straddles one mixes the two one-sided slopes and disagrees with backward()
// (which takes one side) by up to half the slope jump J: a false failure.
// Kinks are recognized from how the differences change with the step. With
// the one-sided slopes F(h) = (L(+h) - L(0)) / h and B(h) = (L(0) - L(-h)) / h,
// where L is smooth in the window
//     F(h) - B(h) = h * f'' + O(h^3)   and   D(h) - D(2h) = O(h^2),
// so F - B halves when h halves and consecutive central differences agree. A
// kink at distance d < h breaks that: exactly on it, F - B = J at every step;
// near it, D(h) - D(2h) = J d / (4h). An entry is accepted at the first level
// k = 1..max_level (h = eps / 2^k) where, with s = max(|F(h)|, |B(h)|, floor_T),
//     |(F(h) - B(h)) - (F(2h) - B(2h)) / 2| <= kink_tolerance * s   and
//     |D(h) - D(2h)| <= kink_tolerance * s.
// (Every position of a kink inside the window moves one of the two by at
// least J / 8, which bounds what an accepted entry can be off by; two kinks
// whose jumps cancel in F - B still show in D.) kink_tolerance = 1e-3 keeps
// that bound, with the Richardson weights, under 1e-2: half the pass mark.
// (At 3e-3, dense ReLU kinks let a 1.6e-2 error through in the tests' conv
// configurations.) The same test also turns away entries whose differences
// are dominated by float noise, mostly gradients under ~10% of the tensor's
// largest in layers with long sums: they could not be compared that finely
// anyway, and they are counted as skipped too. A kink at distance d drops
// out once h < d, so an entry near (not on) a kink is accepted at a finer
// level; one within about eps / 2^max_level of a kink never is: it is
// skipped and counted in `skipped`. The decision depends only on the forward
// function, never on the analytic gradient, so a wrong backward() cannot
// hide behind it; callers should still check that `skipped` is a small part
// of `checked` (the tests do). Test inputs can also keep away from kinks by
// construction (e.g. max-pool inputs with distinct, well-separated values).
//
// Sampling: a tensor with more than max_entries values is checked on
// max_entries distinct entries drawn with an Rng seeded from `seed` and the
// tensor's position, so a run is reproducible.
//
// Randomness inside forward (dropout): every evaluation runs with a fresh
// Rng(forward_seed), so the + and - evaluations see the same mask.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "layers/loss.h"
#include "layers/model.h"

namespace ck {

// The relative error a float32 gradient must stay within to pass.
inline constexpr double kGradCheckTolerance = 2e-2;

struct GradCheckOptions {
  double epsilon = 1e-2;         // finite-difference step
  double floor = 1e-6;           // absolute floor of the relative error's denominator
  double relative_floor = 1e-2;  // ... and as a fraction of the tensor's largest gradient
  double kink_tolerance = 1e-3;  // relative; see Kinks above
  int max_level = 5;             // finest step eps / 2^max_level (see Kinks above)
  int64_t max_entries = 64;      // per tensor; larger tensors are sampled
  uint64_t seed = 1;             // r and the sampled entries
  bool training = false;         // ForwardContext::training (dropout active)
  uint64_t forward_seed = 7;     // the Rng every forward evaluation gets
};

// The result for one tensor (the layer input or one parameter).
struct TensorCheck {
  std::string name;               // "input", or the param's name ("dense/kernel")
  int64_t size = 0;               // values in the tensor
  int64_t checked = 0;            // entries compared
  int64_t skipped = 0;            // entries on a kink (see above), not compared
  double max_rel_error = 0;       // max e_i over the compared entries
  double max_abs_error = 0;       // max |a_i - n_i|
  int64_t worst_index = -1;       // entry of max_rel_error, with its two values
  double worst_analytic = 0, worst_numeric = 0;
};

struct LayerCheck {
  std::string layer;  // name ("conv2d_1") or kind when unnamed
  std::string spec;   // "conv2d(8,3,same,relu)"
  std::vector<TensorCheck> tensors;
  double max_rel_error() const;
  int64_t checked() const;
  int64_t skipped() const;
  bool passed(double tolerance) const { return max_rel_error() <= tolerance; }
};

// Checks dL/dx and dL/dparam of `layer` at input x (N, ...input shape).
// Requires: the layer is built and initialized for x's per-sample shape.
// Ensures: the layer's parameter values are restored bit-exactly; its grads
// hold the analytic gradients for (x, r).
LayerCheck gradcheck_layer(Layer& layer, const Tensor& x, const GradCheckOptions& options = {});

// Builds a fresh layer for `sample_shape` (infer, build, init with an Rng
// derived from options.seed), and checks it on a random input of `batch`
// samples, uniform in [-1, 1).
LayerCheck gradcheck_layer(Layer& layer, const Shape& sample_shape, int64_t batch,
                           const GradCheckOptions& options = {});

// Checks every parameter of a built, initialized and compiled model through
// the batch loss: L = compute_loss(model.loss(), forward(x), targets,
// weights).mean(), gradient from model.backward(dL/dout). One LayerCheck per
// layer (layers without parameters have no tensors; the model computes no
// gradient for its input, so none is checked).
std::vector<LayerCheck> gradcheck_model(Model& model, const Tensor& x, const float* targets,
                                        const float* weights, const GradCheckOptions& options = {});

// Checks every layer of a built, initialized model on its own (input and
// parameter gradients, so layers without parameters are covered too): layer
// i gets a random input of `batch` samples, uniform in [-1, 1), shaped as it
// sees `input` (the model input with every size known). The per-layer view
// `convkit gradcheck` prints; weights are restored.
std::vector<LayerCheck> gradcheck_layers(Model& model, const Shape& input, int64_t batch,
                                         const GradCheckOptions& options = {});

// The check itself, for any scalar function of a tensor (a loss, a custom
// kernel): compares `analytic` = dL/dvalues with the differences of `loss()`
// as entries of `values` move; `loss` must read `values`. Restores them.
TensorCheck gradcheck_tensor(const std::string& name, Tensor& values,
                             const std::vector<float>& analytic,
                             const std::function<double()>& loss,
                             const GradCheckOptions& options = {});

// One row per tensor: layer, tensor, checked/skipped, max relative error and
// PASS/FAIL against `tolerance`; for the gradcheck command and test failures.
std::string format_gradcheck(const std::vector<LayerCheck>& checks, double tolerance);

}  // namespace ck
