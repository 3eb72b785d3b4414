// Model specs (presets, argument forms, canonical round trip, errors),
// Keras naming, parameter and FLOP counts, shape inference errors, compile,
// initialization statistics and whole-model gradient checks.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "apps/model_builder.h"
#include "core/error.h"
#include "layers/gradcheck.h"
#include "layers/model.h"
#include "layers/spec.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::error_of;

namespace {

Model build(const std::string& spec, Shape input) { return make_model(spec, input); }

std::vector<std::string> layer_names(const Model& m) {
  std::vector<std::string> names;
  for (const auto& l : m.layers()) names.push_back(l->name);
  return names;
}

}  // namespace

// --- Presets, counts, naming ------------------------------------------------------

TEST_CASE("fmnist-cnn: 3,274,634 params, 27,805,440 FLOPs, Keras layer and param names") {
  Model m = make_model("fmnist-cnn", std::nullopt);
  CHECK(m.input_shape() == Shape{28, 28, 1});
  CHECK(m.param_count() == 3274634);
  CHECK(m.trainable_param_count() == 3274634);
  // conv 2*28*28*32*25 + pool 14*14*32*4 + conv 2*14*14*64*800 + pool 7*7*64*4
  // + dense 2*3136*1024 + dense 2*1024*10
  CHECK(m.flops() == 1254400 + 25088 + 20070400 + 12544 + 6422528 + 20480);
  CHECK(layer_names(m) == std::vector<std::string>{"conv2d", "max_pooling2d", "conv2d_1",
                                                   "max_pooling2d_1", "flatten", "dense", "dropout",
                                                   "dense_1"});
  std::vector<std::string> pnames;
  for (Param* p : m.params()) pnames.push_back(p->name);
  CHECK(pnames == std::vector<std::string>{"conv2d/kernel", "conv2d/bias", "conv2d_1/kernel",
                                           "conv2d_1/bias", "dense/kernel", "dense/bias",
                                           "dense_1/kernel", "dense_1/bias"});
  CHECK(m.layer(3).output_shape == Shape{7, 7, 64});
  CHECK(m.output_shape() == Shape{10});
  const std::string summary = m.summary();
  CHECK(summary.find("Total params: 3,274,634") != std::string::npos);
  CHECK(summary.find("conv2d_1 (conv2d(64,5,same,relu))") != std::string::npos);
  CHECK(summary.find("(None, 14, 14, 64)") != std::string::npos);
}

TEST_CASE("a preset's softmax head takes the data's class count, typed layers never change") {
  Model three = make_model("fmnist-cnn", std::nullopt, 3);
  CHECK(three.output_shape() == Shape{3});
  CHECK(three.spec().ends_with("dense(3,softmax)"));
  CHECK(three.param_count() == 3274634 - 7 * 1025);  // 7 fewer output units, each 1024 + 1
  CHECK(make_model("fmnist-cnn", std::nullopt, 10).spec() ==
        make_model("fmnist-cnn", std::nullopt).spec());
  // A spec the user typed keeps its layers, so the mismatch is reported, not hidden.
  CHECK(make_model("flatten dense(10,softmax)", Shape{4, 4, 1}, 3).output_shape() == Shape{10});
  CHECK(make_model("lenet5 dropout(0.1) dense(10,softmax)", std::nullopt, 3).output_shape() ==
        Shape{10});
  // A sigmoid head is a binary model, not a class count.
  CHECK(make_model("raw-binary", std::nullopt, 2).output_shape() == Shape{1});
}

TEST_CASE("lenet5: 61,706 params and 839,344 FLOPs") {
  Model m = make_model("lenet5", std::nullopt);
  CHECK(m.param_count() == 61706);
  CHECK(m.layer(2).output_shape == Shape{10, 10, 16});  // valid 5x5 on 14x14
  CHECK(m.flops() == 235200 + 4704 + 480000 + 1600 + 96000 + 20160 + 1680);
}

