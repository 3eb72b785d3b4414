// Convolution and pooling kernels against their reference twins, at several
// thread counts and GEMM backends, plus the geometry rules they share
// (Keras/TensorFlow padding). Element-wise kernels and Adam:
// tests/test_kernels_elementwise.cpp; the GEMM backends: tests/test_gemm.cpp.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/conv.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::scaled_diff;
using ck::test::ThreadScope;

namespace {

struct GemmBackendScope {
  GemmBackend saved = gemm_backend();
  explicit GemmBackendScope(GemmBackend b) { set_gemm_backend(b); }
  ~GemmBackendScope() { set_gemm_backend(saved); }
};

struct ConvCase {
  int64_t H, W, C;
  int KH, KW, SH, SW;
  bool same;
  int64_t F;
};

const ConvCase kConvCases[] = {
    {7, 5, 3, 3, 3, 1, 1, false, 4},
    {7, 5, 3, 3, 3, 1, 1, true, 4},
    {6, 8, 2, 3, 3, 2, 2, true, 5},
    {6, 8, 2, 3, 3, 2, 2, false, 5},
    {8, 8, 3, 5, 5, 1, 1, true, 6},
    {9, 7, 2, 5, 5, 2, 2, true, 3},
    {6, 6, 4, 1, 1, 1, 1, false, 8},
    {6, 6, 4, 1, 1, 2, 2, true, 8},  // 1x1: pointwise / strided
    {7, 6, 3, 3, 2, 1, 1, true, 4},
    {7, 6, 3, 3, 2, 2, 1, false, 4},
    {6, 6, 2, 2, 2, 1, 1, true, 3},
    {5, 7, 1, 4, 2, 3, 2, true, 2},  // even kernels, odd strides
    {4, 4, 3, 4, 4, 1, 1, false, 2},
    {3, 3, 16, 3, 3, 1, 1, true, 17},
    {12, 10, 3, 3, 3, 1, 1, true, 16},
    // 1024 output pixels with a 288-long patch (a 1.2 MB col): the forward
    // im2col + GEMM and the backward im2col + GEMMs + col2im run in 5 chunks
    // of 205 pixels, the last one partial; the weight gradient sums chunk by
    // chunk.
    {32, 32, 32, 3, 3, 1, 1, true, 5},
};

}  // namespace

// --- Geometry ------------------------------------------------------------------

TEST_CASE("conv_geometry follows TensorFlow: same = ceil(in / stride), smaller pad before") {
  struct G {
    int64_t H;
    int K, S;
    bool same;
    int64_t OH;
    int pad;
  };
  // pad = total // 2 with total = max((OH - 1) * S + K - H, 0).
  for (G g : {G{28, 5, 1, true, 28, 2}, G{6, 2, 1, true, 6, 0}, G{7, 4, 2, true, 4, 1},
              G{5, 3, 2, true, 3, 1}, G{6, 3, 2, true, 3, 0}, G{7, 2, 2, true, 4, 0},
              G{4, 4, 1, true, 4, 1}, G{1, 3, 1, true, 1, 1}, G{10, 1, 3, true, 4, 0},
              G{7, 3, 2, false, 3, 0}, G{6, 3, 2, false, 2, 0}, G{5, 5, 1, false, 1, 0},
              G{4, 5, 1, false, 0, 0}}) {
    CAPTURE(g.H);
    CAPTURE(g.K);
    CAPTURE(g.S);
    CAPTURE(g.same);
    ConvGeometry geo = conv_geometry(g.H, g.H + 1, 2, g.K, g.K, g.S, g.S, g.same, 3);
    CHECK(geo.OH == g.OH);
    CHECK(geo.pad_top == g.pad);
    CHECK(geo.F == 3);
  }
}

TEST_CASE("same padding with an even kernel pads after, not before (hand-computed)") {
  // x = 1 2 3 4 down a column, kernel 2x1 of ones, same, stride 1:
  // TensorFlow pads 0 rows before and 1 after, so y = 1+2, 2+3, 3+4, 4+0.
  ConvGeometry g = conv_geometry(4, 1, 1, 2, 1, 1, 1, true, 1);
  float x[4] = {1, 2, 3, 4}, w[2] = {1, 1}, y[4], yr[4];
  ConvWorkspace ws;
  conv2d_forward(x, w, nullptr, Activation::linear, y, 1, g, ws);
  conv2d_forward_reference(x, w, nullptr, yr, 1, g);
  const float expected[4] = {3, 5, 7, 4};
  for (int i = 0; i < 4; ++i) {
    CHECK(y[i] == expected[i]);
    CHECK(yr[i] == expected[i]);
  }
  // Stride 2, kernel 3, input 6: OH = 3, total pad 1, all of it after.
  ConvGeometry g2 = conv_geometry(6, 1, 1, 3, 1, 2, 1, true, 1);
  float x2[6] = {1, 2, 3, 4, 5, 6}, w2[3] = {1, 10, 100}, y2[3];
  conv2d_forward(x2, w2, nullptr, Activation::linear, y2, 1, g2, ws);
  CHECK(y2[0] == 321.0f);  // 1 + 20 + 300
  CHECK(y2[1] == 543.0f);
  CHECK(y2[2] == 65.0f);  // 5 + 60 + 0 (padding)
}

