#pragma once
// Running the convkit binary from a test, with stdout and stderr apart.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/helpers.h"

namespace ck::test {

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs `convkit <args>` (a shell fragment), stdin empty.
inline Run convkit(const std::string& args) {
  const TempDir temp;
  const std::string err_file = temp / "stderr";
  const std::string command =
      std::string(CONVKIT_BINARY) + " " + args + " 2>" + err_file + " </dev/null";
  Run r;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  std::stringstream s;
  s << f.rdbuf();
  r.err = s.str();
  return r;
}

// A tiny MNIST-style directory: 40 28x28 images, labels 0..9, and a t10k pair.
struct TinyData {
  TempDir temp;
  std::filesystem::path dir = temp.path;
  TinyData() {
    for (const char* prefix : {"train", "t10k"}) {
      const uint32_t n = 40;
      std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 28, 0, 0, 0, 28};
      std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, n};
      for (uint32_t i = 0; i < n; ++i) {
        labels.push_back(static_cast<uint8_t>(i % 10));
        for (int p = 0; p < 28 * 28; ++p) images.push_back(static_cast<uint8_t>((i * 7 + p) % 256));
      }
      write(dir / (std::string(prefix) + "-images-idx3-ubyte"), images);
      write(dir / (std::string(prefix) + "-labels-idx1-ubyte"), labels);
    }
  }
  static void write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
  std::string data() const { return "--data " + dir.string(); }
};

}  // namespace ck::test
