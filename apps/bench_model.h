#pragma once
// `convkit bench model` and `convkit bench conv` (apps/bench_model.cpp).
#include <cstdint>
#include <string>

namespace ck {

struct BenchModelOptions {
  std::string model = "fmnist-cnn";  // a preset or a layer spec
  std::string input;                 // HxWxC; empty = the preset's
  int classes = 0;                   // 0 = the model's own output size
  int batch = 64;
  std::string mode = "train";  // train | infer
  int steps = 0;               // steps per timed repeat; 0 = ~0.2 s worth
  double seconds = 2.0;        // minimum timed time (at least 3 repeats)
  int warmup = 3;              // untimed steps first
  bool layers = false;         // per-layer forward/backward breakdown
  bool json = false;           // one JSON line instead of the text report
  bool peak = true;            // measure the FMA peak (0.2 s)
  uint64_t seed = 42;
};
// Runs with the global threads and GEMM backend (--threads, --gemm).
// Prints images/s (median of repeats), MFLOP/img, GFLOP/s, % of the FMA
// peak and the peak RSS of a training (or inference) run on random data.
void bench_model(const BenchModelOptions& options);

struct BenchConvOptions {
  std::string input = "56x56x64";  // HxWxC
  int filters = 128;
  int kernel = 3;  // square, stride 1, padding same
  int batch = 32;
  double seconds = 1.0;
  bool json = false;
};
// GFLOP/s and % of peak (global threads and GEMM backend) of one convolution's forward, backward-data and
// backward-weights passes.
void bench_conv(const BenchConvOptions& options);

}  // namespace ck
