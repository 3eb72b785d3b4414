// Losses: values by hand and against the textbook reference, gradients by
// finite differences, Keras's sum_over_batch_size reduction with sample
// weights, accuracy, the 16.118 cap count, and label errors.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "layers/gradcheck.h"
#include "layers/loss.h"
#include "tests/helpers.h"

using namespace ck;

namespace {

// Checks compute_loss's dout against finite differences of its mean().
TensorCheck check_loss_gradient(LossKind kind, Tensor& out, const std::vector<float>& targets,
                                const float* weights) {
  Tensor dout(out.shape());
  compute_loss(kind, out, targets.data(), weights, &dout);
  std::vector<float> analytic(dout.data(), dout.data() + dout.size());
  return gradcheck_tensor("logits", out, analytic, [&] {
    return compute_loss(kind, out, targets.data(), weights, nullptr).mean();
  });
}

void require_ok(const TensorCheck& t) {
  INFO(format_gradcheck({LayerCheck{"loss", "", {t}}}, ck::test::kGradTolerance));
  CHECK(t.checked == t.size);  // smooth: nothing skipped
  CHECK(t.max_rel_error < 1e-3);  // computed in double: far better than a layer
}

}  // namespace

TEST_CASE("SCCE from logits: hand values, sum_over_batch_size with weights") {
  Tensor z({3, 2});
  z[0] = 0, z[1] = 0;       // ln 2
  z[2] = 2, z[3] = 0;       // label 1: ln(1 + e^2)
  z[4] = -1, z[5] = 3;      // label 1: ln(1 + e^-4)
  const float labels[3] = {0, 1, 1};
  const double l0 = std::log(2.0), l1 = std::log(1 + std::exp(2.0)),
               l2 = std::log(1 + std::exp(-4.0));
  LossStats s = compute_loss(LossKind::sparse_categorical_crossentropy, z, labels, nullptr, nullptr);
  CHECK(s.count == 3);
  CHECK(s.mean() == doctest::Approx((l0 + l1 + l2) / 3).epsilon(1e-12));
  CHECK(s.correct == 2);  // row 0 ties (argmax picks class 0 = label), row 2 right, row 1 wrong
  // Weights (2, 0, 0.5): Keras divides by the batch size N = 3, not by sum(w) = 2.5.
  const float w[3] = {2.0f, 0.0f, 0.5f};
  LossStats sw = compute_loss(LossKind::sparse_categorical_crossentropy, z, labels, w, nullptr);
  CHECK(sw.mean() == doctest::Approx((2 * l0 + 0.5 * l2) / 3).epsilon(1e-12));
  CHECK(sw.mean() != doctest::Approx((2 * l0 + 0.5 * l2) / 2.5));
  CHECK(sw.correct == 2);  // accuracy is unweighted
  CHECK(sw.mean() == doctest::Approx(loss_reference(LossKind::sparse_categorical_crossentropy, z,
                                                    labels, w)));
  // Gradient: w_i (softmax - onehot) / N.
  Tensor dz({3, 2});
  compute_loss(LossKind::sparse_categorical_crossentropy, z, labels, w, &dz);
  CHECK(dz[0] == doctest::Approx(2.0 * (0.5 - 1) / 3));
  CHECK(dz[1] == doctest::Approx(2.0 * 0.5 / 3));
  CHECK(dz[2] == 0.0f);
  CHECK(dz[3] == 0.0f);
  const double p = 1 / (1 + std::exp(-4.0));  // softmax(-1, 3)[1]
  CHECK(dz[5] == doctest::Approx(0.5 * (p - 1) / 3));
}

TEST_CASE("SCCE gradients by finite differences, with and without per-sample weights") {
  Rng rng(21);
  Tensor z = ck::test::random_tensor({6, 10}, rng, -3, 3);
  std::vector<float> labels = {0, 9, 3, 3, 7, 1};
  std::vector<float> w = {1.0f, 0.0f, 2.5f, 0.3f, 1.0f, 4.0f};
  require_ok(check_loss_gradient(LossKind::sparse_categorical_crossentropy, z, labels, nullptr));
  require_ok(check_loss_gradient(LossKind::sparse_categorical_crossentropy, z, labels, w.data()));
  CHECK(compute_loss(LossKind::sparse_categorical_crossentropy, z, labels.data(), w.data(), nullptr)
            .mean() ==
        doctest::Approx(
            loss_reference(LossKind::sparse_categorical_crossentropy, z, labels.data(), w.data())));
}

