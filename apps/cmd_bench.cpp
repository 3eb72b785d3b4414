// convkit bench gemm: the GEMM teaching ladder. The same products through the
// naive triple loop, the hand-written SIMD kernel and OpenBLAS, as GFLOP/s and
// as a fraction of the machine's measured FMA peak.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "apps/bench_model.h"
#include "apps/commands.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/peak.h"

namespace ck {

namespace {

struct GemmCase {
  int M, N, K;
  bool trans_a, trans_b;
  const char* what;
};

// Convolutions lowered to GEMMs by im2col, e.g. 3x3 with 64 input and 128
// output channels over a 56x56 image: columns (3136, 576), weights (576, 128).
const GemmCase kCases[] = {
    {784, 64, 288, false, false, "conv forward, 28x28, 3x3x32 -> 64"},
    {256, 256, 256, false, false, "square"},
    {1024, 1024, 1024, false, false, "square"},
    {3136, 128, 576, false, false, "conv forward: columns * W"},
    {576, 128, 3136, true, false, "conv weight grad: columns^T * dY"},
    {3136, 576, 128, false, true, "conv input grad: dY * W^T"},
};

// The naive loop runs at about 1 GFLOP/s: only products up to this size.
constexpr double kNaiveMaxFlops = 1e8;

std::string rate(double gflops, double peak) {
  return fmt::format("{:7.1f} ({:3.0f}%)", gflops, 100.0 * gflops / peak);
}

void bench_gemm(int thread_count, double seconds) {
  set_threads(thread_count);
  const int n = threads();
  fmt::print("GEMM C = op(A) * op(B), float32, {} thread{}; simd kernel compiled for {}, "
             "OpenBLAS running its {} kernels\n",
             n, n == 1 ? "" : "s", gemm_simd_isa(), blas_kernels());
  std::fflush(stdout);
  const double peak = measure_fma_peak_gflops(n);
  fmt::print("FMA peak, measured: {:.1f} GFLOP/s ({:.1f} per thread)\n\n", peak, peak / n);
  fmt::print("{:<18} {:<3} {:<34} {:>14} {:>14} {:>14}\n", "M x N x K", "op", "", "naive", "simd",
             "blas");
  for (const GemmCase& c : kCases) {
    const double flops = 2.0 * c.M * c.N * c.K;
    const std::string shape = fmt::format("{} x {} x {}", c.M, c.N, c.K);
    const std::string op = fmt::format("{}{}", c.trans_a ? 'T' : 'N', c.trans_b ? 'T' : 'N');
    fmt::print("{:<18} {:<3} {:<34} ", shape, op, c.what);
    std::fflush(stdout);
    auto time = [&](GemmBackend backend) {
      return time_gemm_gflops(backend, c.M, c.N, c.K, c.trans_a, c.trans_b, n, seconds);
    };
    if (flops <= kNaiveMaxFlops)
      fmt::print("{:>14} ", rate(time(GemmBackend::naive), peak));
    else
      fmt::print("{:>14} ", "-");
    std::fflush(stdout);
    fmt::print("{:>14} ", rate(time(GemmBackend::simd), peak));
    std::fflush(stdout);
    fmt::print("{:>14}\n", rate(time(GemmBackend::blas), peak));
  }
  fmt::print(
      "\nGFLOP/s (% of FMA peak), median of repeats. op: N = as stored, T = transposed.\n"
      "naive runs only on the small products. Multi-threaded runs split C across threads\n"
      "(gemm_parallel), each thread running the single-threaded kernel.\n");
}

}  // namespace

void setup_bench(CLI::App& cmd) {
  cmd.require_subcommand(1);
  CLI::App* gemm_cmd = cmd.add_subcommand(
      "gemm", "Time the naive, simd and blas GEMM backends against the measured FMA peak");
  struct Options {
    int threads = 1;
    double seconds = 0.3;
  };
  auto o = std::make_shared<Options>();
  gemm_cmd->add_option("--threads", o->threads, "Threads per GEMM; 0 = all cores")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  gemm_cmd->add_option("--seconds", o->seconds, "Minimum time per measurement")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  gemm_cmd->callback([o] { bench_gemm(o->threads, o->seconds); });

  CLI::App* model_cmd = cmd.add_subcommand(
      "model", "Training (or inference) images/s of a model on random data, per-layer times");
  auto m = std::make_shared<BenchModelOptions>();
  model_cmd->add_option("--model", m->model, "A preset name or a layer spec")
      ->capture_default_str();
  model_cmd->add_option("--input", m->input, "Input shape HxWxC (default: the preset's)");
  model_cmd
      ->add_option("--classes", m->classes, "Classes (last dense layer's units); 0 = as specified")
      ->check(at_least(0, "NONNEGATIVE"));
  model_cmd->add_option("--batch", m->batch, "Batch size")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  add_compute_options(*model_cmd);
  model_cmd->add_option("--mode", m->mode, "train (forward + backward + adam) or infer")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "infer"}));
  model_cmd->add_option("--steps", m->steps, "Steps per timed repeat; 0 = about 0.2 s worth")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  model_cmd->add_option("--seconds", m->seconds, "Minimum timed seconds (at least 3 repeats)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  model_cmd->add_option("--warmup", m->warmup, "Untimed steps first")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  model_cmd->add_flag("--layers", m->layers, "Also print per-layer forward/backward times");
  model_cmd->add_flag("--json", m->json, "Print one JSON line (for bench/compare)");
  model_cmd->add_flag_callback("--no-peak", [m] { m->peak = false; }, "Skip measuring the FMA peak");
  model_cmd->callback([m] { bench_model(*m); });

  CLI::App* conv_cmd = cmd.add_subcommand(
      "conv", "GFLOP/s of one convolution's forward, backward-data and backward-weights passes");
  auto c = std::make_shared<BenchConvOptions>();
  conv_cmd->add_option("--input", c->input, "Input HxWxC")->capture_default_str();
  conv_cmd->add_option("--filters", c->filters, "Output channels")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  conv_cmd->add_option("--kernel", c->kernel, "Kernel size (square, stride 1, same)")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  conv_cmd->add_option("--batch", c->batch, "Batch size")
      ->capture_default_str()
      ->check(at_least(1, "POSITIVE"));
  add_compute_options(*conv_cmd);
  conv_cmd->add_option("--seconds", c->seconds, "Minimum time per pass")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  conv_cmd->add_flag("--json", c->json, "Print one JSON line");
  conv_cmd->callback([c] { bench_conv(*c); });
}

}  // namespace ck
