#pragma once
// Shared test helpers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"

namespace ck::test {

// A tensor of `shape` with values uniform in [lo, hi).
inline Tensor random_tensor(const Shape& shape, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Runs the convkit binary with `args` (a shell fragment); returns its exit
// code and fills `output` with stdout and stderr together.
inline int run_convkit(const std::string& args, std::string& output) {
  std::string command = std::string(CONVKIT_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  output.clear();
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ck::test
