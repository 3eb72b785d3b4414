// Finite-difference gradient checks of every layer (layers/gradcheck.h), the
// checker's own sanity, and layer behaviour the gradients do not show
// (dropout masks, inference mode, NaN propagation).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/conv_tiled.h"
#include "core/error.h"
#include "layers/activation_layer.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/global_avgpool2d.h"
#include "layers/gradcheck.h"
#include "layers/maxpool2d.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::require_gradients_ok;

namespace {

const Activation kActivations[] = {Activation::linear, Activation::relu, Activation::sigmoid,
                                   Activation::tanh, Activation::softmax};

// Builds `layer` for `sample`, gives its bias (if any) random values so the
// bias is not trivially zero, and checks it on a random input.
LayerCheck check_fresh(Layer& layer, const Shape& sample, int64_t batch,
                       GradCheckOptions o = {}) {
  layer.input_shape = sample;
  layer.output_shape = layer.infer(sample);
  layer.build(sample);
  Rng rng(o.seed + 11);
  layer.init(rng);
  std::vector<Param*> ps = layer.params();
  if (ps.size() > 1)
    for (int64_t i = 0; i < ps[1]->value.size(); ++i) ps[1]->value[i] = rng.uniform(-0.5f, 0.5f);
  Shape shape = {batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor x = ck::test::random_tensor(shape, rng);
  return gradcheck_layer(layer, x, o);
}

}  // namespace

// --- Conv2D ---------------------------------------------------------------

// Every kernel shape, stride, padding and fused activation, on odd and even
// input sizes (same padding with an even kernel or an odd input is where the
// before/after split of the padding matters).
TEST_CASE("Conv2D gradients: kernels 1x1/3x3/5x5/3x2, strides 1/2, valid/same, every activation") {
  const std::pair<int, int> kernels[] = {{1, 1}, {3, 3}, {5, 5}, {3, 2}, {2, 2}};
  const Shape inputs[] = {{7, 5, 3}, {6, 8, 2}};
  int configs = 0;
  for (auto [kh, kw] : kernels)
    for (int stride : {1, 2})
      for (bool same : {false, true})
        for (const Shape& in : inputs)
          for (Activation act : kActivations) {
            Conv2DOptions o;
            o.filters = 4, o.kh = kh, o.kw = kw, o.sh = o.sw = stride, o.same = same,
            o.activation = act;
            Conv2D conv(o);
            CAPTURE(conv.spec());
            CAPTURE(shape_str(in));
            require_gradients_ok(check_fresh(conv, in, 2));
            ++configs;
          }
  CHECK(configs == 5 * 2 * 2 * 2 * 5);
}

TEST_CASE("Conv2D gradients: mixed strides, no bias, batch split over threads") {
  ck::test::ThreadScope threads(2);
  Conv2DOptions o;
  o.filters = 3, o.kh = 3, o.kw = 2, o.sh = 2, o.sw = 1, o.same = true, o.use_bias = false;
  o.activation = Activation::tanh;
  Conv2D conv(o);
  LayerCheck c = check_fresh(conv, {9, 6, 2}, 5);
  REQUIRE(c.tensors.size() == 2);  // input and kernel only
  require_gradients_ok(c);
}

// Filters and channels in whole slivers (32 with AVX-512, 16 with AVX2): all
// three passes run the tiled kernels (core/conv_tiled.h). 64 entries of each
// tensor are sampled (the kernel has 9 * S * S values).
TEST_CASE("Conv2D gradients through the tiled kernels: valid and same, relu and tanh") {
  const int S = conv_tiled_sliver();
  if (S == 0) return;  // a build without FMA vectors
  for (bool same : {false, true})
    for (Activation act : {Activation::relu, Activation::tanh}) {
      Conv2DOptions o;
      o.filters = S, o.kh = o.kw = 3, o.same = same, o.activation = act;
      Conv2D conv(o);
      CAPTURE(conv.spec());
      REQUIRE(conv_tiled_applies(conv_geometry(6, 5, S, 3, 3, 1, 1, same, S), true));
      require_gradients_ok(check_fresh(conv, {6, 5, S}, 2));
    }
}

// --- Dense ------------------------------------------------------------------

TEST_CASE("Dense gradients for every activation, with and without bias") {
  for (Activation act : kActivations)
    for (bool bias : {true, false}) {
      Dense dense(7, act, bias);
      CAPTURE(dense.spec());
      LayerCheck c = check_fresh(dense, {9}, 3);
      CHECK(c.tensors.size() == (bias ? 3u : 2u));
      require_gradients_ok(c);
    }
}

// Large enough for gemm_parallel to split the forward by rows, dkernel by
// rows of a transposed A, and dx by columns of a transposed B.
TEST_CASE("Dense gradients through split GEMMs (threads 1, 2, 3)") {
  for (int n : {1, 2, 3}) {
    ck::test::ThreadScope threads(n);
    CAPTURE(n);
    Dense dense(40, Activation::relu);
    GradCheckOptions o;
    o.max_entries = 48;
    require_gradients_ok(check_fresh(dense, {128}, 64, o));
  }
}

// --- MaxPool2D --------------------------------------------------------------

namespace {
// Distinct values 0.05 apart, shuffled: no two values of a window are within
// 2 * eps of each other, so no finite difference crosses a change of winner.
Tensor separated_input(const Shape& shape, uint64_t seed) {
  Tensor x(shape);
  std::vector<int64_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  rng.shuffle(std::span<int64_t>(order));
  for (int64_t i = 0; i < x.size(); ++i)
    x[i] = 0.05f * static_cast<float>(order[i] - x.size() / 2);
  return x;
}
}  // namespace

TEST_CASE("MaxPool2D gradients: pool 2/3, stride 1/2, valid/same, odd and even sizes") {
  for (int pool : {2, 3})
    for (int stride : {1, 2})
      for (bool same : {false, true})
        for (Shape in : {Shape{7, 7, 3}, Shape{6, 8, 2}}) {
          PoolOptions o;
          o.ph = o.pw = pool, o.sh = o.sw = stride, o.same = same;
          MaxPool2D pool_layer(o);
          CAPTURE(pool_layer.spec());
          CAPTURE(shape_str(in));
          pool_layer.input_shape = in;
          pool_layer.output_shape = pool_layer.infer(in);
          Shape shape = {2};
          shape.insert(shape.end(), in.begin(), in.end());
          GradCheckOptions g;
          g.max_entries = 200;  // every input of the image pair when small
          LayerCheck c = gradcheck_layer(pool_layer, separated_input(shape, pool * 10 + stride), g);
          // Well-separated inputs: nothing may be skipped.
          require_gradients_ok(c, ck::test::kGradTolerance, 0.0);
        }
}

TEST_CASE("MaxPool2D gradients on ordinary random inputs (kinks are skipped, not failed)") {
  PoolOptions o;
  o.ph = o.pw = 3, o.sh = o.sw = 1, o.same = true;
  MaxPool2D pool(o);
  require_gradients_ok(check_fresh(pool, {6, 5, 2}, 2));
}

TEST_CASE("MaxPool2D routes the gradient to the first maximum on ties") {
  PoolOptions o;  // 2x2, stride 2
  MaxPool2D pool(o);
  pool.output_shape = pool.infer({2, 2, 1});
  Tensor x({1, 2, 2, 1}), y({1, 1, 1, 1}), dy({1, 1, 1, 1}), dx({1, 2, 2, 1});
  x[0] = 1, x[1] = 3, x[2] = 3, x[3] = 2;
  pool.forward(x, y, {});
  CHECK(y[0] == 3.0f);
  dy[0] = 5;
  pool.backward(x, y, dy, &dx);
  CHECK(dx[0] == 0.0f);
  CHECK(dx[1] == 5.0f);
  CHECK(dx[2] == 0.0f);
  CHECK(dx[3] == 0.0f);
}

TEST_CASE("MaxPool2D without a backward pass to follow keeps no winners, and says so if asked") {
  PoolOptions o;  // 2x2, stride 2
  MaxPool2D pool(o);
  pool.name = "max_pooling2d";
  pool.output_shape = pool.infer({2, 4, 1});
  Tensor x({1, 2, 4, 1}), y({1, 1, 2, 1}), dy({1, 1, 2, 1}), dx({1, 2, 4, 1});
  for (int i = 0; i < 8; ++i) x[i] = static_cast<float>((i * 5) % 8);  // 0 5 2 7 4 1 6 3
  pool.forward(x, y, ForwardContext{.backward = false});
  CHECK(y[0] == 5.0f);
  CHECK(y[1] == 7.0f);
  CHECK_THROWS_WITH_AS(pool.backward(x, y, dy, &dx),
                       "max_pooling2d: backward after a forward pass made without one "
                       "(ForwardContext::backward false)",
                       ck::Error);
  // A training forward pass keeps them again.
  pool.forward(x, y, ForwardContext{});
  dy[0] = 1, dy[1] = 2;
  pool.backward(x, y, dy, &dx);
  CHECK(dx[1] == 1.0f);
  CHECK(dx[3] == 2.0f);
}

// --- GlobalAvgPool2D, Flatten, Activation, Dropout ----------------------------

TEST_CASE("GlobalAvgPool2D gradients") {
  for (Shape in : {Shape{5, 4, 3}, Shape{1, 1, 6}, Shape{7, 3, 1}}) {
    GlobalAvgPool2D gap;
    CAPTURE(shape_str(in));
    require_gradients_ok(check_fresh(gap, in, 3));
  }
}

TEST_CASE("Flatten gradients and NHWC order") {
  Flatten flatten;
  require_gradients_ok(check_fresh(flatten, {3, 4, 2}, 2));
  Tensor x({1, 2, 2, 2}), y({1, 8});
  for (int i = 0; i < 8; ++i) x[i] = static_cast<float>(i);
  flatten.forward(x, y, {});
  for (int i = 0; i < 8; ++i) CHECK(y[i] == static_cast<float>(i));
}

TEST_CASE("Activation layer gradients: relu, sigmoid, tanh, softmax, linear, flat and image") {
  for (Activation act : kActivations)
    for (Shape in : {Shape{6}, Shape{3, 2, 5}}) {
      ActivationLayer layer(act);
      CAPTURE(layer.spec());
      CAPTURE(shape_str(in));
      require_gradients_ok(check_fresh(layer, in, 3));
    }
}

TEST_CASE("Dropout gradients in training mode (same mask for + and -) and at inference") {
  for (bool training : {true, false}) {
    Dropout dropout(0.4f);
    GradCheckOptions o;
    o.training = training;
    CAPTURE(training);
    require_gradients_ok(check_fresh(dropout, {50}, 4, o));
  }
}

TEST_CASE("Dropout: mask statistics, scaling, reproducibility, inference is identity") {
  Dropout dropout(0.25f);
  const int64_t n = 20000;
  Tensor x({1, n}), y({1, n}), y2({1, n});
  x.fill(2.0f);
  Rng rng(5);
  ForwardContext train{true, &rng};
  dropout.forward(x, y, train);
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] == 0.0f) ++zeros;
    else CHECK(y[i] == doctest::Approx(2.0f / 0.75f));
  }
  // Binomial(20000, 0.25): sd ~ 61, so +-4 sd is 245.
  CHECK(std::abs(zeros - n / 4) < 245);
  // The same seed gives the same mask.
  Rng rng2(5);
  ForwardContext train2{true, &rng2};
  dropout.forward(x, y2, train2);
  CHECK(ck::test::max_abs_diff(y, y2) == 0.0f);
  // Backward routes the gradient through the same mask.
  Tensor dy({1, n}), dx({1, n});
  dy.fill(1.0f);
  dropout.backward(x, y2, dy, &dx);
  for (int64_t i = 0; i < n; ++i) CHECK((dx[i] == 0.0f) == (y2[i] == 0.0f));
  // Inference: identity forward and backward, even right after a training pass.
  dropout.forward(x, y, ForwardContext{});
  CHECK(ck::test::max_abs_diff(x, y) == 0.0f);
  dropout.backward(x, y, dy, &dx);
  CHECK(ck::test::max_abs_diff(dy, dx) == 0.0f);
}

