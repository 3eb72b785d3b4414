// The one place where convkit's subcommands are registered.
#include "apps/commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/gemm.h"
#include "core/parallel.h"

namespace ck {

void setup_train(CLI::App& cmd);
void setup_summary(CLI::App& cmd);
void setup_data(CLI::App& cmd);
void setup_bench(CLI::App& cmd);
void setup_evaluate(CLI::App& cmd);
void setup_predict(CLI::App& cmd);
void setup_gradcheck(CLI::App& cmd);
void setup_repro(CLI::App& cmd);
void setup_diagnose(CLI::App& cmd);
void setup_lr_find(CLI::App& cmd);
void setup_overfit_batch(CLI::App& cmd);
void setup_explain(CLI::App& cmd);
void setup_plot(CLI::App& cmd);
void setup_report(CLI::App& cmd);

std::span<const Command> commands() {
  static const Command table[] = {
      {"train", "Train a model (default: fmnist-cnn on Fashion-MNIST)", setup_train},
      {"evaluate", "Loss, accuracy and confusion matrix of a saved model on a dataset",
       setup_evaluate},
      {"predict", "Classify image files, folders or CSV rows with a saved model", setup_predict},
      {"summary", "Print a model's layers, shapes, parameters and FLOPs", setup_summary},
      {"data", "Export, preview, inspect and benchmark data (export, preview, stats, bench)",
       setup_data},
      {"repro", "Replay the tutorial experiments: as written, then on real data, with verdicts",
       setup_repro},
      {"diagnose", "Say why a recorded run failed to learn (or that it is healthy), with evidence",
       setup_diagnose},
      {"lr-find", "The learning-rate range test: sweep the rate, suggest one", setup_lr_find},
      {"overfit-batch", "Can the model drive one small batch to ~0 loss? (Karpathy's first test)",
       setup_overfit_batch},
      {"gradcheck", "Check every layer's gradients against finite differences", setup_gradcheck},
      {"explain", "What a layer computes, its shapes and where its code lives", setup_explain},
      {"plot", "Draw a recorded run's curves (SVG and PNG)", setup_plot},
      {"report", "Write a recorded run's report: one self-contained HTML page", setup_report},
      {"bench", "Measure speed: GEMM backends, a model, a convolution, against the FMA peak",
       setup_bench},
  };
  return table;
}

CLI::Validator at_least(long long min, const std::string& name) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE || value < min)
          return fmt::format("must be a whole number >= {}, got {}", min, text);
        // The options are ints: say so rather than CLI11's "Could not convert".
        if (value > std::numeric_limits<int>::max())
          return fmt::format("must be a whole number from {} to {}, got {}", min,
                             std::numeric_limits<int>::max(), text);
        return "";
      },
      name);
}

CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const bool digits_first = !text.empty() && text[0] >= '0' && text[0] <= '9';
        if (digits_first) std::strtoull(text.c_str(), &end, 10);
        // strtoull alone would take "-1" as 2^64 - 1: the text must start with a digit.
        if (!digits_first || *end != '\0' || errno == ERANGE)
          return fmt::format("must be a whole number from 0 to {}, got {}",
                             std::numeric_limits<uint64_t>::max(), text);
        return "";
      },
      "SEED");
}

CLI::Validator number_above(double min, bool or_equal, const std::string& name) {
  return CLI::Validator(
      [min, or_equal](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(text.c_str(), &end);
        const bool in_range = or_equal ? value >= min : value > min;
        if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value) || !in_range)
          return fmt::format("must be a number {} {:g}, got {}", or_equal ? ">=" : ">", min, text);
        return "";
      },
      name);
}

void add_compute_options(CLI::App& cmd, bool gemm) {
  struct Options {
    int threads = 0;
    std::string gemm = "blas";
  };
  auto options = std::make_shared<Options>();
  cmd.add_option("--threads", options->threads, "Worker threads; 0 = all cores")
      ->capture_default_str()
      ->check(at_least(0, "NONNEGATIVE"));
  if (gemm)
    cmd.add_option("--gemm", options->gemm, "Matrix-multiply backend: naive, simd or blas")
        ->capture_default_str()
        ->check(CLI::IsMember({"naive", "simd", "blas"}));
  // Runs before the command's own callback.
  cmd.parse_complete_callback([options] {
    set_threads(options->threads);
    set_gemm_backend(parse_gemm_backend(options->gemm));
  });
}

std::string one_model_file(const std::string& first, const std::string& flag,
                           const std::string& command, const std::string& fallback) {
  if (!first.empty() && !flag.empty() && first != flag)
    fail("two models given, {} (first) and {} (--model); give one, first or after --model",
         first, flag);
  if (!first.empty()) return first;
  if (!flag.empty()) return flag;
  if (fallback.empty())
    fail("no model given; name it first (convkit {} shoes.safetensors) or after --model", command);
  return fallback;
}

}  // namespace ck
