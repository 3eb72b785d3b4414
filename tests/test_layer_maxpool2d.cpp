// MaxPool2D's finite-difference gradient checks (layers/gradcheck.h), ties,
// inference without a backward pass, and the backward pass fused with a ReLU
// convolution's under it.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <span>
#include <utility>

#include "apps/model_builder.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/pool.h"
#include "layers/maxpool2d.h"
#include "layers/model.h"
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

// Max pooling over a ReLU convolution routes dy through the ReLU's gate
// itself (Model::backward): the same bits as routing first and applying the
// ReLU's gradient after, including windows whose max is 0 (every input <= 0)
// and overlapping windows, where one input wins several times.
TEST_CASE("max pooling through a ReLU: the same gradients as pooling, then the ReLU's gate") {
  Rng rng(41);
  for (auto [k, s] : {std::pair{2, 2}, std::pair{3, 1}, std::pair{2, 3}}) {
    CAPTURE(k);
    CAPTURE(s);
    const ConvGeometry g = conv_geometry(9, 8, 5, k, k, s, s, false, 5);
    const int64_t N = 3;
    Tensor a = ck::test::random_tensor({N, 9, 8, 5}, rng);  // a ReLU's output: half of it 0
    for (int64_t i = 0; i < a.size(); ++i) a[i] = std::max(0.0f, a[i]);
    for (int64_t i = 0; i < 8 * 5; ++i) a[i] = 0.0f;  // a row of windows whose max is 0
    Tensor y({N, g.OH, g.OW, 5}), dy = ck::test::random_tensor(y.shape(), rng);
    std::vector<int32_t> argmax(y.size());
    maxpool_forward(a.data(), y.data(), argmax.data(), N, g);
    Tensor da(a.shape()), dz(a.shape()), fused(a.shape());
    maxpool_backward(dy.data(), argmax.data(), da.data(), N, g);
    activation_backward(a.data(), da.data(), dz.data(), a.size() / 5, 5, Activation::relu);
    fused.fill(NAN);
    maxpool_backward(dy.data(), argmax.data(), fused.data(), N, g, y.data());
    CHECK(std::memcmp(fused.data(), dz.data(), dz.size() * sizeof(float)) == 0);
    CHECK(ck::test::max_abs_diff(da, dz) > 0.0f);  // the gate did drop something
  }
}

TEST_CASE("a model's ReLU convolution under max pooling: fused backward, the same gradients") {
  Model m = make_model("conv2d(4,3,same,relu) maxpool(2) conv2d(8,3,relu) maxpool(2,stride=1) "
                       "flatten dense(3,softmax)",
                       Shape{10, 10, 2});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(42);
  m.init(rng);
  Tensor x = ck::test::random_tensor({4, 10, 10, 2}, rng);
  const Tensor& out = m.forward(x, ForwardContext{});
  Tensor dout = ck::test::random_tensor(out.shape(), rng);
  m.backward(dout);  // fused: each max pooling layer applies its convolution's ReLU gate
  std::vector<Tensor> fused;
  for (Param* p : m.params()) fused.push_back(p->grad.clone());
  // Each ReLU convolution under pooling had its output's storage take its
  // gradient; the other layers' outputs stay.
  const size_t L = m.layers().size();
  for (size_t i = 0; i < L; ++i) {
    CAPTURE(i);
    const bool gated = m.layer(i).kind() == "conv2d" && i + 1 < L &&
                       m.layer(i + 1).kind() == "max_pooling2d";
    CHECK(m.activation_overwritten(i) == gated);
    if (gated) CHECK(m.activation_grad(i).data() == m.activation(i).data());
  }
  // The same chain, layer by layer, unfused, from the activations again.
  m.forward(x, ForwardContext{});
  for (size_t i = 0; i < L; ++i) CHECK(!m.activation_overwritten(i));
  Tensor dy = dout.clone();
  for (size_t i = L; i-- > 0;) {
    Layer& layer = m.layer(i);
    const Tensor& xi = i == 0 ? x : m.activation(i - 1);
    if (layer.reshapes_only()) {
      dy = dy.reshaped(xi.shape()).clone();
      continue;
    }
    Tensor dx(xi.shape());
    layer.backward(xi, m.activation(i), dy, i == 0 ? nullptr : &dx);
    dy = std::move(dx);
  }
  const std::vector<Param*> params = m.params();
  REQUIRE(params.size() == fused.size());
  for (size_t p = 0; p < params.size(); ++p) {
    CAPTURE(params[p]->name);
    CHECK(std::memcmp(params[p]->grad.data(), fused[p].data(), fused[p].size() * sizeof(float)) ==
          0);
  }
}
