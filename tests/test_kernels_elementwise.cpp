// Element-wise kernels (row copies, bias + activation and its gradient, bias
// gradients, softmax) and the SIMD Adam update against their reference twins,
// by hand-computed values, and split across threads.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/kernels.h"
#include "core/parallel.h"
#include "optim/adam.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::scaled_diff;
using ck::test::ThreadScope;

// --- Elementwise kernels ----------------------------------------------------------

TEST_CASE("copy_row and add_row, every tail length: exact, and nothing past n is touched") {
  Rng rng(21);
  for (int64_t n = 0; n <= 40; ++n) {
    CAPTURE(n);
    Tensor src = ck::test::random_tensor({n + 8}, rng), row = ck::test::random_tensor({n + 8}, rng);
    Tensor copied = row.clone(), added = row.clone();
    copy_row(copied.data(), src.data(), n);
    add_row(added.data(), src.data(), n);
    for (int64_t j = 0; j < n + 8; ++j) {
      CHECK(copied[j] == (j < n ? src[j] : row[j]));
      CHECK(added[j] == (j < n ? row[j] + src[j] : row[j]));
    }
  }
}

TEST_CASE("bias_activation matches its reference for every activation and odd widths") {
  Rng rng(10);
  for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid,
                         Activation::tanh, Activation::softmax})
    for (int64_t cols : {1, 3, 8, 16, 17, 33, 100})
      for (bool bias : {true, false}) {
        CAPTURE(activation_name(act));
        CAPTURE(cols);
        CAPTURE(bias);
        const int64_t rows = 5;
        Tensor y = ck::test::random_tensor({rows, cols}, rng, -4, 4);
        y[0] = 95.0f, y[rows * cols - 1] = -95.0f;  // exp overflow territory
        Tensor b = ck::test::random_tensor({cols}, rng);
        Tensor yr = y.clone();
        bias_activation(y.data(), bias ? b.data() : nullptr, rows, cols, act);
        bias_activation_reference(yr.data(), bias ? b.data() : nullptr, rows, cols, act);
        CHECK(scaled_diff(y, yr) < 2e-6);
        for (int64_t i = 0; i < y.size(); ++i) REQUIRE(std::isfinite(y[i]));
        if (act == Activation::softmax)
          for (int64_t r = 0; r < rows; ++r) {
            double sum = 0;
            for (int64_t j = 0; j < cols; ++j) sum += y[r * cols + j];
            CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
          }
      }
}

TEST_CASE("bias_activation: hand-computed values") {
  float y[4] = {-1.0f, 0.0f, 2.0f, -3.0f};
  const float b[4] = {0.5f, -0.5f, 0.0f, 3.0f};
  float relu[4], sig[4], tanh_[4], soft[4];
  std::copy(y, y + 4, relu), std::copy(y, y + 4, sig), std::copy(y, y + 4, tanh_),
      std::copy(y, y + 4, soft);
  bias_activation(relu, b, 1, 4, Activation::relu);
  bias_activation(sig, b, 1, 4, Activation::sigmoid);
  bias_activation(tanh_, b, 1, 4, Activation::tanh);
  bias_activation(soft, nullptr, 2, 2, Activation::softmax);
  CHECK(relu[0] == 0.0f);
  CHECK(relu[1] == 0.0f);
  CHECK(relu[2] == 2.0f);
  CHECK(relu[3] == 0.0f);
  CHECK(sig[0] == doctest::Approx(1 / (1 + std::exp(0.5))));
  CHECK(sig[3] == doctest::Approx(0.5));
  CHECK(tanh_[2] == doctest::Approx(std::tanh(2.0)));
  // Rows (-1, 0) and (2, -3).
  CHECK(soft[0] == doctest::Approx(1 / (1 + std::exp(1.0))));
  CHECK(soft[1] == doctest::Approx(1 / (1 + std::exp(-1.0))));
  CHECK(soft[2] == doctest::Approx(1 / (1 + std::exp(-5.0))));
}

TEST_CASE("activation_backward matches its reference, also in place (dz aliasing dy)") {
  Rng rng(11);
  for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid,
                         Activation::tanh, Activation::softmax})
    for (int64_t cols : {1, 7, 16, 17, 40}) {
      CAPTURE(activation_name(act));
      CAPTURE(cols);
      const int64_t rows = 4;
      Tensor y = ck::test::random_tensor({rows, cols}, rng, -2, 2);
      bias_activation_reference(y.data(), nullptr, rows, cols, act);  // a real activation output
      if (act == Activation::relu) y[0] = 0.0f;                       // exactly at the kink
      Tensor dy = ck::test::random_tensor({rows, cols}, rng);
      Tensor dz({rows, cols}), dzr({rows, cols});
      dz.fill(NAN);
      activation_backward(y.data(), dy.data(), dz.data(), rows, cols, act);
      activation_backward_reference(y.data(), dy.data(), dzr.data(), rows, cols, act);
      CHECK(scaled_diff(dz, dzr) < 1e-6);
      Tensor inplace = dy.clone();
      activation_backward(y.data(), inplace.data(), inplace.data(), rows, cols, act);
      CHECK(scaled_diff(inplace, dzr) < 1e-6);
      if (act == Activation::relu) CHECK(dz[0] == 0.0f);
    }
}

