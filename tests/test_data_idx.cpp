// The IDX reader on small files written here (raw and gzip, every way a file
// can be broken), IDX image/label pairs and directories, the Loader's
// per-epoch shuffling and batching, and Keras's validation_split.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "core/error.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/sources.h"
#include "tests/helpers.h"

using namespace ck;
using ck::test::error_of;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> idx_bytes(uint8_t type, std::vector<uint32_t> dims,
                               const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<uint8_t>(d >> shift));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i);
  return v;
}

// An MNIST-style pair: `n` images of h x w with pixel (i, p) = i * 10 + p,
// labels i % classes.
void write_pair(const test::TempDir& dir, const std::string& prefix, uint32_t n, uint32_t h, uint32_t w,
                int classes, bool gzip, int label_count = -1) {
  std::vector<uint8_t> pixels, labels;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) pixels.push_back(static_cast<uint8_t>(i * 10 + p));
  const uint32_t nl = label_count < 0 ? n : static_cast<uint32_t>(label_count);
  for (uint32_t i = 0; i < nl; ++i) labels.push_back(static_cast<uint8_t>(i % classes));
  auto write = gzip ? write_gzip : write_raw;
  const std::string ext = gzip ? ".gz" : "";
  write(dir / (prefix + "-images-idx3-ubyte" + ext), idx_bytes(0x08, {n, h, w}, pixels));
  write(dir / (prefix + "-labels-idx1-ubyte" + ext), idx_bytes(0x08, {nl}, labels));
}

}  // namespace

// --- read_idx ----------------------------------------------------------------------

TEST_CASE("read_idx reads raw and gzip files alike") {
  test::TempDir dir;
  const auto bytes = idx_bytes(0x08, {2, 3, 4}, iota_bytes(24, 100));
  write_raw(dir / "a.idx", bytes);
  write_gzip(dir / "a.idx.gz", bytes);
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const std::string file = name;
    CAPTURE(file);
    IdxArray a = read_idx(dir / name);
    CHECK(a.dims == std::vector<int64_t>{2, 3, 4});
    REQUIRE(a.data.size() == 24);
    CHECK(a.data[0] == 100);
    CHECK(a.data[23] == 123);
  }
  // A one-dimensional file, as labels are.
  write_raw(dir / "l.idx", idx_bytes(0x08, {5}, {9, 8, 7, 6, 5}));
  IdxArray l = read_idx(dir / "l.idx");
  CHECK(l.dims == std::vector<int64_t>{5});
  CHECK(l.data == std::vector<uint8_t>{9, 8, 7, 6, 5});
}

TEST_CASE("read_idx errors name the file and say what is wrong") {
  test::TempDir dir;
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"truncated", idx_bytes(0x08, {3, 2, 2}, iota_bytes(7)),
       "is truncated: its header declares 12 bytes of data, it holds 7"},
      {"truncated-header", {0, 0, 8, 3, 0, 0, 0, 3, 0, 0}, "is truncated inside its IDX header"},
      {"empty", {}, "is not an IDX file"},
      {"zip", {'P', 'K', 3, 4, 0, 0, 0, 0}, "is not an IDX file (it starts with 50 4b 03 04"},
      {"text", {'h', 'e', 'l', 'l', 'o', '\n'}, "is not an IDX file"},
      {"rank-zero", {0, 0, 8, 0}, "is not an IDX file"},
      {"float", idx_bytes(0x0D, {2}, iota_bytes(8)),
       "holds IDX elements of type 0x0d; convkit reads unsigned-byte (0x08)"},
      {"int", idx_bytes(0x0C, {1}, iota_bytes(4)), "type 0x0c"},
      {"trailing", idx_bytes(0x08, {2, 2}, iota_bytes(5)), "has data past what its IDX header declares"},
      {"huge", idx_bytes(0x08, {70000, 70000, 1}, iota_bytes(16)), "declares more than 4 GiB"},
      {"huge-4d", idx_bytes(0x08, {65536, 65536, 2, 1}, {}), "declares more than 4 GiB"},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    for (bool gz : {false, true}) {
      CAPTURE(gz);
      const std::string path = dir / (name + (gz ? ".gz" : ""));
      (gz ? write_gzip : write_raw)(path, c.bytes);
      const std::string msg = error_of([&] { read_idx(path); });
      CAPTURE(msg);
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find(c.message) != std::string::npos);
    }
  }
  // A gzip stream cut short (its end and part of the data missing).
  {
    write_gzip(dir / "cut.gz", idx_bytes(0x08, {64, 64}, std::vector<uint8_t>(4096, 7)));
    const auto size = fs::file_size(dir / "cut.gz");
    fs::resize_file(dir / "cut.gz", size - 12);
    const std::string msg = error_of([&] { read_idx(dir / "cut.gz"); });
    CAPTURE(msg);
    CHECK(msg.find(dir / "cut.gz") != std::string::npos);
    CHECK((msg.find("is corrupt") != std::string::npos || msg.find("is truncated") != std::string::npos));
  }
  CHECK(error_of([&] { read_idx(dir / "nope"); }).find((dir / "nope") + " not found") !=
        std::string::npos);
  CHECK(error_of([&] { read_idx(dir.path.string()); }).find("is a directory, not an IDX file") !=
        std::string::npos);
  CHECK(error_of([] { read_idx("/usr/share/datasets/fashion-mnist/nope"); })
            .find("apt-get install dataset-fashion-mnist") != std::string::npos);
}