TEST_CASE("every preset parses, the small ones build with their default input") {
  for (const Preset& p : presets()) {
    const std::string preset_name = p.name;
    CAPTURE(preset_name);
    ParsedSpec parsed = parse_model_spec(p.name);
    REQUIRE(parsed.input.has_value());
    CHECK(*parsed.input == parse_shape(p.input, "input"));
    CHECK(!parsed.layers.empty());
    // Building allocates every weight and its gradient: vgg16 (138M params,
    // 1.1 GB) and learning-rate-10 (44M) are only parsed here.
    const std::string name = p.name;
    if (name == "vgg16" || name == "learning-rate-10") {
      CHECK(parsed.layers.size() == (name == "vgg16" ? 22u : 8u));
      continue;
    }
    Model m = make_model(p.name, std::nullopt);
    CHECK(m.output_shape().size() == (name == "vgg16-base" ? 3u : 1u));
    // Keras's VGG16(include_top=False) has 14,714,688 parameters.
    if (name == "vgg16-base") CHECK(m.param_count() == 14714688);
    if (name == "pretrained-preprocessing") CHECK(m.param_count() == 14714688 + 25088 * 10 + 10);
    if (name == "raw-pixels") CHECK(m.param_count() == 896 + 15 * 15 * 32 * 10 + 10);
    CHECK(m.param_count() > 0);
  }
  CHECK(find_preset("lenet5") != nullptr);
  CHECK(find_preset("lenet6") == nullptr);
}

TEST_CASE("Keras-style names: each kind counts on its own") {
  Model m = build(
      "conv2d(4,3) relu conv2d(4,3) maxpool(2) dropout(0.1) conv2d(2,1) "
      "globalavgpool dense(3) dropout(0.2) dense(2)",
      {12, 12, 1});
  CHECK(layer_names(m) == std::vector<std::string>{"conv2d", "activation", "conv2d_1",
                                                   "max_pooling2d", "dropout", "conv2d_2",
                                                   "global_average_pooling2d", "dense", "dropout_1",
                                                   "dense_1"});
}

// --- Spec syntax --------------------------------------------------------------------

TEST_CASE("every layer's argument forms parse to the same layer") {
  struct Same {
    const char* a;
    const char* b;
  };
  for (Same s : {
           Same{"conv2d(8,3)", "conv2d(filters=8,kernel=3x3)"},
           Same{"conv2d(8,3,same,relu)", "CONV2D(8, 3, padding=same, activation=relu)"},
           Same{"conv(8,3x2,stride=2)", "conv2d(8,kernel=3x2,strides=2x2)"},
           Same{"conv2d(8,3,stride=2x1,bias=false)", "conv2d(8,3,strides=2x1,bias=0)"},
           Same{"conv2d(8,3,valid,linear)", "conv2d(8,3)"},
           Same{"conv2d(relu,8,same,3)", "conv2d(8,3,same,relu)"},
           Same{"maxpool(2)", "maxpool2d(pool=2)"},
           Same{"maxpool(2,stride=2)", "max_pooling2d(pool_size=2x2)"},
           Same{"maxpool(3,stride=1,same)", "maxpool(3,strides=1,padding=same)"},
           Same{"maxpool", "maxpool(2)"},
           Same{"dense(10,softmax)", "dense(units=10,activation=softmax)"},
           Same{"dense(10,bias=false)", "dense(10,linear,bias=false)"},
           Same{"dropout(0.5)", "dropout(rate=0.5)"},
           Same{"globalavgpool", "gap"},
           Same{"global_average_pooling2d", "globalavgpool"},
           Same{"relu", "activation(relu)"},
           Same{"input(8x8x3) flatten", "flatten"},
       }) {
    const std::string a = s.a, b = s.b;
    CAPTURE(a);
    CAPTURE(b);
    // Flat-input layers get a flatten in front; the rest work on the image.
    auto spec_of = [&](const std::string& t) {
      const bool flat = t.rfind("dense", 0) == 0 || t.rfind("dropout", 0) == 0;
      return build((flat ? "flatten " : "") + t, {8, 8, 3}).spec();
    };
    CHECK(spec_of(a) == spec_of(b));
  }
  ParsedSpec with_input = parse_model_spec("input(28x28x1) conv2d(4,3) flatten dense(10)");
  REQUIRE(with_input.input.has_value());
  CHECK(*with_input.input == Shape{28, 28, 1});
}