TEST_CASE("activation_backward split across threads, and bias_grad: the same bits as one thread") {
  Rng rng(13);
  // 450,150 values: above activation_backward's split threshold; 10 vectors
  // of 16 columns, the last a tail: more than one pass of bias_grad's 8
  // running sums.
  const int64_t rows = 3001, cols = 150;
  Tensor dz_in = ck::test::random_tensor({rows, cols}, rng);
  std::vector<float> one(cols), many(cols);
  {
    ThreadScope t(1);
    bias_grad(dz_in.data(), rows, cols, one.data());
  }
  for (int threads : {2, 3}) {
    ThreadScope t(threads);
    bias_grad(dz_in.data(), rows, cols, many.data());
    CHECK(std::memcmp(one.data(), many.data(), cols * sizeof(float)) == 0);
  }
  for (int64_t j = 0; j < cols; ++j) {
    // The same float additions in the same order as row by row: the same bits.
    float in_order = 0;
    for (int64_t i = 0; i < rows; ++i) in_order += dz_in[i * cols + j];
    CHECK(one[j] == in_order);
  }
  for (Activation act :
       {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::softmax}) {
    CAPTURE(activation_name(act));
    Tensor y = ck::test::random_tensor({rows, cols}, rng, -2, 2);
    bias_activation_reference(y.data(), nullptr, rows, cols, act);
    Tensor dy = ck::test::random_tensor({rows, cols}, rng);
    Tensor serial({rows, cols}), split({rows, cols}), reference({rows, cols});
    {
      ThreadScope t(1);
      activation_backward(y.data(), dy.data(), serial.data(), rows, cols, act);
    }
    ThreadScope t(3);
    activation_backward(y.data(), dy.data(), split.data(), rows, cols, act);
    CHECK(std::memcmp(serial.data(), split.data(), serial.size() * sizeof(float)) == 0);
    activation_backward_reference(y.data(), dy.data(), reference.data(), rows, cols, act);
    CHECK(scaled_diff(split, reference) < 1e-6);
  }
}

TEST_CASE("softmax backward: the Jacobian-vector product, by hand") {
  // y = softmax row (0.2, 0.3, 0.5), dy = (1, 0, 0):
  // dz_j = y_j (dy_j - sum_k dy_k y_k) = y_j (dy_j - 0.2) -> (0.16, -0.06, -0.1)
  const float y[3] = {0.2f, 0.3f, 0.5f}, dy[3] = {1, 0, 0};
  float dz[3];
  activation_backward(y, dy, dz, 1, 3, Activation::softmax);
  CHECK(dz[0] == doctest::Approx(0.16));
  CHECK(dz[1] == doctest::Approx(-0.06));
  CHECK(dz[2] == doctest::Approx(-0.1));
  CHECK(dz[0] + dz[1] + dz[2] == doctest::Approx(0).epsilon(1e-6));
}

TEST_CASE("bias_grad sums the rows, softmax_rows is stable for huge logits") {
  Rng rng(12);
  for (int64_t cols : {1, 5, 6, 16, 35, 128, 150}) {  // 128, 150: 8 and 10 vectors of 16
    Tensor dz = ck::test::random_tensor({9, cols}, rng);
    std::vector<float> db(cols, NAN);
    bias_grad(dz.data(), 9, cols, db.data());
    for (int64_t j = 0; j < cols; ++j) {
      double sum = 0;
      float in_order = 0;  // the kernel's promise: these float additions, in this order
      for (int64_t i = 0; i < 9; ++i) sum += dz[i * cols + j], in_order += dz[i * cols + j];
      CHECK(db[j] == doctest::Approx(sum).epsilon(1e-5));
      CHECK(db[j] == in_order);
    }
  }
  const float z[3] = {1000.0f, 1001.0f, 999.0f};
  float p[3];
  softmax_rows(z, p, 1, 3);
  const double e = std::exp(1.0);
  CHECK(p[1] == doctest::Approx(e * e / (1 + e + e * e)));
  CHECK(p[0] + p[1] + p[2] == doctest::Approx(1));
}

// --- Adam -------------------------------------------------------------------------

TEST_CASE("adam_update (SIMD) matches adam_update_reference, every tail length") {
  Rng rng(13);
  for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 100, 1000}) {
    CAPTURE(n);
    Tensor w = ck::test::random_tensor({n}, rng),
           m = ck::test::random_tensor({n}, rng, -0.1f, 0.1f);
    Tensor v = ck::test::random_tensor({n}, rng, 0.0f, 0.01f);
    Tensor wr = w.clone(), mr = m.clone(), vr = v.clone();
    for (int step = 0; step < 3; ++step) {
      Tensor g = ck::test::random_tensor({n}, rng);
      g[0] = 0.0f;  // a zero gradient still moves w through m
      adam_update(w.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.999f, 1e-7f);
      adam_update_reference(wr.data(), g.data(), mr.data(), vr.data(), n, 1e-3f, 0.9f, 0.999f,
                            1e-7f);
    }
    // FMA vs separate multiply-add: a few float ulps, nothing more.
    CHECK(ck::test::max_abs_diff(m, mr) < 1e-7f);
    CHECK(ck::test::max_abs_diff(v, vr) < 1e-8f);
    CHECK(ck::test::max_abs_diff(w, wr) < 1e-6f);
  }
}
