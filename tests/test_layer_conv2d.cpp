// Conv2D's finite-difference gradient checks (layers/gradcheck.h): every
// kernel shape, stride and padding, threads, and the tiled kernels.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/conv_tiled.h"
#include "layers/conv2d.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::check_fresh;
using ck::test::kActivations;
using ck::test::require_gradients_ok;

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
