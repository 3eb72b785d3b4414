#pragma once
// Helpers for the data tests: small files and images.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image.h"
#include "tests/helpers.h"

namespace ck::test {

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// An h x w x c image whose pixel values are (y * w + x) * c + k + offset (mod 256).
inline Image ramp_image(int h, int w, int c, int offset = 0) {
  Image img;
  img.height = h, img.width = w, img.channels = c;
  for (int i = 0; i < h * w * c; ++i) img.pixels.push_back(static_cast<uint8_t>((i + offset) % 256));
  return img;
}

}  // namespace ck::test
