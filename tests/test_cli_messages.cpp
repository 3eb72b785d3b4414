// What a new user hits first: one exit code for every user error (CLI11's
// parse errors included), export onto a file, regression data described as
// such, and a model trained on an export naming its classes as the source.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/folder.h"
#include "data/image.h"
#include "tests/cli_helpers.h"
#include "tests/data_helpers.h"

namespace ck {

namespace fs = std::filesystem;
using test::convkit;
using test::has;
using test::Run;

TEST_CASE("CLI: CLI11's parse errors exit 1 as convkit's own do, with convkit's prefix") {
  struct Case {
    std::string args, err;
  };
  const std::vector<Case> cases = {
      {"train --epochs abc",
       "convkit: --epochs: must be a whole number >= 1, got abc; see convkit train --help\n"},
      {"train --threads -1",
       "convkit: --threads: must be a whole number >= 0, got -1; see convkit train --help\n"},
      {"train --gemm foo",
       "convkit: --gemm: foo not in {naive,simd,blas}; see convkit train --help\n"},
      {"data export --to x --format gif",
       "convkit: --format: gif not in {png,jpg,jpeg}; see convkit data export --help\n"},
      {"train extra",
       "convkit: The following argument was not expected: extra; see convkit train --help\n"},
      {"train --epochs", "convkit: --epochs needs a value (INT:POSITIVE); see convkit train --help\n"},
      {"predict", "convkit: --model is required; see convkit predict --help\n"},
      {"data export", "convkit: --to is required; see convkit data export --help\n"},
      {"data", "convkit: data needs a command: export, preview, stats, bench; see convkit data --help\n"},
      {"bench", "convkit: bench needs a command: gemm, model, conv; see convkit bench --help\n"},
      {"--frobnicate",
       "convkit: unknown option --frobnicate; give a command: train, evaluate, predict, summary, "
       "data, repro, diagnose, lr-find, overfit-batch, gradcheck, explain, plot, report, bench; "
       "see convkit --help\n"},
      {"train --frobnicate",
       "convkit train: unknown option --frobnicate\nsee convkit train --help\n"},
      {"trian", "convkit: unknown command \"trian\"; commands: train, evaluate, predict, summary, "
                "data, repro, diagnose, lr-find, overfit-batch, gradcheck, explain, plot, report, "
                "bench (see convkit --help)\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const Run r = convkit(c.args);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == c.err);
    CHECK_FALSE(has(r.err, "Run with --help"));
  }
}

TEST_CASE("CLI: --help of every command and --version exit 0 on stdout") {
  for (const char* args : {"--help", "--version", "train --help", "evaluate --help",
                           "predict --help", "summary --help", "data --help",
                           "data export --help", "data stats --help", "bench model --help",
                           "repro --help", "diagnose --help", "report --help"}) {
    CAPTURE(args);
    const Run r = convkit(args);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK_FALSE(r.out.empty());
  }
}

TEST_CASE("CLI: data export onto an existing file says it is a file, not a folder") {
  const test::TempDir dir;
  test::write_text(dir / "shoes.png", "mine");
  for (const char* split : {"train", "both"}) {
    CAPTURE(split);
    const Run r =
        convkit("data export --to " + (dir / "shoes.png") + " --limit 20 --split " + split);
    CHECK(r.code == 1);
    CHECK(r.err == "convkit: --to " + (dir / "shoes.png") +
                       ": it is a file, not a folder; the export writes a folder of class folders: "
                       "name a new folder (e.g. --to " +
                       (dir / "shoes") + "-images), or remove the file first\n");
    CHECK_FALSE(has(r.out, "Wrote"));
    CHECK(fs::file_size(dir / "shoes.png") == 4);  // left alone
  }
}

TEST_CASE("CLI: regression data is described by its target, never as 0 classes") {
  const test::TempDir dir;
  std::ofstream(dir / "r.csv") << "x,price\n1,2.5\n2,4\n3,6\n4,8\n5,10.5\n";
  const std::string data = "--data " + (dir / "r.csv") + " --label-column price --regression";
  const Run train = convkit("train " + data +
                            " --model 'dense(4,relu) dense(1)' --epochs 1 --validation-split 0.2 "
                            "--save " + (dir / "r.safetensors"));
  CAPTURE(train.err);
  REQUIRE(train.code == 0);
  CHECK(has(train.out, "r.csv: 4 training samples 1 features (regression target \"price\", 2.5 to "
                       "8), 1 validation\n"));
  CHECK_FALSE(has(train.out, "classes"));
  const Run stats = convkit("data stats " + data);
  REQUIRE(stats.code == 0);
  CHECK(has(stats.out, "  target:         regression target \"price\", 2.5 to 10.5 (training split)\n"));
  CHECK_FALSE(has(stats.out, "0 classes"));
  const Run summary = convkit("summary " + (dir / "r.safetensors"));
  REQUIRE(summary.code == 0);
  CHECK(has(summary.out, "Target: regression on column \"price\", 1 output\n"));
  CHECK_FALSE(has(summary.out, "Classes (0)"));
  CHECK_FALSE(has(summary.out, "accuracy"));
  CHECK(has(summary.out, "  epoch   1: loss "));
}

}  // namespace ck
