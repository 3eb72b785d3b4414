// Scaling modes, imputation, serialization, and the inference entry points.
#include <doctest/doctest.h>

#include <cmath>

#include "data/preprocess.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

namespace {
// Two 1x2 images with 2 channels: channel 0 = {0, 2 | 4, 6}, channel 1 = {10, 20 | 30, 40}.
Dataset two_images() {
  Dataset d;
  d.sample_shape = {1, 2, 2};
  d.pixels = {0, 10, 2, 20, 4, 30, 6, 40};
  d.targets = {0, 1};
  d.class_names = {"a", "b"};
  return d;
}
std::vector<float> scaled(const Preprocessing& p, std::vector<float> x) {
  p.scale(x.data(), 1, static_cast<int64_t>(x.size()));
  return x;
}
Dataset rgb_pixel(uint8_t r, uint8_t g, uint8_t b) {
  Dataset d;
  d.sample_shape = {1, 1, 3};
  d.pixels = {r, g, b};
  d.targets = {0};
  d.class_names = {"x"};
  return d;
}
}  // namespace

TEST_CASE("data: z-score uses per-channel mean and std over N, H, W of the training samples only") {
  const Dataset d = two_images();
  Preprocessing p;
  p.scaling = Scaling::zscore;
  p.fit(d);
  CHECK(p.offset == std::vector<float>{3, 25});
  CHECK(p.divisor[0] == doctest::Approx(std::sqrt(5.0)));
  CHECK(p.divisor[1] == doctest::Approx(std::sqrt(125.0)));
  const std::vector<float> y = scaled(p, {0, 10, 6, 40});
  CHECK(y[0] == doctest::Approx(-3 / std::sqrt(5.0)));
  CHECK(y[3] == doctest::Approx(15 / std::sqrt(125.0)));
  Preprocessing first;  // fitted on sample 0 only: channel 0 = {0, 2}
  first.scaling = Scaling::zscore;
  first.fit(d, {0});
  CHECK(first.offset == std::vector<float>{1, 15});
  CHECK(first.divisor == std::vector<float>{1, 5});
  CHECK(first.fitted_on == 1);
}

TEST_CASE("data: min-max spans the whole training array for images, each column for tables") {
  Preprocessing p;
  p.scaling = Scaling::minmax;
  p.fit(two_images());
  CHECK(p.offset == std::vector<float>{0});
  CHECK(p.divisor == std::vector<float>{40});
  CHECK(scaled(p, {20, 40})[0] == doctest::Approx(0.5));
  Dataset t;
  t.sample_shape = {2};
  t.values = {1, 10, 3, 30};
  t.targets = {0, 0};
  t.class_names = {"a"};
  Preprocessing q;
  q.scaling = Scaling::minmax;
  q.fit(t);
  CHECK(q.offset == std::vector<float>{1, 10});
  CHECK(q.divisor == std::vector<float>{2, 20});
}

TEST_CASE("data: fixed scalings: 1/255, tf, caffe (RGB->BGR minus means), torch") {
  Preprocessing p;
  p.scaling = Scaling::unit;
  p.fit(rgb_pixel(0, 0, 0));
  CHECK(scaled(p, {255, 51, 0}) == std::vector<float>{1.0f, 0.2f, 0.0f});
  p.scaling = Scaling::tf;
  p.fit(rgb_pixel(0, 0, 0));
  CHECK(scaled(p, {0, 127.5f, 255}) == std::vector<float>{-1, 0, 1});
  p.scaling = Scaling::caffe;
  p.fit(rgb_pixel(0, 0, 0));
  CHECK(p.channel_order == "BGR");
  const std::vector<float> c = scaled(p, {10, 20, 30});
  CHECK(c[0] == doctest::Approx(30 - 103.939));
  CHECK(c[1] == doctest::Approx(20 - 116.779));
  CHECK(c[2] == doctest::Approx(10 - 123.68));
  p.scaling = Scaling::torch;
  p.fit(rgb_pixel(0, 0, 0));
  const std::vector<float> t = scaled(p, {255, 0, 127.5f});
  CHECK(t[0] == doctest::Approx((1 - 0.485) / 0.229).epsilon(1e-5));
  CHECK(t[1] == doctest::Approx(-0.456 / 0.224).epsilon(1e-5));
  CHECK(t[2] == doctest::Approx((0.5 - 0.406) / 0.225).epsilon(1e-5));
  Preprocessing gray;
  gray.scaling = Scaling::caffe;
  CHECK(contains(error_of([&] { gray.fit(two_images()); }), "expects RGB images"));
}