TEST_CASE("canonical spec(): parse(spec()) rebuilds an identical architecture") {
  for (const char* spec :
       {"fmnist-cnn", "lenet5", "raw-binary", "shallow-model",
        "input(20x18x3) conv2d(8,3x2,stride=2x1,same,tanh) maxpool(3,stride=1,same) "
        "conv2d(6,1,bias=false) dropout(0.25) globalavgpool dense(7,sigmoid,bias=false) "
        "softmax",
        "input(9x9x1) conv2d(4,5,valid) relu maxpool(2) flatten linear dense(3) tanh"}) {
    const std::string text = spec;
    CAPTURE(text);
    Model a = make_model(spec, std::nullopt);
    const std::string canonical = a.spec();
    CAPTURE(canonical);
    Model b = make_model(canonical, a.input_shape());
    CHECK(b.spec() == canonical);
    CHECK(b.param_count() == a.param_count());
    CHECK(b.flops() == a.flops());
    REQUIRE(b.layers().size() == a.layers().size());
    for (size_t i = 0; i < a.layers().size(); ++i) {
      CHECK(b.layers()[i]->name == a.layers()[i]->name);
      CHECK(b.layers()[i]->output_shape == a.layers()[i]->output_shape);
    }
  }
  CHECK(make_model("lenet5", std::nullopt).spec() ==
        "conv2d(6,5,same,relu) maxpool(2) conv2d(16,5,relu) maxpool(2) flatten dense(120,relu) "
        "dense(84,relu) dense(10,softmax)");
}

TEST_CASE("spec errors quote the spec, point ^^^ at the token and suggest the near name") {
  const std::string e = error_of([] { parse_model_spec("conv2d(32,3) maxpol(2) flatten"); });
  CHECK(e.find("in model spec:\n  conv2d(32,3) maxpol(2) flatten\n               ^^^^^^^^^\n") !=
        std::string::npos);
  CHECK(e.find("unknown layer \"maxpol\"") != std::string::npos);
  CHECK(e.find("did you mean maxpool?") != std::string::npos);
  CHECK(error_of([] { parse_model_spec("dense(10) lenet6"); }).find("did you mean lenet5?") !=
        std::string::npos);
  CHECK(error_of([] { parse_model_spec("zzzzzz"); }).find("did you mean") == std::string::npos);

  struct Bad {
    const char* spec;
    const char* message;
  };
  for (Bad b : {
           Bad{"conv2d(abc,3)", "filters must be a positive whole number, got \"abc\""},
           Bad{"conv2d(32)", "needs a kernel size"},
           Bad{"conv2d(kernel=3)", "needs a number of filters"},
           Bad{"conv2d(0,3)", "filters must be a positive whole number"},
           Bad{"conv2d(8,3x0)", "kernel must be a positive whole number"},
           Bad{"conv2d(8,3,foo=1)", "unexpected argument \"foo=1\"; usage: conv2d("},
           Bad{"conv2d(8,3,padding=full)", "padding must be same or valid"},
           Bad{"conv2d(8,3,activation=gelu)", "unknown activation \"gelu\""},
           Bad{"conv2d(8,3,bias=maybe)", "expected true or false"},
           Bad{"conv2d(8,3,2)", "unexpected argument \"2\""},
           Bad{"conv2d(8,3", "\"conv2d(\" is never closed"},
           Bad{"maxpool(x)", "pool size must be a positive whole number"},
           Bad{"dense()", "needs a number of units"},
           Bad{"dense(-3)", "units must be a positive whole number"},
           Bad{"dense(10,20)", "unexpected argument \"20\""},
           Bad{"dropout(1.5)", "rate must be a number in [0, 1)"},
           Bad{"dropout(1)", "rate must be a number in [0, 1)"},
           Bad{"dropout()", "needs one rate"},
           Bad{"dropout(0.5,0.2)", "needs one rate"},
           Bad{"flatten(2)", "takes no arguments"},
           Bad{"relu(2)", "takes no arguments"},
           Bad{"lenet5(3)", "a preset takes no arguments"},
           Bad{"flatten input(28x28x1)", "may only come first"},
           Bad{"input(28x28x0) flatten", "is not a shape"},
       }) {
    const std::string spec = b.spec;
    CAPTURE(spec);
    const std::string msg = error_of([&] { parse_model_spec(b.spec); });
    CHECK(msg.find(b.message) != std::string::npos);
    if (std::string(b.spec).find("input(28x28x0)") == std::string::npos)
      CHECK(msg.find(std::string("in model spec:\n  ") + b.spec + "\n") != std::string::npos);
  }
  CHECK(error_of([] { parse_model_spec("   "); }).find("has no layers") != std::string::npos);
  CHECK(error_of([] {
          make_model("conv2d(4,3) flatten dense(2)", std::nullopt);
        }).find("does not say its input shape") != std::string::npos);
}

