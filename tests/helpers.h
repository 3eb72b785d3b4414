#pragma once
// Shared test helpers.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace ck::test {

// A file's whole text, or "" when it cannot be read (yet).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The message of the ck::Error `fn` throws (fails the test when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a ck::Error");
  return "";
}

// A tensor of `shape` with values uniform in [lo, hi).
inline Tensor random_tensor(const Shape& shape, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// A fresh directory under $TMPDIR or /tmp (unique to this process and call), removed with
// everything in it at scope exit, also when a check fails: tests leave nothing
// behind and parallel CTest processes never share one.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string name = (std::filesystem::temp_directory_path() / "convkit-test-XXXXXX").string();
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// max |a - b| / max(1, max |b|): the error relative to the data's scale
// (infinite where a holds NaN: an output left unwritten).
inline double scaled_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.size() == b.size());
  double m = 0, scale = 1;
  for (int64_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::fabs(double{b[i]}));
  for (int64_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(double{a[i]} - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m / scale;
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

// The tensors of two safetensors files are the same bytes (metadata, e.g.
// timings, may differ).
inline bool same_tensors(const std::string& a, const std::string& b) {
  SafeTensors fa = read_safetensors(a), fb = read_safetensors(b);
  if (fa.tensors.size() != fb.tensors.size()) return false;
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const Tensor& x = fa.tensors[i].second;
    const Tensor* y = fb.find(fa.tensors[i].first);
    if (!y || y->shape() != x.shape() ||
        std::memcmp(x.data(), y->data(), x.size() * sizeof(float)) != 0)
      return false;
  }
  return true;
}

// Starts the convkit binary with `args` in the background, its stdout and
// stderr into these files (discarded by default); returns its pid for
// kill() and waitpid().
inline pid_t spawn_convkit(const std::vector<std::string>& args,
                           const std::string& stdout_path = "/dev/null",
                           const std::string& stderr_path = "/dev/null") {
  // Else the child inherits this process's unwritten output and writes it again.
  std::fflush(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(CONVKIT_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(stdout_path.c_str(), "w", stdout) || !freopen(stderr_path.c_str(), "w", stderr))
      _exit(127);
    execv(CONVKIT_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace ck::test

// ---------------------------------------------------------------------------
// Gradient checks and global state (added with the foundation tests).
#include <fmt/format.h>

#include "core/conv.h"
#include "core/parallel.h"
#include "layers/gradcheck.h"

namespace ck::test {

// Relative error a float32 layer's gradient must meet against the
// finite-difference estimate (layers/gradcheck.h: correct gradients measure
// 1e-4..5e-3, wrong ones O(1)).
inline constexpr double kGradTolerance = kGradCheckTolerance;

// Asserts that every tensor of `check` passed: entries compared, few skipped
// (kinks, or gradients too small to resolve above float noise; gradcheck.h)
// (at most `max_skipped_fraction` of a tensor's sampled entries, one more for
// tiny tensors, and 15% over the whole layer), and the max
// relative error within `tolerance`. On failure the whole table is printed.
inline void require_gradients_ok(const LayerCheck& check, double tolerance = kGradTolerance,
                                 double max_skipped_fraction = 0.25) {
  INFO(format_gradcheck({check}, tolerance));
  REQUIRE(!check.tensors.empty());
  for (const TensorCheck& t : check.tensors) {
    INFO("tensor ", t.name);
    const int64_t sampled = t.checked + t.skipped;
    CHECK(sampled > 0);
    CHECK(t.checked >= 1);
    CHECK(static_cast<double>(t.skipped) <= max_skipped_fraction * sampled + 1);
    CHECK(t.max_rel_error <= tolerance);
  }
  CHECK(static_cast<double>(check.skipped()) <=
        std::max(2.0, 0.15 * static_cast<double>(check.checked() + check.skipped())));
}

inline constexpr Activation kActivations[] = {Activation::linear, Activation::relu, Activation::sigmoid,
                                   Activation::tanh, Activation::softmax};

// Builds `layer` for `sample`, gives its bias (if any) random values so the
// bias is not trivially zero, and checks it on a random input.
inline LayerCheck check_fresh(Layer& layer, const Shape& sample, int64_t batch,
                       GradCheckOptions o = {}) {
  layer.input_shape = sample;
  layer.output_shape = layer.infer(sample);
  layer.build(sample);
  Rng rng(o.seed + 11);
  layer.init(rng);
  std::vector<Param*> ps = layer.params();
  if (ps.size() > 1)
    for (int64_t i = 0; i < ps[1]->value.size(); ++i) ps[1]->value[i] = rng.uniform(-0.5f, 0.5f);
  Shape shape = {batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor x = ck::test::random_tensor(shape, rng);
  return gradcheck_layer(layer, x, o);
}

// Sets the global thread count for a scope and restores it afterwards.
struct ThreadScope {
  int saved;
  explicit ThreadScope(int n) : saved(threads()) { set_threads(n); }
  ~ThreadScope() { set_threads(saved); }
};

// Winograd's convolution (core/conv.h) on or off for a scope.
struct WinogradScope {
  bool saved;
  explicit WinogradScope(bool on) : saved(conv_winograd_enabled()) { set_conv_winograd(on); }
  ~WinogradScope() { set_conv_winograd(saved); }
};

}  // namespace ck::test