// A header may declare up to 4 GiB. The reader must grow its buffer as data
// arrives instead of trusting the header, or a 10-byte file declaring 3.9 GB
// makes it allocate 3.9 GB. Checked in a child process (the convkit binary)
// whose address space is capped at 1.5 GB: a reader that allocates up front
// dies with "out of memory" instead of reporting the truncation.
TEST_CASE("a lying IDX header (3.9 GB declared, 16 bytes present) does not allocate it") {
  test::TempDir dir;
  write_raw(dir / "train-images-idx3-ubyte", idx_bytes(0x08, {60000, 65000, 1}, iota_bytes(16)));
  write_raw(dir / "train-labels-idx1-ubyte", idx_bytes(0x08, {60000}, iota_bytes(16)));
  const std::string msg = error_of([&] { read_idx(dir / "train-images-idx3-ubyte"); });
  CHECK(msg.find("its header declares 3900000000 bytes of data, it holds 16") != std::string::npos);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizers reserve terabytes of shadow address space: ulimit -v cannot apply.
  return;
#endif
  std::string output;
  const std::string command = fmt::format("train --data {} --epochs 1", dir.path.string());
  const std::string full = "sh -c 'ulimit -v 1500000; exec " + std::string(CONVKIT_BINARY) + " " +
                           command + "' 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  CAPTURE(output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(output.find("is truncated: its header declares 3900000000 bytes") != std::string::npos);
  CHECK(output.find("out of memory") == std::string::npos);
}

// --- IDX pairs and directories ---------------------------------------------------------

TEST_CASE("load_idx_pair: (N,H,W) images become (H,W,1) samples with their labels") {
  test::TempDir dir;
  write_pair(dir, "train", 4, 2, 3, 3, false);
  Dataset d = load_idx_pair(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte");
  CHECK(d.sample_shape == Shape{2, 3, 1});
  CHECK(d.size() == 4);
  CHECK(d.num_classes() == 3);
  CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});
  CHECK(d.targets == std::vector<float>{0, 1, 2, 0});
  std::vector<float> sample(6);
  d.copy_sample(2, sample.data());
  CHECK(sample[0] == 20.0f);
  CHECK(sample[5] == 25.0f);
  CHECK(d.class_counts() == std::vector<int64_t>{2, 1, 1});

  // (N,H,W,C) keeps its channels.
  write_raw(dir / "rgb", idx_bytes(0x08, {2, 2, 2, 3}, iota_bytes(24)));
  write_raw(dir / "rgb-labels", idx_bytes(0x08, {2}, {1, 0}));
  Dataset rgb = load_idx_pair(dir / "rgb", dir / "rgb-labels", {"cat", "dog"});
  CHECK(rgb.sample_shape == Shape{2, 2, 3});
  CHECK(rgb.class_names == std::vector<std::string>{"cat", "dog"});
}