// --- NaN propagation ----------------------------------------------------------

// A NaN in the input must reach the output (so the trainer's NaN guard sees
// it) through ReLU and max pooling, whose max() instructions drop NaN when
// the operands are the wrong way round.
TEST_CASE("NaN propagates through Conv2D+relu, Dense+relu, relu and max pooling") {
  SUBCASE("relu activation layer, flat and SIMD-wide") {
    for (int64_t n : {1, 7, 16, 37}) {
      ActivationLayer relu(Activation::relu);
      Tensor x({1, n}), y({1, n});
      x.fill(-1.0f);
      x[n - 1] = NAN;
      relu.forward(x, y, {});
      CAPTURE(n);
      CHECK(std::isnan(y[n - 1]));
      if (n > 1) CHECK(y[0] == 0.0f);
    }
  }
  SUBCASE("max pooling, NaN in any window position") {
    for (int pos = 0; pos < 4; ++pos) {
      PoolOptions o;
      MaxPool2D pool(o);
      pool.output_shape = pool.infer({2, 2, 17});
      Tensor x({1, 2, 2, 17}), y({1, 1, 1, 17});
      for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5);
      for (int c = 0; c < 17; ++c) x[pos * 17 + c] = NAN;
      pool.forward(x, y, {});
      CAPTURE(pos);
      for (int c = 0; c < 17; ++c) CHECK(std::isnan(y[c]));
    }
  }
  SUBCASE("max pooling with same padding (border windows take the slow path)") {
    PoolOptions o;
    o.ph = o.pw = 3, o.sh = o.sw = 2, o.same = true;
    MaxPool2D pool(o);
    Shape out = pool.infer({4, 4, 1});
    Tensor x({1, 4, 4, 1}), y({1, out[0], out[1], 1});
    x[15] = NAN;  // bottom-right pixel, only in border windows
    pool.forward(x, y, {});
    CHECK(std::isnan(y[y.size() - 1]));
  }
  SUBCASE("conv2d and dense with relu") {
    Conv2DOptions o;
    o.filters = 16, o.kh = o.kw = 1, o.activation = Activation::relu;
    Conv2D conv(o);
    conv.input_shape = {1, 1, 2};
    conv.output_shape = conv.infer({1, 1, 2});
    conv.build({1, 1, 2});
    Rng rng(1);
    conv.init(rng);
    Tensor x({1, 1, 1, 2}), y({1, 1, 1, 16});
    x[0] = NAN;
    conv.forward(x, y, {});
    for (int f = 0; f < 16; ++f) CHECK(std::isnan(y[f]));

    Dense dense(16, Activation::relu);
    dense.build({2});
    dense.init(rng);
    Tensor xd({1, 2}), yd({1, 16});
    xd[1] = NAN;
    dense.forward(xd, yd, {});
    for (int f = 0; f < 16; ++f) CHECK(std::isnan(yd[f]));
  }
}

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
