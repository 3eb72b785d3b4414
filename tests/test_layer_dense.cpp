// Dense's finite-difference gradient checks (layers/gradcheck.h).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "layers/dense.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::check_fresh;
using ck::test::kActivations;
using ck::test::require_gradients_ok;

// --- Dense ------------------------------------------------------------------

TEST_CASE("Dense gradients for every activation, with and without bias") {
  for (Activation act : kActivations)
    for (bool bias : {true, false}) {
      Dense dense(7, act, bias);
      CAPTURE(dense.spec());
      LayerCheck c = check_fresh(dense, {9}, 3);
      CHECK(c.tensors.size() == (bias ? 3u : 2u));
      require_gradients_ok(c);
    }
}

// Large enough for gemm_parallel to split the forward by rows, dkernel by
// rows of a transposed A, and dx by columns of a transposed B.
TEST_CASE("Dense gradients through split GEMMs (threads 1, 2, 3)") {
  for (int n : {1, 2, 3}) {
    ck::test::ThreadScope threads(n);
    CAPTURE(n);
    Dense dense(40, Activation::relu);
    GradCheckOptions o;
    o.max_entries = 48;
    require_gradients_ok(check_fresh(dense, {128}, 64, o));
  }
}