TEST_CASE("SCCE is exact for huge logits and reports samples past Keras's 16.118 cap") {
  Tensor z({2, 3});
  z[0] = 1000, z[1] = 0, z[2] = 0;   // label 0: loss ~ 2 e^-1000 = 0
  z[3] = 0, z[4] = 1000, z[5] = 20;  // label 0: loss = 1000 + log(1 + e^-980) = 1000
  const float labels[2] = {0, 0};
  Tensor dz({2, 3});
  LossStats s = compute_loss(LossKind::sparse_categorical_crossentropy, z, labels, nullptr, &dz);
  CHECK(s.weighted_sum == doctest::Approx(1000.0));
  CHECK(s.capped == 1);
  CHECK(s.correct == 1);
  for (int i = 0; i < 6; ++i) CHECK(std::isfinite(dz[i]));
  CHECK(dz[3] == doctest::Approx(-0.5));  // (0 - 1) / N
  CHECK(dz[4] == doctest::Approx(0.5));
  CHECK(kKerasLossCap == doctest::Approx(-std::log(1e-7)));
}

TEST_CASE("BCE from logits: hand values, stability, weights, gradients, accuracy at z > 0") {
  Tensor z({4, 1});
  z[0] = 0, z[1] = 2, z[2] = -100, z[3] = 100;
  std::vector<float> t = {1, 0, 0, 0};
  // l = softplus(z) - t z
  const double l[4] = {std::log(2.0), std::log(1 + std::exp(2.0)), std::log1p(std::exp(-100.0)), 100};
  LossStats s = compute_loss(LossKind::binary_crossentropy, z, t.data(), nullptr, nullptr);
  CHECK(s.mean() == doctest::Approx((l[0] + l[1] + l[2] + l[3]) / 4).epsilon(1e-12));
  CHECK(s.correct == 1);  // z = 0 is "not > 0" -> predicts 0, label 1: wrong; only z=-100 is right
  CHECK(s.capped == 1);
  const float w[4] = {0.5f, 1.0f, 3.0f, 0.0f};
  LossStats sw = compute_loss(LossKind::binary_crossentropy, z, t.data(), w, nullptr);
  CHECK(sw.mean() == doctest::Approx((0.5 * l[0] + l[1] + 3 * l[2]) / 4).epsilon(1e-12));

  Rng rng(22);
  Tensor zr = ck::test::random_tensor({8, 1}, rng, -4, 4);
  std::vector<float> tr = {0, 1, 1, 0, 1, 0, 0, 1};
  std::vector<float> wr = {1, 2, 0, 0.5f, 1, 1, 3, 0.25f};
  require_ok(check_loss_gradient(LossKind::binary_crossentropy, zr, tr, nullptr));
  require_ok(check_loss_gradient(LossKind::binary_crossentropy, zr, tr, wr.data()));
  CHECK(compute_loss(LossKind::binary_crossentropy, zr, tr.data(), wr.data(), nullptr).mean() ==
        doctest::Approx(loss_reference(LossKind::binary_crossentropy, zr, tr.data(), wr.data())));
}

