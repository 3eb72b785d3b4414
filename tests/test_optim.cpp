// Adam and SGD against numbers computed by hand from Keras's update rules
// (KERAS.md; keras/src/optimizers/adam.py, sgd.py), frozen parameters, and
// make_optimizer's defaults and errors.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/param.h"
#include "optim/adam.h"
#include "optim/optimizer.h"
#include "optim/sgd.h"
#include "tests/helpers.h"

using namespace ck;

namespace {

Param make_param(const std::string& name, std::vector<float> values) {
  Param p;
  p.name = name;
  p.value = Tensor({static_cast<int64_t>(values.size())});
  p.grad = Tensor({static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) p.value[i] = values[i];
  return p;
}

void set_grad(Param& p, std::vector<float> g) {
  for (size_t i = 0; i < g.size(); ++i) p.grad[i] = g[i];
}

}  // namespace

// Keras Adam, lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7:
//   m += (g - m) * 0.1;  v += (g^2 - v) * 0.001
//   a_t = 0.001 * sqrt(1 - 0.999^t) / (1 - 0.9^t)
//   w -= a_t * m / (sqrt(v) + 1e-7)
// (Approx(...).scale(0) makes the tolerance purely relative.)
// Step 1, g = 0.5: m = 0.05, v = 0.00025, a_1 = 0.001 * sqrt(0.001) / 0.1
// = 3.16227766e-4, update = a_1 * 0.05 / (0.0158113883 + 1e-7) = 9.99993675e-4.
// The last entry has g = 1e-6: there sqrt(v) = 3.2e-8 is below epsilon, so
// where epsilon goes matters. Keras (epsilon on the uncorrected sqrt(v))
// moves it by 2.40e-4; the PyTorch form (epsilon on sqrt(v_hat)) by 9.90e-4.
TEST_CASE("Adam: three steps against hand-computed Keras values") {
  Param p = make_param("dense/kernel", {1.0f, -2.0f, 0.5f, 3.0f});
  Adam adam;
  CHECK(adam.learning_rate == 0.001f);
  CHECK(adam.beta_1 == 0.9f);
  CHECK(adam.beta_2 == 0.999f);
  CHECK(adam.epsilon == 1e-7f);
  std::vector<Param*> params = {&p};

  set_grad(p, {0.5f, -1.0f, 0.0f, 1e-6f});
  adam.step(params);
  CHECK(adam.iterations == 1);
  CHECK(1.0 - p.value[0] == doctest::Approx(9.99993675e-4).epsilon(2e-4).scale(0));
  CHECK(p.value[1] == doctest::Approx(-1.99900000316).epsilon(2e-7));
  CHECK(p.value[2] == 0.5f);  // zero gradient, zero moment: no move
  CHECK(3.0 - p.value[3] == doctest::Approx(2.40253e-4).epsilon(2e-3).scale(0));  // not 9.90e-4

  set_grad(p, {0.1f, 2.0f, -0.3f, 1e-6f});
  adam.step(params);
  CHECK(p.value[0] == doctest::Approx(0.998196970329).epsilon(2e-7));
  CHECK(p.value[1] == doctest::Approx(-1.99936610617).epsilon(2e-7));
  CHECK(p.value[2] == doctest::Approx(0.50074412898).epsilon(2e-7));
  CHECK(p.value[3] == doctest::Approx(2.99945078332).epsilon(2e-7));

  set_grad(p, {0.5f, -1.0f, 0.0f, 1e-6f});
  adam.step(params);
  CHECK(adam.iterations == 3);
  CHECK(p.value[0] == doctest::Approx(0.997306483765).epsilon(2e-7));
  CHECK(p.value[1] == doctest::Approx(-1.99936349692).epsilon(2e-7));
  CHECK(p.value[2] == doctest::Approx(0.501319342835).epsilon(2e-7));  // m still moves it
  CHECK(p.value[3] == doctest::Approx(2.99909700829).epsilon(2e-7));

  // The moments are the optimizer's named state, after three steps:
  // m = 0.1 * (0.81 * 0.5 + 0.9 * 0.1 + 0.5) = 0.0995 for the first entry.
  auto state = adam.state();
  REQUIRE(state.size() == 2);
  CHECK(state[0].first == "adam/m/dense/kernel");
  CHECK(state[1].first == "adam/v/dense/kernel");
  CHECK((*state[0].second)[0] == doctest::Approx(0.0995));
}

TEST_CASE("Adam: many entries (SIMD body and tail) and a second param behave like the first") {
  // 37 copies of the same entry must all follow the one-entry trajectory.
  Param big = make_param("a", std::vector<float>(37, 1.0f));
  Param one = make_param("b", {1.0f});
  Adam adam(0.01f);
  std::vector<Param*> params = {&big, &one};
  for (int step = 0; step < 5; ++step) {
    const float g = step % 2 ? -0.25f : 0.75f;
    big.grad.fill(g);
    one.grad.fill(g);
    adam.step(params);
  }
  for (int64_t i = 0; i < 37; ++i) CHECK(big.value[i] == doctest::Approx(one.value[0]).epsilon(1e-6));
  CHECK(one.value[0] < 1.0f);
}

TEST_CASE("SGD plain, momentum and nesterov: two steps by hand (lr 0.1, momentum 0.9)") {
  Param plain = make_param("p", {1.0f}), mom = make_param("m", {1.0f}), nest = make_param("n", {1.0f});
  SGD sgd_plain(0.1f), sgd_mom(0.1f, 0.9f), sgd_nest(0.1f, 0.9f, true);
  std::vector<Param*> pp = {&plain}, pm = {&mom}, pn = {&nest};
  for (Param* p : {&plain, &mom, &nest}) p->grad.fill(0.5f);
  sgd_plain.step(pp), sgd_mom.step(pm), sgd_nest.step(pn);
  // plain: 1 - 0.05; momentum: u = -0.05, w = 0.95; nesterov: w += 0.9 u - 0.05 = -0.095
  CHECK(plain.value[0] == doctest::Approx(0.95));
  CHECK(mom.value[0] == doctest::Approx(0.95));
  CHECK(nest.value[0] == doctest::Approx(0.905));
  sgd_plain.step(pp), sgd_mom.step(pm), sgd_nest.step(pn);
  // momentum: u = 0.9 * -0.05 - 0.05 = -0.095, w = 0.855;
  // nesterov: u = -0.095, w += 0.9 * -0.095 - 0.05 = -0.1355 -> 0.7695
  CHECK(plain.value[0] == doctest::Approx(0.9));
  CHECK(mom.value[0] == doctest::Approx(0.855));
  CHECK(nest.value[0] == doctest::Approx(0.7695));
  CHECK(sgd_mom.iterations == 2);
  auto state = sgd_mom.state();
  REQUIRE(state.size() == 1);
  CHECK(state[0].first == "sgd/velocity/m");
  CHECK((*state[0].second)[0] == doctest::Approx(-0.095));
  CHECK(sgd_plain.state().empty());
}

TEST_CASE("Adam and SGD flush subnormal moments to zero, and leave the thread's float mode as it was") {
  // A weight whose gradient stays 0: its moments decay into subnormals, where
  // x86 arithmetic is 10-100x slower; the optimizers flush them to zero.
  volatile float tiny = 1e-39f;
  REQUIRE(std::fpclassify(tiny) == FP_SUBNORMAL);
  std::vector<float> start(40, 0.5f);  // a SIMD body and a tail
  Param a = make_param("a", start), s = make_param("s", start);
  std::vector<Param*> pa = {&a}, ps = {&s};
  Adam adam(0.001f);
  SGD sgd(0.1f, 0.9f);
  a.grad.fill(0.0f), s.grad.fill(0.0f);
  adam.step(pa), sgd.step(ps);  // creates the moments (0)
  for (auto& [name, t] : adam.state()) t->fill(tiny);
  for (auto& [name, t] : sgd.state()) t->fill(tiny);
  adam.step(pa), sgd.step(ps);
  for (auto& [name, t] : adam.state()) {
    CAPTURE(name);
    for (int64_t i = 0; i < t->size(); ++i) CHECK((*t)[i] == 0.0f);
  }
  for (int64_t i = 0; i < 40; ++i) {
    CHECK(sgd.state()[0].second->data()[i] == 0.0f);
    CHECK(a.value[i] == 0.5f);
    CHECK(s.value[i] == 0.5f);
  }
  // Outside the optimizers, subnormals are computed as before.
  volatile float half = tiny * 0.5f;
  CHECK(half > 0.0f);
}

TEST_CASE("frozen params (trainable = false) are untouched by Adam and SGD") {
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    Param live = make_param("live", {1.0f, 2.0f}), frozen = make_param("frozen", {3.0f, 4.0f});
    frozen.trainable = false;
    live.grad.fill(0.5f), frozen.grad.fill(0.5f);
    std::unique_ptr<Optimizer> opt;
    if (which == 0) opt = std::make_unique<Adam>();
    if (which == 1) opt = std::make_unique<SGD>(0.1f);
    if (which == 2) opt = std::make_unique<SGD>(0.1f, 0.9f, true);
    std::vector<Param*> params = {&frozen, &live};
    for (int i = 0; i < 3; ++i) opt->step(params);
    CHECK(frozen.value[0] == 3.0f);
    CHECK(frozen.value[1] == 4.0f);
    CHECK(live.value[0] < 1.0f);
    CHECK(live.value[1] < 2.0f);
  }
}

