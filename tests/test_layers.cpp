// Finite-difference gradient checks of the small layers (global average
// pooling, flatten, activation, dropout; layers/gradcheck.h) and behaviour the
// gradients do not show (dropout masks, inference mode, NaN propagation).
// Conv2D, Dense, MaxPool2D and the checker itself have files of their own.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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
using ck::test::check_fresh;
using ck::test::kActivations;
using ck::test::require_gradients_ok;

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