TEST_CASE("MSE: mean over outputs, sum_over_batch_size over samples, gradients") {
  Tensor y({2, 2});
  y[0] = 1, y[1] = 2, y[2] = 0, y[3] = -1;
  std::vector<float> t = {0, 0, 1, 1};
  // Sample 0: (1 + 4) / 2 = 2.5; sample 1: (1 + 4) / 2 = 2.5.
  LossStats s = compute_loss(LossKind::mean_squared_error, y, t.data(), nullptr, nullptr);
  CHECK(s.mean() == doctest::Approx(2.5));
  const float w[2] = {2, 0};
  CHECK(compute_loss(LossKind::mean_squared_error, y, t.data(), w, nullptr).mean() ==
        doctest::Approx(2.5));  // (2 * 2.5 + 0) / 2
  Tensor dy({2, 2});
  compute_loss(LossKind::mean_squared_error, y, t.data(), w, &dy);
  CHECK(dy[1] == doctest::Approx(2 * 2.0 * (2 - 0) / 2 / 2));  // w * 2 (y - t) / K / N
  CHECK(dy[3] == 0.0f);

  Rng rng(23);
  Tensor yr = ck::test::random_tensor({5, 3}, rng);
  std::vector<float> tr(15);
  for (float& v : tr) v = rng.uniform(-1, 1);
  std::vector<float> wr = {1, 0, 2, 0.5f, 1};
  require_ok(check_loss_gradient(LossKind::mean_squared_error, yr, tr, nullptr));
  require_ok(check_loss_gradient(LossKind::mean_squared_error, yr, tr, wr.data()));
  CHECK(compute_loss(LossKind::mean_squared_error, yr, tr.data(), wr.data(), nullptr).mean() ==
        doctest::Approx(loss_reference(LossKind::mean_squared_error, yr, tr.data(), wr.data())));
}

TEST_CASE("loss label errors name the sample and the valid range") {
  Tensor z({2, 10});
  const float bad_class[2] = {3, 10};
  CHECK_THROWS_WITH_AS(
      compute_loss(LossKind::sparse_categorical_crossentropy, z, bad_class, nullptr, nullptr),
      doctest::Contains("label 10 of sample 1 is not a class index in 0..9"), ck::Error);
  const float fractional[2] = {1.5f, 0};
  CHECK_THROWS_AS(
      compute_loss(LossKind::sparse_categorical_crossentropy, z, fractional, nullptr, nullptr),
      ck::Error);
  const float negative[2] = {0, -1};
  CHECK_THROWS_AS(
      compute_loss(LossKind::sparse_categorical_crossentropy, z, negative, nullptr, nullptr),
      ck::Error);
  const float nan_label[2] = {NAN, 0};
  CHECK_THROWS_AS(
      compute_loss(LossKind::sparse_categorical_crossentropy, z, nan_label, nullptr, nullptr),
      ck::Error);
  Tensor zb({2, 1});
  const float half[2] = {0, 0.5f};
  CHECK_THROWS_WITH_AS(compute_loss(LossKind::binary_crossentropy, zb, half, nullptr, nullptr),
                       doctest::Contains("is not 0 or 1"), ck::Error);
}

TEST_CASE("NaN logits give a NaN loss (for the NaN guard), not counted as capped") {
  Tensor z({2, 3});
  z[4] = NAN;
  const float labels[2] = {0, 2};
  LossStats s = compute_loss(LossKind::sparse_categorical_crossentropy, z, labels, nullptr, nullptr);
  CHECK(std::isnan(s.mean()));
  CHECK(s.capped == 0);
}

TEST_CASE("loss names: Keras names and aliases round-trip, unknown names list the choices") {
  for (LossKind k : {LossKind::sparse_categorical_crossentropy, LossKind::binary_crossentropy,
                     LossKind::mean_squared_error})
    CHECK(parse_loss(loss_name(k)) == k);
  CHECK(parse_loss("scce") == LossKind::sparse_categorical_crossentropy);
  CHECK(parse_loss("bce") == LossKind::binary_crossentropy);
  CHECK(parse_loss("mse") == LossKind::mean_squared_error);
  CHECK_THROWS_WITH_AS(parse_loss("hinge"), doctest::Contains("mean_squared_error (mse)"),
                       ck::Error);
}

TEST_CASE("LossStats::add accumulates, mean and accuracy of an empty set are 0") {
  LossStats a, b;
  CHECK(a.mean() == 0.0);
  CHECK(a.accuracy() == 0.0);
  a.weighted_sum = 3, a.count = 2, a.correct = 1, a.capped = 0;
  b.weighted_sum = 1, b.count = 2, b.correct = 2, b.capped = 1;
  a.add(b);
  CHECK(a.mean() == doctest::Approx(1.0));
  CHECK(a.accuracy() == doctest::Approx(0.75));
  CHECK(a.capped == 1);
}