TEST_CASE("load_idx_pair errors: count mismatch, ranks, labels beyond the class names") {
  test::TempDir dir;
  write_pair(dir, "train", 3, 2, 2, 2, false, 4);
  const std::string msg = error_of([&] {
    load_idx_pair(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte");
  });
  CHECK(msg.find("has 3 images but") != std::string::npos);
  CHECK(msg.find("train-labels-idx1-ubyte has 4 labels") != std::string::npos);

  write_raw(dir / "flat", idx_bytes(0x08, {3, 4}, iota_bytes(12)));
  write_raw(dir / "labels3", idx_bytes(0x08, {3}, {0, 1, 9}));
  write_raw(dir / "labels2d", idx_bytes(0x08, {3, 1}, {0, 1, 2}));
  write_raw(dir / "images", idx_bytes(0x08, {3, 2, 2}, iota_bytes(12)));
  CHECK(error_of([&] { load_idx_pair(dir / "flat", dir / "labels3"); })
            .find("holds a rank-2 array; images must be (N, H, W) or (N, H, W, C)") != std::string::npos);
  CHECK(error_of([&] { load_idx_pair(dir / "images", dir / "labels2d"); })
            .find("labels must be (N)") != std::string::npos);
  CHECK(error_of([&] { load_idx_pair(dir / "images", dir / "labels3", {"a", "b", "c"}); })
            .find("has label 9, but the dataset has only 3 classes") != std::string::npos);
}

TEST_CASE("load_idx_dir and load_data: .gz preferred, test split optional, clear errors") {
  test::TempDir dir;
  write_pair(dir, "train", 5, 2, 2, 2, true);
  write_pair(dir, "train", 3, 2, 2, 2, false);  // the .gz copy wins
  Dataset d = load_idx_dir(dir.path.string(), true);
  CHECK(d.size() == 5);
  DataSplits splits = load_data(dir.path.string());
  CHECK(splits.train.size() == 5);
  CHECK(!splits.test.has_value());
  write_pair(dir, "t10k", 2, 2, 2, 2, false);
  splits = load_data(dir.path.string());
  REQUIRE(splits.test.has_value());
  CHECK(splits.test->size() == 2);

  test::TempDir empty;
  const std::string msg = error_of([&] { load_idx_dir(empty.path.string(), true); });
  CAPTURE(msg);
  CHECK(msg.find((empty / "train-images-idx3-ubyte") + " not found (nor train-images-idx3-ubyte.gz)") !=
        std::string::npos);
  CHECK(error_of([&] { load_data(empty / "missing"); })
            .find("--data " + (empty / "missing") + ": no such file or directory") != std::string::npos);
  write_raw(empty / "notes.txt", {'h', 'i'});
  // Any other file is read as a list file of "path,label" lines.
  CHECK(error_of([&] { load_data(empty / "notes.txt"); })
            .find((empty / "notes.txt") + " line 1: expected \"path,label\"") != std::string::npos);
}

// --- Dataset helpers and validation_split ----------------------------------------------------

TEST_CASE("split_tail takes the last fraction like Keras: split at int(n * (1 - f))") {
  struct S {
    int64_t n;
    double f;
    int64_t split;
  };
  for (S s : {S{10, 0.2, 8}, S{10, 0.25, 7}, S{7, 0.5, 3}, S{10, 0.0, 10}, S{60000, 0.1, 54000},
              S{3, 0.5, 1}, S{10, 0.3, 7}, S{1, 0.5, 0}}) {
    CAPTURE(s.n);
    CAPTURE(s.f);
    std::vector<int64_t> train, val;
    split_tail(s.n, s.f, train, val);
    CHECK(static_cast<int64_t>(train.size()) == s.split);
    CHECK(static_cast<int64_t>(train.size() + val.size()) == s.n);
    for (size_t i = 0; i < train.size(); ++i) CHECK(train[i] == static_cast<int64_t>(i));
    for (size_t i = 0; i < val.size(); ++i) CHECK(val[i] == s.split + static_cast<int64_t>(i));
  }
  std::vector<int64_t> a, b;
  for (double bad : {1.0, 1.5, -0.1, static_cast<double>(NAN)})
    CHECK_THROWS_WITH_AS(split_tail(10, bad, a, b), doctest::Contains("--validation-split must be in [0, 1)"),
                         ck::Error);
}

TEST_CASE("Dataset::subset and limit_samples keep the chosen samples in order") {
  test::TempDir dir;
  write_pair(dir, "train", 6, 1, 2, 3, false);
  Dataset d = load_idx_dir(dir.path.string(), true);
  Dataset s = d.subset({4, 1});
  CHECK(s.size() == 2);
  CHECK(s.targets == std::vector<float>{1, 1});
  CHECK(s.pixels == std::vector<uint8_t>{40, 41, 10, 11});
  limit_samples(d, 3);
  CHECK(d.size() == 3);
  CHECK(d.pixels.back() == 21);
  limit_samples(d, 0);
  CHECK(d.size() == 3);
  CHECK_THROWS_AS(limit_samples(d, -1), ck::Error);
}

// --- Loader ----------------------------------------------------------------------------------

namespace {
// Sample i is (2,2,1) filled with i; its label is i % 3.
Dataset counting_dataset(int64_t n) {
  Dataset d;
  d.sample_shape = {2, 2, 1};
  for (int64_t i = 0; i < n; ++i) {
    for (int p = 0; p < 4; ++p) d.pixels.push_back(static_cast<uint8_t>(i));
    d.targets.push_back(static_cast<float>(i % 3));
  }
  d.class_names = {"a", "b", "c"};
  return d;
}

std::vector<int64_t> epoch_order(Loader& loader, int epoch, std::vector<int64_t>* sizes = nullptr) {
  std::vector<int64_t> order;
  Batch batch;
  loader.start_epoch(epoch);
  while (loader.next(batch)) {
    if (sizes) sizes->push_back(batch.size());
    for (int64_t i = 0; i < batch.size(); ++i) {
      const int64_t s = batch.indices[i];
      order.push_back(s);
      // The batch holds that sample's pixels and label.
      REQUIRE(batch.x[i * 4] == static_cast<float>(s));
      REQUIRE(batch.targets[i] == static_cast<float>(s % 3));
    }
  }
  return order;
}
}  // namespace

TEST_CASE("Loader: every index once per epoch, last partial batch kept, fresh order per epoch") {
  Dataset d = counting_dataset(23);
  Preprocessing none;
  std::vector<int64_t> all(23);
  std::iota(all.begin(), all.end(), 0);
  Loader loader(d, all, 5, none, true, 7);
  CHECK(loader.samples() == 23);
  CHECK(loader.batches() == 5);
  std::vector<int64_t> sizes;
  std::vector<int64_t> e0 = epoch_order(loader, 0, &sizes);
  CHECK(sizes == std::vector<int64_t>{5, 5, 5, 5, 3});
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == all);
  CHECK(e0 != all);  // shuffled
  std::vector<int64_t> e1 = epoch_order(loader, 1);
  CHECK(e1 != e0);
  std::sort(e1.begin(), e1.end());
  CHECK(e1 == all);
  // Reproducible from (seed, epoch) alone, in any order of epochs and loaders.
  Loader again(d, all, 5, none, true, 7);
  CHECK(epoch_order(again, 1) == epoch_order(loader, 1));
  CHECK(epoch_order(again, 0) == e0);
  Loader other_seed(d, all, 5, none, true, 8);
  CHECK(epoch_order(other_seed, 0) != e0);
  // Resuming mid-epoch: skip whole batches of the same order.
  Batch batch;
  loader.start_epoch(0, 2);
  REQUIRE(loader.next(batch));
  CHECK(batch.indices == std::vector<int64_t>(e0.begin() + 10, e0.begin() + 15));
}