TEST_CASE("im2col and col2im_add are adjoint: <im2col(x), c> == <x, col2im(c)>, also in chunks") {
  Rng rng(17);
  for (const ConvCase& k : kConvCases) {
    ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.KH, k.KW, k.SH, k.SW, k.same, k.F);
    const int64_t pixels = g.OH * g.OW;
    Tensor x = ck::test::random_tensor({g.in_size()}, rng);
    Tensor c = ck::test::random_tensor({pixels * g.patch()}, rng);
    Tensor col({c.size()}), back({x.size()});
    im2col(x.data(), g, 0, pixels, col.data());
    col2im_add(c.data(), g, 0, pixels, back.data());
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < c.size(); ++i) lhs += double{col[i]} * c[i];
    for (int64_t i = 0; i < x.size(); ++i) rhs += double{x[i]} * back[i];
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));  // col2im sums in float

    // Chunks of pixels give exactly the whole image's rows and sums.
    const int64_t split = pixels / 3;
    Tensor chunked({c.size()}), chunked_back({x.size()});
    im2col(x.data(), g, 0, split, chunked.data());
    im2col(x.data(), g, split, pixels - split, chunked.data() + split * g.patch());
    col2im_add(c.data(), g, 0, split, chunked_back.data());
    col2im_add(c.data() + split * g.patch(), g, split, pixels - split, chunked_back.data());
    CHECK(std::memcmp(chunked.data(), col.data(), col.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(chunked_back.data(), back.data(), back.size() * sizeof(float)) == 0);
  }
}

// --- Convolution -----------------------------------------------------------------

TEST_CASE("conv2d_forward/backward match the reference: geometries x threads x backends") {
  Rng rng(3);
  for (GemmBackend backend : {GemmBackend::blas, GemmBackend::simd, GemmBackend::naive}) {
    GemmBackendScope b(backend);
    for (int threads : {1, 2, 3}) {
      ThreadScope t(threads);
      for (const ConvCase& k : kConvCases)
        for (int64_t N : {1, 2, 5}) {
          CAPTURE(gemm_backend_name(backend));
          CAPTURE(threads);
          CAPTURE(N);
          const std::string geo = fmt::format("{}x{}x{} k{}x{} s{}x{} {} F{}", k.H, k.W, k.C, k.KH,
                                              k.KW, k.SH, k.SW, k.same ? "same" : "valid", k.F);
          CAPTURE(geo);
          ConvGeometry g = conv_geometry(k.H, k.W, k.C, k.KH, k.KW, k.SH, k.SW, k.same, k.F);
          Tensor x = ck::test::random_tensor({N, k.H, k.W, k.C}, rng);
          Tensor w = ck::test::random_tensor({k.KH, k.KW, k.C, k.F}, rng);
          Tensor b = ck::test::random_tensor({k.F}, rng);
          Tensor y({N, g.OH, g.OW, k.F}), yr({N, g.OH, g.OW, k.F});
          y.fill(NAN);       // every output must be written
          ConvWorkspace ws;  // fresh: the first use sizes the per-part scratch
          conv2d_forward(x.data(), w.data(), b.data(), Activation::linear, y.data(), N, g, ws);
          conv2d_forward_reference(x.data(), w.data(), b.data(), yr.data(), N, g);
          CHECK(scaled_diff(y, yr) < 1e-5);

          Tensor dz = ck::test::random_tensor(y.shape(), rng);
          Tensor dx(x.shape()), dw(w.shape()), db(b.shape());
          Tensor dxr(x.shape()), dwr(w.shape()), dbr(b.shape());
          dx.fill(NAN), dw.fill(NAN), db.fill(NAN);  // overwritten, not accumulated
          conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), db.data(), N, g, ws);
          conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(),
                                    dbr.data(), N, g);
          CHECK(scaled_diff(dx, dxr) < 1e-5);
          CHECK(scaled_diff(dw, dwr) < 1e-5);
          CHECK(scaled_diff(db, dbr) < 1e-5);

          // The first layer passes no dx.
          Tensor dw2(w.shape());
          conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dw2.data(), nullptr, N, g, ws);
          CHECK(scaled_diff(dw2, dwr) < 1e-5);
        }
    }
  }
}

