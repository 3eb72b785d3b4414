// core/: Tensor views and storage, shapes, the Rng, thread control and the
// parallel helpers, number formatting.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <mutex>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/format.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "tests/helpers.h"

using namespace ck;

TEST_CASE("Tensor: zero-filled, 64-byte aligned, views share storage, clone does not") {
  Tensor t({3, 2, 2});
  CHECK(t.size() == 12);
  CHECK(t.row_size() == 4);
  CHECK(t.rank() == 3);
  CHECK(t.dim(-1) == 2);
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  for (int64_t i = 0; i < 12; ++i) CHECK(t[i] == 0.0f);
  for (int64_t i = 0; i < 12; ++i) t[i] = static_cast<float>(i);
  Tensor s = t.slice(1, 2);
  CHECK(s.shape() == Shape{2, 2, 2});
  CHECK(s[0] == 4.0f);
  s[0] = 100;
  CHECK(t[4] == 100.0f);
  Tensor r = t.reshaped({4, 3});
  CHECK(r.shape() == Shape{4, 3});
  r[11] = -1;
  CHECK(t[11] == -1.0f);
  Tensor c = t.clone();
  c[0] = 55;
  CHECK(t[0] == 0.0f);
  CHECK_THROWS_WITH_AS(t.reshaped({5, 3}), doctest::Contains("cannot reshape (3, 2, 2) (12 values) to (5, 3)"),
                       ck::Error);
  CHECK_THROWS_AS(Tensor(Shape{-1, 3}), ck::Error);
  CHECK_THROWS_AS(t.copy_from(Tensor({5})), ck::Error);
  Tensor empty;
  CHECK(empty.empty());
  CHECK(empty.rank() == 0);
}

TEST_CASE("Tensor::resize reuses storage when it fits, grows when it does not") {
  Tensor t({10});
  float* p = t.data();
  t.resize({2, 3});
  CHECK(t.data() == p);
  CHECK(t.size() == 6);
  CHECK(t.capacity() == 10);
  t.resize({4, 4});
  CHECK(t.size() == 16);
  CHECK(t.capacity() >= 16);
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
}

TEST_CASE("shapes: size, known, printing like Keras, parsing from the command line") {
  CHECK(shape_size({28, 28, 1}) == 784);
  CHECK(shape_known({28, 28, 1}));
  CHECK(!shape_known({-1, -1, 3}));
  CHECK(shape_str({-1, -1, 3}) == "(None, None, 3)");
  CHECK(shape_str({10}) == "(10,)");
  CHECK(shape_compact({28, 28, 1}) == "28x28x1");
  CHECK(parse_shape("28x28x1", "input") == Shape{28, 28, 1});
  CHECK(parse_shape("784", "input") == Shape{784});
  for (const char* bad : {"", "28x", "x28", "28xx1", "0x3", "-1x3", "2.5x3", "28*28", "99999999999"})
    CHECK_THROWS_WITH_AS(parse_shape(bad, "--input"), doctest::Contains("is not a shape"), ck::Error);
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(3274634) == "3,274,634");
  CHECK(with_commas(-1234567) == "-1,234,567");
}