TEST_CASE("Loader: no shuffle keeps the given order, subsets of indices, class weights, scaling") {
  Dataset d = counting_dataset(10);
  Preprocessing unit;
  unit.scaling = Scaling::unit;
  Loader loader(d, {9, 3, 4, 0}, 3, unit, false, 1);
  loader.set_class_weights({0.5f, 2.0f});  // class 2 not in the map: weight 1
  Batch batch;
  loader.start_epoch(5);
  REQUIRE(loader.next(batch));
  CHECK(batch.indices == std::vector<int64_t>{9, 3, 4});
  CHECK(batch.x.shape() == Shape{3, 2, 2, 1});
  CHECK(batch.x[0] == doctest::Approx(9.0 / 255));
  CHECK(batch.x[4] == doctest::Approx(3.0 / 255));
  CHECK(batch.weights == std::vector<float>{0.5f, 0.5f, 2.0f});  // labels 0, 0, 1
  REQUIRE(loader.next(batch));
  CHECK(batch.indices == std::vector<int64_t>{0});
  CHECK(batch.x.shape() == Shape{1, 2, 2, 1});
  CHECK(!loader.next(batch));
  Loader unweighted(d, {2}, 3, unit, false, 1);
  unweighted.start_epoch(0);
  REQUIRE(unweighted.next(batch));
  CHECK(batch.weights.empty());
  CHECK_THROWS_WITH_AS(Loader(d, {0}, 0, unit, false, 1),
                       doctest::Contains("--batch must be a positive number, got 0"), ck::Error);
}