// --- Shape inference -------------------------------------------------------------------

TEST_CASE("shape inference errors name the layer and the fix") {
  struct Case {
    const char* spec;
    Shape input;
    std::vector<const char*> words;
  };
  for (const Case& c : std::vector<Case>{
           Case{"conv2d(8,5) flatten dense(10)",
                {4, 4, 1},
                {"conv2d:", "5x5 kernel does not fit", "4x4x1", "padding same"}},
           Case{"conv2d(8,3) maxpool(2) conv2d(8,3) maxpool(2) conv2d(8,3)",
                {10, 10, 1},
                {"conv2d_2:", "does not fit"}},
           Case{"maxpool(3) maxpool(3) maxpool(3)",
                {8, 8, 1},
                {"max_pooling2d_1:", "pool window does not fit"}},
           Case{"conv2d(8,3,relu) flatten dense(10)",
                {-1, -1, 3},
                {"flatten:", "(None, None, 8)", "globalavgpool", "--resize"}},
           Case{"dense(10)",
                {28, 28, 1},
                {"dense:", "needs a flat input", "(28, 28, 1)", "flatten"}},
           Case{"conv2d(8,3)",
                {784},
                {"conv2d:", "needs an image input", "flat inputs go to dense layers"}},
           Case{"maxpool(2)", {10}, {"max_pooling2d:", "needs an image input"}},
           Case{"globalavgpool", {10}, {"global_average_pooling2d:", "needs an image input"}},
           Case{"conv2d(4,3)", {8, 8, -1}, {"conv2d:", "channels must be known"}},
       }) {
    const std::string spec = c.spec;
    CAPTURE(spec);
    const std::string msg = error_of([&] { make_model(c.spec, c.input); });
    CAPTURE(msg);
    for (const char* w : c.words) CHECK(msg.find(w) != std::string::npos);
  }
  // With unknown sizes, shapes stay None until data arrives; globalavgpool makes them flat.
  Model m = build("conv2d(4,3,relu) maxpool(2) globalavgpool dense(3,softmax)", {-1, -1, 3});
  CHECK(m.layer(1).output_shape == Shape{-1, -1, 4});
  CHECK(m.output_shape() == Shape{3});
}

