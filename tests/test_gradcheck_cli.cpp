// convkit gradcheck: every layer of a model checked from the command line.
#include <doctest/doctest.h>

#include "helpers.h"

using ck::test::run_convkit;

TEST_CASE("gradcheck: every layer of a spec passes, one row per tensor") {
  std::string out;
  REQUIRE(run_convkit("gradcheck \"conv2d(3,3,same,tanh) maxpool(2) flatten dense(4,softmax)\" "
                      "--input 6x6x2 --batch 2",
                      out) == 0);
  CHECK(out.find("conv2d (conv2d(3,3,same,tanh))") != std::string::npos);
  CHECK(out.find("conv2d/kernel") != std::string::npos);
  CHECK(out.find("dense/bias") != std::string::npos);
  CHECK(out.find("FAIL") == std::string::npos);
  CHECK(out.find("All 4 layers pass") != std::string::npos);
}

TEST_CASE("gradcheck: a model without a known input size asks for --input") {
  std::string out;
  CHECK(run_convkit("gradcheck \"conv2d(3,3) globalavgpool dense(2)\"", out) == 1);
  CHECK(out.find("give --input HxWxC") != std::string::npos);
}
