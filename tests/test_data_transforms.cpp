// Resize, flips, rotations, zooms, translations, crops and augmentation
// specs, against values computed by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "core/rng.h"
#include "data/augment.h"
#include "data/resize.h"
#include "data_helpers.h"

namespace ck {

namespace {
std::vector<float> iota_image(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}
void check_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK_MESSAGE(std::fabs(got[i] - want[i]) <= tol, "at ", i, ": ", got[i], " vs ", want[i]);
}
}  // namespace

TEST_CASE("data: bilinear resize of a 4x4 image to 2x2 averages 2x2 blocks (half-pixel centers)") {
  const std::vector<float> x = iota_image(16);  // x[r][c] = 4r + c
  std::vector<float> out(4);
  resize_image(x.data(), 4, 4, 1, out.data(), 2, 2, ResizeMethod::bilinear);
  check_close(out, {2.5f, 4.5f, 10.5f, 12.5f});
}

TEST_CASE("data: nearest resize of a 4x4 image to 2x2 takes floor((i + 0.5) * 2)") {
  const std::vector<float> x = iota_image(16);
  std::vector<float> out(4);
  resize_image(x.data(), 4, 4, 1, out.data(), 2, 2, ResizeMethod::nearest);
  check_close(out, {5, 7, 13, 15}, 0);
}

TEST_CASE("data: bilinear upsampling 2x2 -> 4x4 clamps at the edges") {
  const std::vector<float> x = {0, 1, 2, 3};  // 2r + c
  std::vector<float> out(16);
  resize_image(x.data(), 2, 2, 1, out.data(), 4, 4, ResizeMethod::bilinear);
  const float p[4] = {0, 0.25f, 0.75f, 1};  // where rows/columns sample
  std::vector<float> want;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) want.push_back(2 * p[r] + p[c]);
  check_close(out, want);
}

TEST_CASE("data: fast resize and affine warp match their references") {
  Rng rng(7);
  std::vector<float> x(9 * 13 * 3);
  for (float& v : x) v = rng.uniform(0, 255);
  for (ResizeMethod m : {ResizeMethod::bilinear, ResizeMethod::nearest})
    for (auto [oh, ow] : {std::pair{4, 5}, std::pair{17, 29}, std::pair{9, 13}}) {
      std::vector<float> a(oh * ow * 3), b(oh * ow * 3);
      resize_image(x.data(), 9, 13, 3, a.data(), oh, ow, m);
      resize_image_reference(x.data(), 9, 13, 3, b.data(), oh, ow, m);
      check_close(a, b, 1e-3f);  // the compiler may fuse multiply-adds differently
    }
  for (FillMode fill : {FillMode::reflect, FillMode::constant, FillMode::nearest})
    for (ResizeMethod m : {ResizeMethod::bilinear, ResizeMethod::nearest})
      for (float angle : {0.3f, -1.2f, 2.9f}) {
        float mat[6];
        rotation_matrix(angle, 9, 13, mat);
        mat[0] *= 1.3f, mat[4] *= 0.7f, mat[2] += 2.5f;  // and some zoom and shift
        std::vector<float> a(x.size()), b(x.size());
        affine_warp(x.data(), 9, 13, 3, mat, a.data(), fill, -5.0f, m);
        affine_warp_reference(x.data(), 9, 13, 3, mat, b.data(), fill, -5.0f, m);
        check_close(a, b, 1e-3f);
      }
}

TEST_CASE("data: flips mirror columns and rows") {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // 2x3
  std::vector<float> out(6);
  flip_image(x.data(), 2, 3, 1, true, false, out.data());
  check_close(out, {3, 2, 1, 6, 5, 4}, 0);
  flip_image(x.data(), 2, 3, 1, false, true, out.data());
  check_close(out, {4, 5, 6, 1, 2, 3}, 0);
  flip_image(x.data(), 2, 3, 1, true, true, out.data());
  check_close(out, {6, 5, 4, 3, 2, 1}, 0);
}

