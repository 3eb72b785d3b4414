// MaxPool2D's finite-difference gradient checks (layers/gradcheck.h), ties,
// and inference without a backward pass.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <numeric>
#include <span>

#include "core/error.h"
#include "layers/maxpool2d.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::check_fresh;
using ck::test::kActivations;
using ck::test::require_gradients_ok;

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