TEST_CASE("make_optimizer: Keras defaults, describe(), and errors") {
  auto adam = make_optimizer("adam", 0);
  CHECK(adam->name() == "adam");
  CHECK(adam->learning_rate == 0.001f);
  CHECK(adam->describe() == "adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
  auto sgd = make_optimizer("sgd", 0);
  CHECK(sgd->learning_rate == 0.01f);
  auto sgd2 = make_optimizer("sgd", 0.5f, 0.9f, true);
  CHECK(sgd2->learning_rate == 0.5f);
  CHECK(sgd2->describe() == "sgd(lr=0.5, momentum=0.9, nesterov=true)");

  CHECK_THROWS_WITH_AS(make_optimizer("rmsprop", 0), doctest::Contains("choose adam or sgd"),
                       ck::Error);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", -1), doctest::Contains("--lr must be a positive"),
                       ck::Error);
  CHECK_THROWS_AS(make_optimizer("adam", NAN), ck::Error);
  CHECK_THROWS_AS(make_optimizer("adam", INFINITY), ck::Error);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", 0.1f, 0.9f), doctest::Contains("apply to sgd"),
                       ck::Error);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", 0.1f, 1.0f), doctest::Contains("[0, 1)"), ck::Error);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", 0.1f, 0.0f, true),
                       doctest::Contains("--nesterov needs a --momentum"), ck::Error);
}