TEST_CASE("data: a 90-degree rotation turns the image counter-clockwise (Keras's sign)") {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float m[6];
  rotation_matrix(std::numbers::pi_v<float> / 2, 3, 3, m);
  std::vector<float> out(9);
  affine_warp(x.data(), 3, 3, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
  check_close(out, {3, 6, 9, 2, 5, 8, 1, 4, 7});
}

TEST_CASE("data: zoom samples about the center, fill modes decide the outside") {
  std::vector<float> x(25);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 5; ++c) x[r * 5 + c] = static_cast<float>(c);  // value = column
  std::vector<float> out(25);
  float m[6];
  zoom_matrix(0.5f, 0.5f, 5, 5, m);  // zoom in 2x: columns 1, 1.5, 2, 2.5, 3
  affine_warp(x.data(), 5, 5, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
  check_close({out.begin() + 10, out.begin() + 15}, {1, 1.5f, 2, 2.5f, 3});
  zoom_matrix(2.0f, 2.0f, 5, 5, m);  // zoom out 2x: columns -2, 0, 2, 4, 6
  affine_warp(x.data(), 5, 5, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
  check_close({out.begin() + 10, out.begin() + 15}, {1, 0, 2, 4, 3});  // d c b a | a b c d e | e d c
  affine_warp(x.data(), 5, 5, 1, m, out.data(), FillMode::constant, -1, ResizeMethod::bilinear);
  check_close({out.begin() + 10, out.begin() + 15}, {-1, 0, 2, 4, -1});
  affine_warp(x.data(), 5, 5, 1, m, out.data(), FillMode::nearest, 0, ResizeMethod::bilinear);
  check_close({out.begin() + 10, out.begin() + 15}, {0, 0, 2, 4, 4});
}

TEST_CASE("data: translation moves the content by +dx and interpolates fractions") {
  const std::vector<float> x = {10, 20, 30, 40};  // 1x4
  std::vector<float> out(4);
  float m[6];
  translation_matrix(0, 1, m);
  affine_warp(x.data(), 1, 4, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
  check_close(out, {10, 10, 20, 30});
  translation_matrix(0, 0.5f, m);
  affine_warp(x.data(), 1, 4, 1, m, out.data(), FillMode::reflect, 0, ResizeMethod::bilinear);
  check_close(out, {10, 15, 25, 35});
  translation_matrix(0, 1, m);
  affine_warp(x.data(), 1, 4, 1, m, out.data(), FillMode::constant, 0, ResizeMethod::bilinear);
  check_close(out, {0, 10, 20, 30});
}

TEST_CASE("data: crop takes a window, the inference crop is the centered window resized") {
  const std::vector<float> x = iota_image(16);
  std::vector<float> out(4);
  crop_image(x.data(), 4, 4, 1, 1, 2, 2, 2, out.data());
  check_close(out, {6, 7, 10, 11}, 0);
  const std::vector<float> wide = iota_image(24);  // 4x6, value 6r + c
  crop_resize(wide.data(), 4, 6, 1, out.data(), 2, 2);  // window rows 0..3, columns 1..4
  check_close(out, {4.5f, 6.5f, 16.5f, 18.5f});
}

TEST_CASE("data: fit_image converts channels like PIL and rounds resized values to 8 bits") {
  Image rgb;
  rgb.height = 1, rgb.width = 2, rgb.channels = 3;
  rgb.pixels = {255, 0, 0, 10, 20, 30};
  const Image gray = fit_image(rgb, 1, 1, 2, ResizeMethod::bilinear);
  CHECK(gray.pixels == std::vector<uint8_t>{76, 18});  // (299*255+500)/1000, (2990+11740+3420+500)/1000
  Image g;
  g.height = 1, g.width = 2, g.channels = 1, g.pixels = {0, 3};
  const Image up = fit_image(g, 3, 1, 4, ResizeMethod::bilinear);  // columns 0, .25, .75, 1 -> 0, .75, 2.25, 3
  CHECK(up.channels == 3);
  CHECK(up.pixels == std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3});
}

TEST_CASE("data: augmentation specs parse to Keras's factors and reject bad input") {
  const Augmentation a = Augmentation::parse("flip(horizontal) rotation(0.2) zoom(0.2) translation(0.1, 0.2) crop(24x20)");
  REQUIRE(a.steps.size() == 5);
  CHECK(a.steps[0].horizontal);
  CHECK_FALSE(a.steps[0].vertical);
  CHECK(a.steps[1].factor == doctest::Approx(0.2));
  CHECK(a.steps[1].fill == FillMode::reflect);
  CHECK(a.steps[2].has_width == false);
  CHECK(a.steps[3].width_factor == doctest::Approx(0.2));
  CHECK(a.output_shape({28, 28, 1}) == Shape{24, 20, 1});
  CHECK(Augmentation::parse("flip").steps[0].vertical);
  CHECK(Augmentation::parse("rotation(0.1, fill=constant, value=3)").steps[0].fill_value == 3);
  using test::contains, test::error_of;
  CHECK(contains(error_of([] { Augmentation::parse("rotate(0.2)"); }), "unknown step \"rotate\""));
  CHECK(contains(error_of([] { Augmentation::parse("rotation(2)"); }), "must be in [-1, 1]"));
  CHECK(contains(error_of([] { Augmentation::parse("rotation(abc)"); }), "not a number"));
  CHECK(contains(error_of([] { Augmentation::parse("zoom(0.2"); }), "never closed"));
  CHECK(contains(error_of([] { Augmentation::parse("crop(0x5)"); }), "crop(24x24)"));
  CHECK(contains(error_of([] { Augmentation::parse("flip(sideways)"); }), "horizontal, vertical or both"));
  CHECK(contains(error_of([] { Augmentation::parse("zoom(0.1, fill=wrap)"); }), "fill must be"));
}

TEST_CASE("data: augmentation draws from the sample's Rng only, and stays in range") {
  const Augmentation flip = Augmentation::parse("flip(horizontal)");
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> out(6), work;
  int flipped = 0;
  for (int i = 0; i < 400; ++i) {
    Rng rng = Rng::derive(1, 2, i);
    flip.apply(x.data(), {2, 3, 1}, out.data(), rng, work);
    const bool f = out == std::vector<float>{3, 2, 1, 6, 5, 4};
    CHECK((f || out == x));
    flipped += f;
  }
  CHECK(flipped > 150);  // p = 0.5
  CHECK(flipped < 250);
  const Augmentation all = Augmentation::parse("rotation(0.2) zoom(0.2) translation(0.1) crop(4x4)");
  std::vector<float> img(36), a(16), b(16);
  for (int i = 0; i < 36; ++i) img[i] = static_cast<float>(i);
  Rng r1(5), r2(5);
  all.apply(img.data(), {6, 6, 1}, a.data(), r1, work);
  all.apply(img.data(), {6, 6, 1}, b.data(), r2, work);
  CHECK(a == b);
  for (float v : a) CHECK((v >= 0 && v <= 35));  // reflect fill and bilinear stay within the input's range
}

}  // namespace ck