TEST_CASE("a model with unknown image size runs on two sizes, a wrong input shape is an error") {
  Model m = build("conv2d(4,3,same,relu) maxpool(2) globalavgpool dense(3)", {-1, -1, 2});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(1);
  m.init(rng);
  for (int64_t size : {8, 13, 8}) {
    Tensor x = ck::test::random_tensor({2, size, size + 1, 2}, rng);
    const Tensor& out = m.forward(x, {});
    CHECK(out.shape() == Shape{2, 3});
    CHECK(m.activation(1).shape() == Shape{2, size / 2, (size + 1) / 2, 4});
  }
  Tensor bad_channels({1, 8, 8, 3});
  CHECK(error_of([&] {
          m.forward(bad_channels, {});
        }).find("expects inputs of shape (None, None, 2), got (8, 8, 3)") != std::string::npos);
  Model fixed = build("flatten dense(2)", {4, 4, 1});
  Tensor wrong({1, 4, 5, 1});
  CHECK(error_of([&] {
          fixed.forward(wrong, {});
        }).find("expects inputs of shape (4, 4, 1), got (4, 5, 1)") != std::string::npos);
}

// --- compile ----------------------------------------------------------------------------

TEST_CASE("compile moves softmax off the last layer once, even when called twice") {
  Model m = build("flatten dense(4,relu) dense(3,softmax)", {2, 2, 1});
  Rng rng(2);
  m.init(rng);
  Tensor x = ck::test::random_tensor({5, 2, 2, 1}, rng);
  const std::string spec = m.spec();
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    m.compile(LossKind::sparse_categorical_crossentropy);
    CHECK(m.head() == Activation::softmax);
    CHECK(m.layers().back()->activation() == Activation::linear);
    CHECK(m.spec() == spec);  // what the user wrote, head included
    CHECK(m.layer_spec(2) == "dense(3,softmax)");
    const Tensor& logits = m.forward(x, {});
    double sum = 0;
    for (int k = 0; k < 3; ++k) sum += logits[k];
    CHECK(sum != doctest::Approx(1.0));  // logits, not probabilities
    Tensor probs;
    m.predict(x, probs);
    for (int64_t i = 0; i < 5; ++i) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += probs[i * 3 + k];
      CHECK(s == doctest::Approx(1.0));
    }
  }
  // Recompiling for MSE gives the softmax back to the layer.
  m.compile(LossKind::mean_squared_error);
  CHECK(m.head() == Activation::linear);
  CHECK(m.layers().back()->activation() == Activation::softmax);
  CHECK(m.spec() == spec);
  const Tensor& out = m.forward(x, {});
  CHECK(out[0] + out[1] + out[2] == doctest::Approx(1.0));
}

TEST_CASE("compile errors: output not flat, too few outputs, wrong final activation") {
  CHECK(error_of([] {
          build("conv2d(4,3)", {5, 5, 1}).compile(LossKind::mean_squared_error);
        }).find("is not flat") != std::string::npos);
  CHECK(error_of([] {
          build("flatten dense(1,sigmoid)", {2, 2, 1})
              .compile(LossKind::sparse_categorical_crossentropy);
        }).find("at least 2 outputs") != std::string::npos);
  CHECK(error_of([] {
          build("flatten dense(10,relu)", {2, 2, 1})
              .compile(LossKind::sparse_categorical_crossentropy);
        }).find("end in softmax (or linear logits), not relu") != std::string::npos);
  CHECK(error_of([] {
          build("flatten dense(10,softmax)", {2, 2, 1}).compile(LossKind::binary_crossentropy);
        }).find("one output unit") != std::string::npos);
  CHECK(error_of([] {
          build("flatten dense(1,tanh)", {2, 2, 1}).compile(LossKind::binary_crossentropy);
        }).find("end in sigmoid") != std::string::npos);
  CHECK(default_loss(build("flatten dense(1,sigmoid)", {2, 2, 1}), false) ==
        LossKind::binary_crossentropy);
  CHECK(default_loss(build("flatten dense(1)", {2, 2, 1}), false) ==
        LossKind::sparse_categorical_crossentropy);
  CHECK(default_loss(build("flatten dense(5,softmax)", {2, 2, 1}), false) ==
        LossKind::sparse_categorical_crossentropy);
  // Regression targets (--regression): mean squared error, whatever the head.
  CHECK(default_loss(build("flatten dense(1)", {2, 2, 1}), true) ==
        LossKind::mean_squared_error);
  CHECK(default_loss(build("flatten dense(3)", {2, 2, 1}), true) == LossKind::mean_squared_error);
}