TEST_CASE(
    "conv2d_forward fuses bias + activation exactly like bias_activation after the reference") {
  Rng rng(4);
  ConvGeometry g = conv_geometry(6, 5, 3, 3, 3, 1, 1, true, 7);
  const int64_t N = 3;
  Tensor x = ck::test::random_tensor({N, 6, 5, 3}, rng),
         w = ck::test::random_tensor({3, 3, 3, 7}, rng), b = ck::test::random_tensor({7}, rng);
  for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid,
                         Activation::tanh, Activation::softmax}) {
    CAPTURE(activation_name(act));
    ConvWorkspace ws;
    Tensor y({N, 6, 5, 7}), yr({N, 6, 5, 7});
    conv2d_forward(x.data(), w.data(), b.data(), act, y.data(), N, g, ws);
    conv2d_forward_reference(x.data(), w.data(), nullptr, yr.data(), N, g);
    bias_activation_reference(yr.data(), b.data(), N * 30, 7, act);
    CHECK(scaled_diff(y, yr) < 1e-5);
  }
}

TEST_CASE("conv2d: a workspace survives thread-count changes, results are deterministic") {
  Rng rng(5);
  ConvGeometry g = conv_geometry(9, 9, 4, 3, 3, 1, 1, true, 8);
  const int64_t N = 7;
  Tensor x = ck::test::random_tensor({N, 9, 9, 4}, rng),
         w = ck::test::random_tensor({3, 3, 4, 8}, rng);
  Tensor dz = ck::test::random_tensor({N, 9, 9, 8}, rng);
  Tensor dwr({3, 3, 4, 8}), dxr(x.shape());
  conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), nullptr, N, g);
  ConvWorkspace ws;  // shared across the thread counts below
  for (int threads : {1, 3, 2, 4, 1, 3}) {
    ThreadScope t(threads);
    CAPTURE(threads);
    Tensor dw1({3, 3, 4, 8}), dw2({3, 3, 4, 8}), dx(x.shape());
    conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw1.data(), nullptr, N, g, ws);
    conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw2.data(), nullptr, N, g, ws);
    CHECK(scaled_diff(dw1, dwr) < 1e-5);
    CHECK(scaled_diff(dx, dxr) < 1e-5);
    CHECK(ck::test::max_abs_diff(dw1, dw2) == 0.0f);  // bit-identical for one thread count
  }
}

// The per-part scratch buffers are created on first use, from inside the
// parallel region. Many fresh workspaces at several threads: a race there
// (two parts growing the same vector) corrupts or crashes.
TEST_CASE("conv2d: fresh workspaces under many threads, repeated") {
  Rng rng(6);
  ConvGeometry g = conv_geometry(10, 10, 3, 3, 3, 1, 1, true, 8);
  const int64_t N = 8;
  Tensor x = ck::test::random_tensor({N, 10, 10, 3}, rng),
         w = ck::test::random_tensor({3, 3, 3, 8}, rng);
  Tensor dz = ck::test::random_tensor({N, 10, 10, 8}, rng);
  Tensor yr({N, 10, 10, 8}), dwr({3, 3, 3, 8}), dxr(x.shape());
  conv2d_forward_reference(x.data(), w.data(), nullptr, yr.data(), N, g);
  conv2d_backward_reference(x.data(), w.data(), dz.data(), dxr.data(), dwr.data(), nullptr, N, g);
  for (int threads : {2, 4, 8}) {
    ThreadScope t(threads);
    bool all_ok = true;
    for (int rep = 0; rep < 200 && all_ok; ++rep) {
      ConvWorkspace ws;
      Tensor y({N, 10, 10, 8}), dw({3, 3, 3, 8}), dx(x.shape());
      conv2d_forward(x.data(), w.data(), nullptr, Activation::linear, y.data(), N, g, ws);
      ConvWorkspace ws2;
      conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), nullptr, N, g, ws2);
      all_ok =
          scaled_diff(y, yr) < 1e-5 && scaled_diff(dw, dwr) < 1e-5 && scaled_diff(dx, dxr) < 1e-5;
    }
    CAPTURE(threads);
    CHECK(all_ok);
  }
}

