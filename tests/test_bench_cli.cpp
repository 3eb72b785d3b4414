// convkit bench model / conv / gemm: the figures they print are the ones
// asked for (FLOPs per image from the model, the threads and GEMM backend
// used, a row per layer), whatever the speed of the machine.
#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/conv_tiled.h"
#include "tests/helpers.h"

using ck::test::contains;
using ck::test::run_convkit;

namespace {

// One quick timed step: the figures are checked, not the speed.
const std::string kQuick = " --batch 4 --seconds 0 --steps 1 --warmup 0 ";

nlohmann::json bench_json(const std::string& args) {
  std::string out;
  REQUIRE(run_convkit(args + " --json", out) == 0);
  return nlohmann::json::parse(out);
}

}  // namespace

TEST_CASE("bench model: training counts three times the forward FLOPs, inference once") {
  // lenet5's forward pass is 839,344 FLOP per image (convkit summary).
  nlohmann::json train =
      bench_json("bench model --model lenet5 --no-peak --threads 1 --gemm simd" + kQuick);
  CHECK(train["mflop_img"].get<double>() == doctest::Approx(3 * 0.839344));
  CHECK(train["threads"] == 1);
  CHECK(train["gemm"] == "simd");
  CHECK(train["mode"] == "train");
  CHECK(train["img_s"].get<double>() > 0);
  CHECK(train["gflops"].get<double>() ==
        doctest::Approx(train["img_s"].get<double>() * 3 * 0.839344e-3));
  CHECK(train["fma_peak_gflops"] == 0.0);  // --no-peak
  nlohmann::json infer =
      bench_json("bench model --model lenet5 --no-peak --mode infer --threads 2" + kQuick);
  CHECK(infer["mflop_img"].get<double>() == doctest::Approx(0.839344));
  CHECK(infer["threads"] == 2);
  CHECK(infer["gemm"] == "blas");  // the default
}

TEST_CASE("bench model: names OpenBLAS's kernels, and OPENBLAS_CORETYPE when it chose them") {
  // What OpenBLAS picks depends on the CPU, so set them: OpenBLAS reads the
  // variable when it loads.
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = before ? before : "";
  setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  const nlohmann::json j = bench_json("bench model --model lenet5 --no-peak --threads 1" + kQuick);
  std::string out;
  const int code = run_convkit("bench model --model lenet5 --no-peak --threads 1" + kQuick, out);
  unsetenv("OPENBLAS_CORETYPE");
  const nlohmann::json picked =
      bench_json("bench model --model lenet5 --no-peak --threads 1" + kQuick);
  if (before) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  CHECK(j["blas_kernels"] == "Haswell");
  CHECK(code == 0);
  CHECK(contains(out, "GEMM blas (OpenBLAS, Haswell kernels from OPENBLAS_CORETYPE), random data"));
  CHECK(!picked["blas_kernels"].get<std::string>().empty());
}

TEST_CASE("bench model: the text report names the figure and every layer") {
  std::string out;
  REQUIRE(run_convkit("bench model --model lenet5 --no-peak --threads 1 --layers" + kQuick, out) ==
          0);
  CHECK(contains(out,
                 "lenet5 (28x28x1), training (forward + backward + adam) batch 4, 1 thread, "
                 "GEMM blas (OpenBLAS, "));
  CHECK(contains(out, " kernels"));
  CHECK(contains(out, " img/s  (median of "));
  CHECK(contains(out, "2.52 MFLOP/img"));
  for (const char* row :
       {"conv2d (conv2d(6,5,same,relu))", "max_pooling2d (maxpool(2))",
        "conv2d_1 (conv2d(16,5,relu))", "dense_2 (dense(10,softmax))", "loss, optimizer, other"})
    CHECK_MESSAGE(contains(out, row), row);
  CHECK(contains(out, " steps, "));
  CHECK(contains(out, " ms in all; a whole step's median: "));
}

TEST_CASE("bench conv: three passes of the same FLOPs, and the peak they are held against") {
  nlohmann::json j =
      bench_json("bench conv --input 8x8x4 --filters 8 --batch 2 --seconds 0 --threads 1");
  CHECK(j["input"] == "8x8x4");
  CHECK(j["threads"] == 1);
  for (const char* pass : {"forward", "backward_weights", "fma_peak_gflops"})
    CHECK_MESSAGE(j[pass].get<double>() > 0, pass);
  // Timed as a difference of two runs: a positive rate, or null when the
  // machine's noise hides it (never negative or infinite).
  CHECK((j["backward_data"].is_null() || j["backward_data"].get<double>() > 0));
  CHECK(j["algorithm"] == "standard");  // 4 channels: no Winograd, nothing to hold it against
  CHECK(j["without_winograd"].is_null());
  std::string out;
  CHECK(run_convkit("bench conv --input 8x8", out) != 0);
  CHECK(contains(out, "--input must be HxWxC"));
}

TEST_CASE("bench conv and bench model: Winograd's layers, and the same passes without it") {
  if (ck::conv_tiled_sliver() == 0) return;  // a build without FMA vectors: no Winograd
  const std::string conv =
      "bench conv --input 8x8x32 --filters 64 --batch 2 --seconds 0 --threads 1";
  const nlohmann::json j = bench_json(conv);
  CHECK(j["algorithm"] == "winograd");
  for (const char* pass : {"forward", "backward_weights"}) {
    CHECK_MESSAGE(j[pass].get<double>() > 0, pass);
    CHECK_MESSAGE(j["without_winograd"][pass].get<double>() > 0, pass);
  }
  std::string out;
  REQUIRE(run_convkit(conv, out) == 0);
  CHECK(contains(out, "Winograd                   without Winograd"));
  CHECK(contains(out, "effective rates and can pass 100% of the peak"));
  // fmnist-cnn's second layer (32 -> 64, 5x5) runs them; its first (1 channel) cannot.
  const nlohmann::json model =
      bench_json("bench model --model fmnist-cnn --no-peak --threads 1" + kQuick);
  CHECK(model["winograd_layers"] == nlohmann::json::array({"conv2d_1"}));
  REQUIRE(run_convkit("bench model --model fmnist-cnn --no-peak --threads 1" + kQuick, out) == 0);
  CHECK(
      contains(out, "(conv2d_1: Winograd's transforms, which compute a quarter (3x3) to a sixth"));
}

TEST_CASE("bench gemm: each backend on each shape, as a share of the measured peak") {
  std::string out;
  REQUIRE(run_convkit("bench gemm --seconds 0", out) == 0);
  CHECK(contains(out, "FMA peak, measured: "));
  CHECK(contains(out, "naive           simd           blas"));
  for (const char* shape : {"784 x 64 x 288", "576 x 128 x 3136", "3136 x 576 x 128"})
    CHECK_MESSAGE(contains(out, shape), shape);
}
