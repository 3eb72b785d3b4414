// The gradient checker itself (layers/gradcheck.h): it fails wrong
// backward passes, skips ReLU kinks, and leaves the layer as it found it.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "layers/activation_layer.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::check_fresh;
using ck::test::kActivations;
using ck::test::require_gradients_ok;

// --- The checker itself ---------------------------------------------------------

namespace {
// Dense with a deliberately wrong backward, to prove the checker can fail.
class BrokenDense : public Dense {
 public:
  enum class Bug { scale_dx, drop_bias_grad, transpose_kernel_grad };
  BrokenDense(Bug bug) : Dense(5, Activation::tanh), bug_(bug) {}
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    Dense::backward(x, y, dy, dx);
    if (bug_ == Bug::scale_dx)
      for (int64_t i = 0; i < dx->size(); ++i) (*dx)[i] *= 1.1f;
    if (bug_ == Bug::drop_bias_grad) params()[1]->grad.zero();
    if (bug_ == Bug::transpose_kernel_grad) {
      Tensor& g = params()[0]->grad;  // (5,5): transposing gives a wrong but similar matrix
      for (int i = 0; i < 5; ++i)
        for (int j = 0; j < i; ++j) std::swap(g[i * 5 + j], g[j * 5 + i]);
    }
  }

 private:
  Bug bug_;
};
}  // namespace

TEST_CASE("gradcheck fails a wrong backward with an O(0.1..1) error") {
  using Bug = BrokenDense::Bug;
  struct Case {
    Bug bug;
    size_t bad_tensor;
    double min_error;
  };
  for (Case c : {Case{Bug::scale_dx, 0, 0.05}, Case{Bug::drop_bias_grad, 2, 0.99},
                 Case{Bug::transpose_kernel_grad, 1, 0.1}}) {
    BrokenDense layer(c.bug);
    LayerCheck check = check_fresh(layer, {5}, 4);
    INFO(format_gradcheck({check}, 1e-2));
    REQUIRE(check.tensors.size() == 3);
    CHECK(check.tensors[c.bad_tensor].max_rel_error >= c.min_error);
    CHECK(!check.passed(ck::test::kGradTolerance));
    for (size_t t = 0; t < 3; ++t)
      if (t != c.bad_tensor) CHECK(check.tensors[t].max_rel_error < ck::test::kGradTolerance);
    CHECK(format_gradcheck({check}, 1e-2).find("FAIL") != std::string::npos);
  }
}

TEST_CASE("gradcheck skips entries sitting on a ReLU kink instead of failing them") {
  ActivationLayer relu(Activation::relu);
  relu.output_shape = relu.infer({8});
  Tensor x({2, 8});
  Rng rng(3);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(0.1f, 1.0f) * (i % 2 ? 1 : -1);
  x[3] = 0.0f;      // exactly on the kink
  x[6] = -1e-4f;    // closer than the finest step, eps / 32
  x[9] = 0.004f;    // inside eps, resolved by halving the step
  x[12] = -0.001f;  // likewise, a few levels further
  LayerCheck c = gradcheck_layer(relu, x);
  INFO(format_gradcheck({c}, 1e-2));
  REQUIRE(c.tensors.size() == 1);
  CHECK(c.tensors[0].skipped == 2);
  CHECK(c.tensors[0].checked == 14);
  CHECK(c.tensors[0].max_rel_error < 1e-3);
}

TEST_CASE("gradcheck restores parameters and input bit-exactly and is deterministic") {
  Conv2DOptions o;
  o.filters = 3, o.kh = o.kw = 3, o.same = true, o.activation = Activation::relu;
  Conv2D conv(o);
  conv.input_shape = {5, 5, 2};
  conv.output_shape = conv.infer({5, 5, 2});
  conv.build({5, 5, 2});
  Rng rng(9);
  conv.init(rng);
  Tensor kernel = conv.params()[0]->value.clone();
  Tensor x = ck::test::random_tensor({2, 5, 5, 2}, rng);
  Tensor x_copy = x.clone();
  LayerCheck a = gradcheck_layer(conv, x);
  LayerCheck b = gradcheck_layer(conv, x);
  CHECK(ck::test::max_abs_diff(kernel, conv.params()[0]->value) == 0.0f);
  CHECK(ck::test::max_abs_diff(x, x_copy) == 0.0f);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(a.tensors[i].max_rel_error == b.tensors[i].max_rel_error);
    CHECK(a.tensors[i].checked == b.tensors[i].checked);
  }
  // Sampling: 50 of the 100 inputs, 50 of the 54 kernel values, all 3 biases.
  GradCheckOptions small;
  small.max_entries = 50;
  LayerCheck c = gradcheck_layer(conv, x, small);
  CHECK(c.tensors[0].checked + c.tensors[0].skipped == 50);
  CHECK(c.tensors[1].checked + c.tensors[1].skipped == 50);
  CHECK(c.tensors[2].checked + c.tensors[2].skipped == 3);
}
