// Each failure mode convkit diagnose must name, produced on purpose on small
// data, and a healthy run that must not raise an alarm.
#include <doctest/doctest.h>

#include "diag_helpers.h"
#include "layers/layer.h"

using namespace ck;
using namespace ck::test;

namespace {

const Dataset& train_1000() {
  static const Dataset d = first_samples(fashion_mnist().train, 1000);
  return d;
}
const Dataset& validation_300() {
  static const Dataset d = first_samples(fashion_mnist().train, 300, 50000);
  return d;
}

// Multiplies every kernel (or sets every bias) of the model's layers.
void scale_kernels(Model& m, float factor) {
  for (Param* p : m.params())
    if (p->name.ends_with("/kernel"))
      for (int64_t i = 0; i < p->value.size(); ++i) p->value[i] *= factor;
}
void set_hidden_biases(Model& m, float value) {
  for (size_t i = 0; i + 1 < m.layers().size(); ++i)
    for (Param* p : m.layers()[i]->params())
      if (p->name.ends_with("/bias")) p->value.fill(value);
}

}  // namespace

TEST_CASE("diagnose: a healthy run raises no alarm") {
  RunRecord run = record_run({kSmallCnn}, train_1000(), &validation_300());
  require_healthy(diagnose(run));
}

TEST_CASE("diagnose: learning rate too high (Adam lr=10)") {
  RunConfig c{kSmallCnn};
  c.lr = 10;
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "lr-too-high");
}

TEST_CASE("diagnose: learning rate too low (Adam lr=1e-7)") {
  RunConfig c{kSmallCnn};
  c.lr = 1e-7f;
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "lr-too-low");
}

TEST_CASE("diagnose: unnormalized input (raw 0..255 pixels)") {
  RunConfig c{kSmallCnn};
  c.scaling = Scaling::none;
  std::vector<Finding> f = diagnose(record_run(c, train_1000(), &validation_300()));
  require_diagnosis(f, "input-unnormalized");
  CHECK(find_finding(f, "input-unnormalized")->value("raw_pixels") == 1);
}

TEST_CASE("diagnose: underfitting (a 2-unit bottleneck)") {
  RunConfig c{"flatten dense(2,relu) dense(10,softmax)"};
  c.epochs = 4;
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "underfitting");
}

TEST_CASE("diagnose: overfitting (a large model on 100 samples)") {
  RunConfig c{"flatten dense(256,relu) dense(256,relu) dense(10,softmax)"};
  c.epochs = 30;
  c.batch = 16;
  const Dataset train = first_samples(fashion_mnist().train, 100);
  require_diagnosis(diagnose(record_run(c, train, &validation_300())), "overfitting");
}

TEST_CASE("diagnose: vanishing gradients (a deep sigmoid stack)") {
  RunConfig c{"flatten dense(32,sigmoid) dense(32,sigmoid) dense(32,sigmoid) dense(32,sigmoid) "
              "dense(32,sigmoid) dense(32,sigmoid) dense(32,sigmoid) dense(32,sigmoid) dense(10,softmax)"};
  c.optimizer = "sgd";
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "vanishing-gradients");
}

TEST_CASE("diagnose: exploding gradients (initial weights x10)") {
  RunConfig c{"flatten dense(64,relu) dense(64,relu) dense(64,relu) dense(10,softmax)"};
  c.optimizer = "sgd";
  c.init = [](Model& m) { scale_kernels(m, 10); };
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "exploding-gradients");
}

TEST_CASE("diagnose: dead ReLUs (hidden biases at -5)") {
  RunConfig c{"flatten dense(64,relu) dense(64,relu) dense(10,softmax)"};
  c.init = [](Model& m) { set_hidden_biases(m, -5); };
  require_diagnosis(diagnose(record_run(c, train_1000(), &validation_300())), "dead-relu");
}

TEST_CASE("diagnose: class imbalance with predictions collapsed onto the majority") {
  // T-shirt (0) against Shirt (6) at 1:50, with a model too weak to find the few.
  Dataset binary = two_classes(fashion_mnist().train, 0, 6, 20, 1000);
  RunConfig c{"flatten dense(1,sigmoid)"};
  c.epochs = 2;
  std::vector<Finding> f = diagnose(record_run(c, binary));
  const std::string text = shown(f);
  INFO(text);
  REQUIRE(find_finding(f, "class-imbalance") != nullptr);
  REQUIRE(find_finding(f, "prediction-collapse") != nullptr);
  CHECK(find_finding(f, "prediction-collapse")->severity == Severity::problem);
  CHECK(find_finding(f, "class-imbalance")->severity == Severity::warning);
}