TEST_CASE("data: imputers fit mean, median, most frequent and constant on the training rows only") {
  Dataset t;
  t.sample_shape = {1};
  t.columns = {"age"};
  t.values = {1, 2, 2, NAN, 10, 100};  // row 5 (100) is not a training row below
  t.targets = {0, 0, 0, 0, 0, 0};
  t.class_names = {"a"};
  const std::vector<int64_t> train = {0, 1, 2, 3, 4};
  float constant = 0;
  auto fill = [&](const std::string& how) {
    Preprocessing p;
    p.impute = parse_impute(how, constant);
    p.impute_constant = constant;
    p.fit(t, train);
    std::vector<float> x = {NAN};
    p.impute_missing(x.data(), 1);
    return x[0];
  };
  CHECK(fill("mean") == doctest::Approx(15.0 / 4));
  CHECK(fill("median") == doctest::Approx(2));
  CHECK(fill("most-frequent") == 2);
  CHECK(fill("constant:-1") == -1);
  Preprocessing none;
  none.fit(t, train);
  std::vector<float> x = {NAN};
  CHECK(contains(error_of([&] { none.impute_missing(x.data(), 1); }), "\"age\" is missing"));
  t.values = {NAN, NAN, NAN, NAN, NAN, 1};
  CHECK(contains(error_of([&] { fill("mean"); }), "column \"age\" has no values in the 5 training rows"));
  CHECK(contains(error_of([&] { parse_impute("constant", constant); }), "constant:VALUE"));
}

TEST_CASE("data: the preprocessing object survives JSON and rejects malformed records") {
  Dataset d = two_images();
  Preprocessing p;
  p.scaling = Scaling::zscore;
  p.resize = true;
  p.resize_method = ResizeMethod::nearest;
  p.crop_height = 1, p.crop_width = 1;
  p.fit(d);
  const Preprocessing q = Preprocessing::from_json(nlohmann::json::parse(p.to_json().dump()));
  CHECK(q.to_json() == p.to_json());
  CHECK(q.input_shape() == Shape{1, 1, 2});
  CHECK(q.offset == p.offset);
  CHECK(q.class_names == std::vector<std::string>{"a", "b"});
  // A record without its format marker (e.g. a bare {"scaling": ...}) has no geometry: refused.
  CHECK(contains(error_of([&] { Preprocessing::from_json({{"scaling", "1/255"}}); }),
                 "malformed preprocessing record"));
  nlohmann::json bad = p.to_json();
  bad["divisor"] = {0.0, 1.0};
  CHECK(contains(error_of([&] { Preprocessing::from_json(bad); }), "malformed preprocessing record"));
  bad = p.to_json();
  bad.erase("stored_shape");
  CHECK(contains(error_of([&] { Preprocessing::from_json(bad); }), "malformed"));
  CHECK(contains(error_of([&] { Preprocessing::from_json(nlohmann::json::array()); }), "malformed"));
  CHECK(contains(p.details(), "offset:         [3, 25]"));
}

TEST_CASE("data: image_input applies training's resize, channels and scaling, or says why it cannot") {
  Dataset d;
  d.sample_shape = {2, 2, 1};
  d.pixels = {0, 0, 0, 0};
  d.targets = {0};
  d.class_names = {"x"};
  Preprocessing p;
  p.scaling = Scaling::unit;
  p.fit(d);
  Image rgb = test::ramp_image(4, 4, 3);
  const std::string e = error_of([&] { p.image_input(rgb); });
  CHECK(contains(e, "the image is 4x4x3 but the model expects 2x2x1"));
  CHECK(contains(e, "--resize 2x2"));
  p.resize = true;
  const Tensor t = p.image_input(rgb);
  CHECK(t.shape() == Shape{2, 2, 1});
  Image same;
  same.height = 2, same.width = 2, same.channels = 1, same.pixels = {0, 51, 102, 255};
  p.resize = false;
  const Tensor s = p.image_input(same);
  CHECK(s[1] == doctest::Approx(0.2));
  CHECK(s[3] == doctest::Approx(1.0));
}

TEST_CASE("data: row_input maps columns by name, imputes, and names row and column when it cannot") {
  Dataset t;
  t.sample_shape = {2};
  t.columns = {"a", "b"};
  t.values = {1, 10, 3, NAN};
  t.targets = {0, 1};
  t.class_names = {"x", "y"};
  Preprocessing none;
  none.fit(t);
  float out[2];
  none.row_input({"b", "label", "a"}, {"7", "x", "5"}, "new.csv line 2", out);
  CHECK(out[0] == 5);
  CHECK(out[1] == 7);
  const std::string e = error_of([&] { none.row_input({"a", "b"}, {"5", ""}, "new.csv line 3", out); });
  CHECK(contains(e, "new.csv line 3, column \"b\""));
  CHECK(contains(e, "no imputer"));
  CHECK(contains(error_of([&] { none.row_input({"a"}, {"5"}, "r", out); }), "no column \"b\""));
  CHECK(contains(error_of([&] { none.row_input({"a", "b"}, {"5", "x"}, "r", out); }), "\"x\" is not a number"));
  Preprocessing mean;
  mean.impute = Impute::mean;
  mean.fit(t);
  mean.row_input({"a", "b"}, {"NaN", "NA"}, "r", out);
  CHECK(out[0] == 2);
  CHECK(out[1] == 10);
}

}  // namespace ck
