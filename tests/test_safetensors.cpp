// safetensors reading and writing: round trips, and every way a hostile or
// damaged file can lie, each refused with a clear message and no large
// allocation.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "helpers.h"

using namespace ck;
namespace fs = std::filesystem;

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file with `header` as its JSON and `data_bytes` bytes of data.
std::string make_file(const nlohmann::json& header, size_t data_bytes) {
  std::string json = header.dump();
  return le64(json.size()) + json + std::string(data_bytes, '\0');
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "m.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

nlohmann::json entry(const char* dtype, std::vector<uint64_t> shape, uint64_t begin, uint64_t end) {
  return {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

}  // namespace

TEST_CASE("safetensors: write then read returns the same tensors and metadata") {
  Rng rng(1);
  Tensor a = test::random_tensor({3, 3, 2, 4}, rng), b = test::random_tensor({4}, rng);
  Tensor empty({0});
  const test::TempDir dir;
  const std::string path = dir / "roundtrip.safetensors";
  write_safetensors(path, {{"conv2d/kernel", &a}, {"conv2d/bias", &b}, {"nothing", &empty}},
                    {{"format", "convkit"}, {"note", "a \"quoted\" value"}});
  SafeTensors f = read_safetensors(path);
  REQUIRE(f.tensors.size() == 3);
  CHECK(f.tensors[0].first == "conv2d/kernel");  // file order is write order
  CHECK(f.tensors[1].first == "conv2d/bias");
  CHECK(f.find("conv2d/kernel")->shape() == Shape{3, 3, 2, 4});
  CHECK(test::max_abs_diff(*f.find("conv2d/kernel"), a) == 0.0f);
  CHECK(test::max_abs_diff(*f.find("conv2d/bias"), b) == 0.0f);
  CHECK(f.metadata.at("note") == "a \"quoted\" value");
  CHECK(f.find("missing") == nullptr);
  // The data buffer starts 8-byte aligned, as the reference writer does.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  CHECK((8 + n) % 8 == 0);
}

TEST_CASE("safetensors: the layout matches the published format byte for byte") {
  // One F32 tensor [1.0, -2.0]: header JSON, then little-endian floats.
  Tensor t({2});
  t[0] = 1.0f, t[1] = -2.0f;
  const test::TempDir dir;
  const std::string path = dir / "layout.safetensors";
  write_safetensors(path, {{"w", &t}}, {});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  CHECK(bytes.substr(0, 8) == le64(padded.size()));
  CHECK(bytes.substr(8, padded.size()) == padded);
  const std::string data = bytes.substr(8 + padded.size());
  CHECK(data == std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

TEST_CASE("safetensors: hostile and damaged files are refused with a reason") {
  SUBCASE("shorter than the length prefix") {
    CHECK(parse_error("abc").find(
              "is not a convkit model file (it is 3 bytes long, shorter than the 8-byte "
              "header length") != std::string::npos);
  }
  SUBCASE("no JSON header after the length: another kind of file") {
    CHECK(parse_error("x1,x2,label\n1,2,0\n") ==
          "m.safetensors is not a convkit model file (it is a text file; model files are the "
          "safetensors files "
          "`convkit train --save` writes)");
    const std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    CHECK(parse_error(png).find("(it does not start with a safetensors header;") !=
          std::string::npos);
  }
  SUBCASE("header length past the end of the file") {
    CHECK(parse_error(le64(1000) + "{}").find("goes past the end of the file") !=
          std::string::npos);
  }
  SUBCASE("header length beyond the format's limit") {
    CHECK(parse_error(le64(uint64_t{1} << 40) + "{}").find("100 MB limit") != std::string::npos);
  }
  SUBCASE("header is not JSON") {
    CHECK(parse_error(le64(5) + "{oops").find("not valid JSON") != std::string::npos);
  }
  SUBCASE("wrong dtype") {
    auto e = parse_error(make_file({{"w", entry("F16", {2}, 0, 4)}}, 4));
    CHECK(e.find("dtype F16") != std::string::npos);
    CHECK(e.find("F32") != std::string::npos);
  }
  SUBCASE("offsets outside the data buffer (a truncated file)") {
    CHECK(parse_error(make_file({{"w", entry("F32", {4}, 0, 16)}}, 8))
              .find("outside the 8-byte data buffer") != std::string::npos);
  }
  SUBCASE("shape disagrees with the offsets") {
    CHECK(parse_error(make_file({{"w", entry("F32", {3}, 0, 8)}}, 8))
              .find("data_offsets span 8 bytes") != std::string::npos);
  }
  SUBCASE("overlapping tensors") {
    nlohmann::json h = {{"a", entry("F32", {2}, 0, 8)}, {"b", entry("F32", {2}, 4, 12)}};
    CHECK(parse_error(make_file(h, 12)).find("overlaps") != std::string::npos);
  }
  SUBCASE("a gap between tensors") {
    nlohmann::json h = {{"a", entry("F32", {1}, 0, 4)}, {"b", entry("F32", {1}, 8, 12)}};
    CHECK(parse_error(make_file(h, 12)).find("a gap of 4 bytes") != std::string::npos);
  }
  SUBCASE("bytes after the last tensor") {
    CHECK(parse_error(make_file({{"a", entry("F32", {1}, 0, 4)}}, 12)).find("8 bytes follow") !=
          std::string::npos);
  }
  SUBCASE("a huge declared shape is refused before any allocation") {
    // 2^31 x 2^31 floats would be 16 EiB; the size check fires first.
    auto e = parse_error(make_file({{"w", entry("F32", {1u << 31, 1u << 31}, 0, 8)}}, 8));
    CHECK(e.find("more than 4 GiB") != std::string::npos);
  }
  SUBCASE("negative or fractional dimensions") {
    nlohmann::json h = {{"w", {{"dtype", "F32"}, {"shape", {-2}}, {"data_offsets", {0, 8}}}}};
    CHECK(parse_error(make_file(h, 8)).find("malformed shape") != std::string::npos);
  }
  SUBCASE("metadata values must be strings") {
    nlohmann::json h = {{"__metadata__", {{"format", 3}}}};
    CHECK(parse_error(make_file(h, 0)).find("is not a string") != std::string::npos);
  }
  SUBCASE("an entry without data_offsets") {
    nlohmann::json h = {{"w", {{"dtype", "F32"}, {"shape", {2}}}}};
    CHECK(parse_error(make_file(h, 8)).find("lacks dtype, shape or data_offsets") !=
          std::string::npos);
  }
}

TEST_CASE("safetensors: a missing file or a directory is named") {
  CHECK_THROWS_WITH_AS(read_safetensors("/nonexistent/m.safetensors"),
                       doctest::Contains("/nonexistent/m.safetensors not found"), Error);
  CHECK_THROWS_WITH_AS(read_safetensors(fs::temp_directory_path().string()),
                       doctest::Contains("is a directory"), Error);
}

TEST_CASE("safetensors: a failed write leaves no file and no temporary behind") {
  Tensor t({2});
  CHECK_THROWS_WITH_AS(write_safetensors("/nonexistent-dir/m.safetensors", {{"w", &t}}, {}),
                       doctest::Contains("cannot write /nonexistent-dir/m.safetensors"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors("/tmp/ck_dup.safetensors", {{"w", &t}, {"w", &t}}, {}),
                       doctest::Contains("two tensors named \"w\""), Error);
  CHECK_FALSE(fs::exists("/tmp/ck_dup.safetensors"));
}
