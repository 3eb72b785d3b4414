// Image decoding and its failures: corrupt, truncated, absurd, unreadable files.
#include <doctest/doctest.h>
#include <unistd.h>

#include "data/image.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

namespace {
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
// A 2x2 24-bit BMP (rows bottom-up, BGR, padded to 4 bytes).
std::vector<uint8_t> tiny_bmp() {
  std::vector<uint8_t> b(54 + 16, 0);
  b[0] = 'B', b[1] = 'M';
  put32(b, 2, static_cast<uint32_t>(b.size()));
  put32(b, 10, 54), put32(b, 14, 40), put32(b, 18, 2), put32(b, 22, 2);
  b[26] = 1, b[28] = 24;
  put32(b, 34, 16);
  const uint8_t rows[2][6] = {{0, 0, 255, 0, 255, 0}, {255, 0, 0, 255, 255, 255}};  // bottom row first
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 6; ++i) b[54 + r * 8 + i] = rows[r][i];
  return b;
}
}  // namespace

TEST_CASE("data: PNG round trip keeps gray, gray+alpha, RGB and RGBA pixels exactly") {
  for (int c = 1; c <= 4; ++c) {
    const Image img = test::ramp_image(5, 7, c);
    const std::vector<uint8_t> png = encode_png(img);
    const Image back = decode_image_memory(png.data(), png.size(), "x.png");
    CHECK(back.height == 5);
    CHECK(back.width == 7);
    CHECK(back.channels == c);
    CHECK(back.pixels == img.pixels);
  }
}

TEST_CASE("data: JPEG, BMP and GIF (first frame) decode") {
  const Image img = test::ramp_image(16, 16, 3);
  const std::vector<uint8_t> jpg = encode_jpg(img, 95);
  const Image back = decode_image_memory(jpg.data(), jpg.size(), "x.jpg");
  CHECK(back.channels == 3);
  CHECK(back.width == 16);
  const std::vector<uint8_t> bmp = tiny_bmp();
  const Image b = decode_image_memory(bmp.data(), bmp.size(), "x.bmp");
  CHECK(b.channels == 3);
  CHECK(b.pixels == std::vector<uint8_t>{0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 0});
  const std::string gif("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 35);
  const Image g = decode_image_memory(reinterpret_cast<const uint8_t*>(gif.data()), gif.size(), "x.gif");
  CHECK(g.width == 1);
  CHECK(g.pixels[0] == 255);  // the first palette color, red
}

TEST_CASE("data: corrupt, truncated and non-image files are refused with the file's name") {
  test::TempDir dir;
  const Image img = test::ramp_image(32, 32, 3);
  std::vector<uint8_t> jpg = encode_jpg(img, 90), png = encode_png(img);
  jpg.resize(jpg.size() / 2), png.resize(png.size() / 2);
  test::write_bytes(dir / "half.jpg", jpg);
  test::write_bytes(dir / "half.png", png);
  test::write_text(dir / "text.png", "this is not an image at all");
  test::write_text(dir / "empty.jpg", "");
  std::vector<uint8_t> bmp = tiny_bmp();
  bmp.resize(60);
  test::write_bytes(dir / "short.bmp", bmp);
  CHECK(contains(error_of([&] { decode_image(dir / "half.jpg"); }), "half.jpg is truncated"));
  CHECK(contains(error_of([&] { decode_image(dir / "half.png"); }), "half.png is a corrupt PNG file"));
  CHECK(contains(error_of([&] { decode_image(dir / "text.png"); }), "text.png is not a JPEG, PNG, BMP or GIF"));
  CHECK(contains(error_of([&] { decode_image(dir / "empty.jpg"); }), "empty.jpg is empty"));
  CHECK(contains(error_of([&] { decode_image(dir / "short.bmp"); }), "short.bmp is truncated"));
  CHECK(contains(error_of([&] { probe_image(dir / "text.png"); }), "not a JPEG"));
}

TEST_CASE("data: an absurd declared size is refused from the header, before decoding") {
  // A PNG header declaring 10000 x 10000 gray pixels, with no pixel data.
  Image one = test::ramp_image(1, 1, 1);
  std::vector<uint8_t> png = encode_png(one);
  png.resize(33);
  const uint8_t size[8] = {0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10};  // IHDR width, height = 10000
  std::copy(size, size + 8, png.begin() + 16);
  test::TempDir dir;
  test::write_bytes(dir / "huge.png", png);
  CHECK(contains(error_of([&] { probe_image(dir / "huge.png"); }), "declares 10000x10000 pixels (100 megapixels)"));
  CHECK(contains(error_of([&] { decode_image(dir / "huge.png"); }), "refuses images over"));
  ImageLimits small;
  small.max_side = 16;
  const Image big = test::ramp_image(20, 20, 1);
  const std::vector<uint8_t> ok = encode_png(big);
  CHECK(contains(error_of([&] { decode_image_memory(ok.data(), ok.size(), "b.png", small); }), "20x20"));
}

TEST_CASE("data: a missing or unreadable file is an error naming it") {
  test::TempDir dir;
  REQUIRE(symlink("/nonexistent/target.png", (dir / "dangling.png").c_str()) == 0);
  CHECK(contains(error_of([&] { decode_image(dir / "dangling.png"); }), "cannot open"));
  CHECK(contains(error_of([&] { probe_image(dir / "dangling.png"); }), "dangling.png"));
  CHECK(contains(error_of([&] { decode_image(dir.path.string()); }), "is a directory"));
}

TEST_CASE("data: written files replace the target atomically and leave no temporaries") {
  test::TempDir dir;
  const Image img = test::ramp_image(4, 4, 1);
  write_png(dir / "a.png", img);
  write_png(dir / "a.png", test::ramp_image(4, 4, 1, 9));
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
  CHECK(decode_image(dir / "a.png").pixels == test::ramp_image(4, 4, 1, 9).pixels);
  CHECK(contains(error_of([&] { write_png(dir / "no/such/dir/a.png", img); }), "cannot write"));
}

}  // namespace ck