// --- Initialization ----------------------------------------------------------------------

TEST_CASE("glorot_uniform statistics for conv and dense kernels, zero biases") {
  Model m = make_model("fmnist-cnn", std::nullopt);
  for (Param* p : m.params()) p->value.fill(7.0f);  // init must overwrite everything
  Rng rng(42);
  m.init(rng);
  struct Expect {
    const char* name;
    double fan_in, fan_out;
  };
  // conv: fan = kh*kw*C_in, kh*kw*C_out; dense: D, F.
  const Expect expect[] = {{"conv2d/kernel", 25 * 1, 25 * 32},
                           {"conv2d_1/kernel", 25 * 32, 25 * 64},
                           {"dense/kernel", 3136, 1024},
                           {"dense_1/kernel", 1024, 10}};
  for (const Expect& e : expect) {
    const std::string param_name = e.name;
    CAPTURE(param_name);
    Param* p = nullptr;
    for (Param* q : m.params())
      if (q->name == e.name) p = q;
    REQUIRE(p != nullptr);
    const double limit = std::sqrt(6.0 / (e.fan_in + e.fan_out));
    const double n = static_cast<double>(p->value.size());
    double sum = 0, sum2 = 0, top = 0;
    for (int64_t i = 0; i < p->value.size(); ++i) {
      sum += p->value[i];
      sum2 += double{p->value[i]} * p->value[i];
      top = std::max(top, std::fabs(double{p->value[i]}));
    }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(top <= limit);
    CHECK(top > limit * (1 - 20.0 / n));  // the range is used up to its ends
    // Uniform(-l, l): mean 0 (sd l / sqrt(3n)), variance l^2 / 3 (sd ~ 0.9 l^2 / 3 / sqrt(n)).
    CHECK(std::fabs(mean) < 5 * limit / std::sqrt(3 * n));
    CHECK(var == doctest::Approx(limit * limit / 3).epsilon(5 * 0.9 / std::sqrt(n)).scale(0));
  }
  for (Param* p : m.params())
    if (p->name.find("/bias") != std::string::npos)
      for (int64_t i = 0; i < p->value.size(); ++i) REQUIRE(p->value[i] == 0.0f);
  // The same seed draws the same weights.
  Model m2 = make_model("fmnist-cnn", std::nullopt);
  Rng rng2(42);
  m2.init(rng2);
  for (size_t i = 0; i < m.params().size(); ++i)
    CHECK(ck::test::max_abs_diff(m.params()[i]->value, m2.params()[i]->value) == 0.0f);
}

// --- Whole-model gradients ---------------------------------------------------------------

namespace {
void require_model_gradients_ok(const std::vector<LayerCheck>& checks) {
  INFO(format_gradcheck(checks, ck::test::kGradTolerance));
  int64_t tensors = 0;
  for (const LayerCheck& c : checks)
    for (const TensorCheck& t : c.tensors) {
      ++tensors;
      CAPTURE(t.name);
      CHECK(t.checked >= 1);
      CHECK(t.max_rel_error <= ck::test::kGradTolerance);
      // Through a whole model a weight reaches every output: ReLU and max-pool
      // kinks are dense, so more entries are skipped than in one layer.
      CHECK(static_cast<double>(t.skipped) <= 0.5 * (t.checked + t.skipped) + 1);
    }
  CHECK(tensors > 0);
}
}  // namespace