// --- Pooling -------------------------------------------------------------------

TEST_CASE("maxpool_forward/backward match the reference (valid/same, overlapping windows)") {
  struct P {
    int64_t H, W, C;
    int K, S;
    bool same;
  };
  Rng rng(8);
  for (int threads : {1, 2}) {
    ThreadScope t(threads);
    for (P p : {P{7, 7, 3, 2, 2, false}, P{7, 7, 3, 2, 2, true}, P{6, 8, 17, 3, 1, true},
                P{6, 8, 17, 3, 1, false}, P{5, 5, 2, 3, 2, true}, P{8, 6, 4, 3, 2, false},
                P{4, 4, 1, 4, 1, true}, P{1, 1, 5, 2, 2, true},
                P{9, 9, 3, 2, 3, false},  // stride over the window: rows no window reaches
                // 16+ channels: the AVX-512 path, with a scalar tail
                P{9, 10, 32, 2, 2, false}, P{8, 7, 37, 3, 2, true}}) {
      CAPTURE(fmt::format("{}x{}x{} pool {} stride {} {}", p.H, p.W, p.C, p.K, p.S,
                          p.same ? "same" : "valid"));
      ConvGeometry g = conv_geometry(p.H, p.W, p.C, p.K, p.K, p.S, p.S, p.same, p.C);
      const int64_t N = 3;
      Tensor x = ck::test::random_tensor({N, p.H, p.W, p.C}, rng);
      // Some exact ties, to pin down "first max wins" in both versions.
      for (int64_t i = 0; i + 1 < x.size(); i += 7) x[i + 1] = x[i];
      Tensor y({N, g.OH, g.OW, p.C}), yr({N, g.OH, g.OW, p.C});
      std::vector<int32_t> argmax(y.size());
      y.fill(NAN);
      maxpool_forward(x.data(), y.data(), argmax.data(), N, g);
      maxpool_forward_reference(x.data(), yr.data(), N, g);
      CHECK(ck::test::max_abs_diff(y, yr) == 0.0f);
      // Inference (no argmax): the same maxima.
      Tensor yi(y.shape());
      yi.fill(NAN);
      maxpool_forward(x.data(), yi.data(), nullptr, N, g);
      CHECK(ck::test::max_abs_diff(yi, yr) == 0.0f);
      Tensor dy = ck::test::random_tensor(y.shape(), rng);
      Tensor dx(x.shape()), dxr(x.shape());
      dx.fill(NAN);
      maxpool_backward(dy.data(), argmax.data(), dx.data(), N, g);
      maxpool_backward_reference(x.data(), dy.data(), dxr.data(), N, g);
      CHECK(ck::test::max_abs_diff(dx, dxr) == 0.0f);  // the same sums in the same order
    }
  }
}

TEST_CASE("max pooling: padding cells never win, even when every real value is negative") {
  ConvGeometry g = conv_geometry(3, 3, 1, 2, 2, 2, 2, true, 1);  // OH = 2, pad after
  float x[9];
  for (int i = 0; i < 9; ++i) x[i] = -10.0f - i;
  float y[4], yr[4];
  int32_t argmax[4];
  maxpool_forward(x, y, argmax, 1, g);
  maxpool_forward_reference(x, yr, 1, g);
  const float expected[4] = {-10, -12, -16, -18};
  for (int i = 0; i < 4; ++i) {
    CHECK(y[i] == expected[i]);
    CHECK(yr[i] == expected[i]);
  }
}

TEST_CASE("global average pooling: mean over H*W, gradient spread evenly") {
  Tensor x({2, 2, 3, 2});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  Tensor y({2, 2});
  global_avgpool_forward(x.data(), y.data(), 2, 6, 2);
  // Channel 0 of image 0: 0, 2, 4, 6, 8, 10 -> 5; channel 1: 6; image 1: +12.
  CHECK(y[0] == doctest::Approx(5));
  CHECK(y[1] == doctest::Approx(6));
  CHECK(y[2] == doctest::Approx(17));
  CHECK(y[3] == doctest::Approx(18));
  Tensor dy({2, 2}), dx(x.shape());
  dy[0] = 6, dy[1] = 12, dy[2] = -6, dy[3] = 0;
  global_avgpool_backward(dy.data(), dx.data(), 2, 6, 2);
  CHECK(dx[0] == doctest::Approx(1));
  CHECK(dx[1] == doctest::Approx(2));
  CHECK(dx[12] == doctest::Approx(-1));
  CHECK(dx[23] == doctest::Approx(0));
}