TEST_CASE("Rng: reproducible, derive() gives independent streams, distributions are right") {
  Rng a(123), b(123), c(124);
  for (int i = 0; i < 10; ++i) {
    const uint64_t x = a.next();
    CHECK(x == b.next());
    CHECK(x != c.next());
  }
  CHECK(Rng::derive(1, 2, 3).next() == Rng::derive(1, 2, 3).next());
  CHECK(Rng::derive(1, 2, 3).next() != Rng::derive(1, 3, 2).next());
  CHECK(Rng::derive(1, 2, 0).next() != Rng::derive(1, 2, 1).next());
  // State round trip (checkpoints).
  Rng s(9);
  s.next();
  Rng t(0);
  t.set_state(s.state());
  CHECK(t.next() == s.next());

  Rng r(7);
  const int n = 200000;
  double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
  float lo = 1, hi = 0;
  std::vector<int> counts(7, 0);
  for (int i = 0; i < n; ++i) {
    const float u = r.uniform();
    lo = std::min(lo, u), hi = std::max(hi, u);
    sum += u, sum2 += double{u} * u;
    const uint64_t k = r.below(7);
    REQUIRE(k < 7);
    ++counts[k];
    const float z = r.normal();
    nsum += z, nsum2 += double{z} * z;
  }
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(sum2 / n - (sum / n) * (sum / n) == doctest::Approx(1.0 / 12).epsilon(0.02).scale(0));
  for (int k = 0; k < 7; ++k) CHECK(std::abs(counts[k] - n / 7) < 5 * std::sqrt(n / 7.0));
  CHECK(std::fabs(nsum / n) < 0.01);
  CHECK(nsum2 / n == doctest::Approx(1.0).epsilon(0.02).scale(0));
  const float v = r.uniform(-3.0f, -2.0f);
  CHECK(v >= -3.0f);
  CHECK(v < -2.0f);

  std::vector<int> items(50);
  std::iota(items.begin(), items.end(), 0);
  std::vector<int> shuffled = items;
  Rng(5).shuffle(std::span<int>(shuffled));
  CHECK(shuffled != items);
  std::vector<int> again = items;
  Rng(5).shuffle(std::span<int>(again));
  CHECK(again == shuffled);
  std::sort(shuffled.begin(), shuffled.end());
  CHECK(shuffled == items);
}

TEST_CASE("threads: set_threads/threads, parallel_parts covers fixed contiguous ranges") {
  ck::test::ThreadScope scope(3);
  CHECK(threads() == 3);
  CHECK_THROWS_WITH_AS(set_threads(-1), doctest::Contains("--threads must be 0"), ck::Error);
  CHECK(threads() == 3);
  for (int64_t n : {1, 2, 5, 100, 1001})
    for (int parts : {1, 2, 3, 7}) {
      CAPTURE(n);
      CAPTURE(parts);
      std::vector<std::atomic<int>> hits(n);
      std::mutex m;
      std::vector<std::pair<int64_t, int64_t>> ranges(parts, {-1, -1});
      parallel_parts(n, parts, [&](int p, int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
        std::lock_guard<std::mutex> lock(m);
        ranges[p] = {b, e};
      });
      for (int64_t i = 0; i < n; ++i) REQUIRE(hits[i] == 1);
      for (int p = 0; p < parts; ++p)
        if (ranges[p].first >= 0) {
          CHECK(ranges[p].first == n * p / parts);
          CHECK(ranges[p].second == n * (p + 1) / parts);
        }
    }
  for (int64_t grain : {1, 16, 1000}) {
    std::vector<std::atomic<int>> hits(777);
    parallel_for(777, grain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) REQUIRE(h == 1);
  }
  set_threads(0);
  CHECK(threads() == hardware_threads());
}

// doctest_discover_tests hands each case name to CMake, where ';' splits a
// list: a case named "a; b" becomes two CTest entries that each match no case
// and pass without running anything. Guard every test source against it.
TEST_CASE("test case names contain no semicolon (CTest would run nothing for them)") {
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(CONVKIT_SOURCE_DIR "/tests")) {
    if (entry.path().extension() != ".cpp") continue;
    ++files;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    // The name is the first string after the macro, on its line or the next
    // (spelled in two pieces so this file's own code is not taken for a case).
    const std::string macro = std::string("TEST_") + "CASE(";
    for (size_t at = text.find(macro); at != std::string::npos; at = text.find(macro, at + 1)) {
      const size_t open = text.find_first_not_of(" \n", at + macro.size());
      if (open == std::string::npos || text[open] != '"') continue;
      const std::string name = text.substr(open + 1, text.find('"', open + 1) - open - 1);
      const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
      INFO(entry.path().filename().string(), ":", line, ": ", name);
      CHECK(name.find(';') == std::string::npos);
    }
  }
  CHECK(files >= 10);
}