TEST_CASE("whole-model gradients: conv/pool/dropout/dense with SCCE from logits, weighted") {
  Model m = build(
      "conv2d(4,3,same,relu) maxpool(2) conv2d(5,2,stride=2,tanh) flatten "
      "dense(6,relu) dropout(0.3) dense(4,softmax)",
      {8, 7, 2});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(31);
  m.init(rng);
  for (Param* p : m.params())
    if (p->name.find("bias") != std::string::npos)
      for (int64_t i = 0; i < p->value.size(); ++i) p->value[i] = rng.uniform(-0.2f, 0.2f);
  Tensor x = ck::test::random_tensor({3, 8, 7, 2}, rng);
  const float labels[3] = {0, 3, 2}, weights[3] = {1.0f, 2.0f, 0.5f};
  GradCheckOptions o;
  o.training = true;  // dropout active, same mask in every evaluation
  auto checks = gradcheck_model(m, x, labels, weights, o);
  REQUIRE(checks.size() == 7);
  CHECK(checks[0].layer == "conv2d");
  CHECK(checks[6].spec == "dense(4,softmax)");
  require_model_gradients_ok(checks);
  CHECK(format_gradcheck(checks, 1e-2).find("dropout (dropout(0.3))") != std::string::npos);
}

TEST_CASE("flatten passes views: no copy of the activations or of their gradients") {
  Model m = build("conv2d(3,3,relu) flatten dense(2,softmax)", {5, 5, 1});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(5);
  m.init(rng);
  Tensor x = ck::test::random_tensor({4, 5, 5, 1}, rng);
  for (int step = 0; step < 2; ++step) {  // the second step reuses the views' storage
    const Tensor& out = m.forward(x, ForwardContext{});
    CHECK(m.activation(1).data() == m.activation(0).data());
    CHECK(m.activation(1).shape() == Shape{4, 27});
    Tensor dout = ck::test::random_tensor(out.shape(), rng);
    m.backward(dout);
    CHECK(m.activation_grad(0).data() == m.activation_grad(1).data());
    CHECK(m.activation_grad(0).shape() == Shape{4, 3, 3, 3});
  }
  // First in the model: a view of the caller's batch.
  Model flat = build("flatten dense(2,softmax)", {5, 5, 1});
  flat.compile(LossKind::sparse_categorical_crossentropy);
  flat.init(rng);
  flat.forward(x, ForwardContext{});
  CHECK(flat.activation(0).data() == x.data());
}

TEST_CASE(
    "release_scratch frees the activations and layer scratch, and the next step is the same") {
  Model m = build("conv2d(3,3,relu) maxpool(2) flatten dropout(0.5) dense(2,softmax)", {6, 6, 1});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(6);
  m.init(rng);
  Tensor x = ck::test::random_tensor({4, 6, 6, 1}, rng);
  Tensor dout = ck::test::random_tensor({4, 2}, rng);
  auto step = [&](Tensor& out, std::vector<float>& grads) {
    Rng dropout(9);
    ForwardContext ctx;
    ctx.training = true, ctx.rng = &dropout;
    out = m.forward(x, ctx).clone();
    m.backward(dout);
    grads.clear();
    for (Param* p : m.params())
      grads.insert(grads.end(), p->grad.data(), p->grad.data() + p->grad.size());
  };
  Tensor before, after;
  std::vector<float> grads_before, grads_after;
  step(before, grads_before);
  m.release_scratch();
  for (size_t i = 0; i < m.layers().size(); ++i) {
    CHECK(m.activation(i).empty());
    CHECK(!m.activation_overwritten(i));
  }
  step(after, grads_after);
  CHECK(std::equal(before.data(), before.data() + before.size(), after.data()));
  CHECK(grads_before == grads_after);
}

TEST_CASE("whole-model gradients: BCE and MSE heads, globalavgpool and an activation layer") {
  {
    Model m = build("conv2d(3,3,relu) globalavgpool dense(1,sigmoid)", {6, 6, 1});
    m.compile(LossKind::binary_crossentropy);
    Rng rng(32);
    m.init(rng);
    Tensor x = ck::test::random_tensor({4, 6, 6, 1}, rng);
    const float t[4] = {1, 0, 0, 1};
    require_model_gradients_ok(gradcheck_model(m, x, t, nullptr));
  }
  {
    Model m = build("flatten dense(5) tanh dense(3,sigmoid)", {2, 3, 1});
    m.compile(LossKind::mean_squared_error);
    Rng rng(33);
    m.init(rng);
    Tensor x = ck::test::random_tensor({4, 2, 3, 1}, rng);
    std::vector<float> t(12);
    for (float& v : t) v = rng.uniform();
    const float w[4] = {1, 0, 3, 0.5f};
    require_model_gradients_ok(gradcheck_model(m, x, t.data(), w));
  }
}

TEST_CASE("gradcheck_model leaves the weights as they were") {
  Model m = build("flatten dense(3,relu) dense(2,softmax)", {2, 2, 1});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(34);
  m.init(rng);
  std::vector<Tensor> before;
  for (Param* p : m.params()) before.push_back(p->value.clone());
  Tensor x = ck::test::random_tensor({2, 2, 2, 1}, rng);
  const float labels[2] = {1, 0};
  gradcheck_model(m, x, labels, nullptr);
  for (size_t i = 0; i < before.size(); ++i)
    CHECK(ck::test::max_abs_diff(before[i], m.params()[i]->value) == 0.0f);
}

TEST_CASE("gradcheck_layers: every layer of a model on its own, the per-layer table") {
  Model m = build(
      "conv2d(4,3,same,relu) maxpool(2,same) conv2d(3,2,stride=2,sigmoid) dropout(0.2) "
      "globalavgpool dense(5,tanh) softmax",
      {-1, -1, 2});
  Rng rng(35);
  m.init(rng);
  auto checks = gradcheck_layers(m, {7, 6, 2}, 2);
  REQUIRE(checks.size() == 7);
  for (const LayerCheck& c : checks) {
    CAPTURE(c.layer);
    ck::test::require_gradients_ok(c);
  }
  CHECK(checks[1].layer == "max_pooling2d");
  CHECK(checks[1].tensors.size() == 1);  // input only
  CHECK(checks[0].tensors.size() == 3);  // input, kernel, bias
  const std::string table = format_gradcheck(checks, ck::test::kGradTolerance);
  for (const char* row : {"conv2d (conv2d(4,3,same,relu))", "max_pooling2d (maxpool(2,same))",
                          "dropout (dropout(0.2))", "global_average_pooling2d (globalavgpool)",
                          "activation (softmax)", "conv2d_1/kernel"})
    CHECK(table.find(row) != std::string::npos);
  CHECK(table.find("FAIL") == std::string::npos);
  CHECK_THROWS_WITH_AS(gradcheck_layers(m, {-1, 6, 2}, 2), doctest::Contains("every size known"),
                       ck::Error);
}

// A compile that throws must leave the model as it was (strong guarantee):
// otherwise the softmax is back on the last layer while the loss still
// treats the output as logits.
TEST_CASE("a failed compile leaves the previous compile in force") {
  Model m = build("flatten dense(3,softmax)", {2, 2, 1});
  m.compile(LossKind::sparse_categorical_crossentropy);
  REQUIRE(m.head() == Activation::softmax);
  CHECK_THROWS_AS(m.compile(LossKind::binary_crossentropy), ck::Error);
  CHECK(m.loss() == LossKind::sparse_categorical_crossentropy);
  CHECK(m.head() == Activation::softmax);
  CHECK(m.layers().back()->activation() == Activation::linear);
  CHECK(m.spec() == "flatten dense(3,softmax)");
}
