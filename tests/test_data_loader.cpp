// Loader rules: permutations, batches, splits, class balance, determinism.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "core/parallel.h"
#include "data/balance.h"
#include "data/loader.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

namespace {
// n 4x4x1 images, sample i filled with value i % 256; labels from `labels`.
Dataset images(const std::vector<int>& labels, int classes) {
  Dataset d;
  d.sample_shape = {4, 4, 1};
  for (size_t i = 0; i < labels.size(); ++i) {
    for (int k = 0; k < 16; ++k) d.pixels.push_back(static_cast<uint8_t>((i * 7 + k) % 256));
    d.targets.push_back(static_cast<float>(labels[i]));
  }
  for (int k = 0; k < classes; ++k) d.class_names.push_back(std::to_string(k));
  return d;
}
std::vector<int64_t> all(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}
std::vector<Batch> epoch(Loader& loader, int e) {
  std::vector<Batch> out;
  loader.start_epoch(e);
  Batch b;
  while (loader.next(b)) {
    Batch copy = b;
    copy.x = b.x.clone();
    out.push_back(std::move(copy));
  }
  return out;
}
std::vector<int64_t> order(const std::vector<Batch>& batches) {
  std::vector<int64_t> v;
  for (const Batch& b : batches) v.insert(v.end(), b.indices.begin(), b.indices.end());
  return v;
}
}  // namespace

TEST_CASE("data: every epoch is a fresh seeded permutation, the last partial batch is kept") {
  const Dataset d = images(std::vector<int>(10, 0), 1);
  Preprocessing p;
  Loader loader(d, all(10), 4, p, true, 42);
  CHECK(loader.batches() == 3);
  const auto e0 = epoch(loader, 0), e1 = epoch(loader, 1), again = epoch(loader, 0);
  REQUIRE(e0.size() == 3);
  CHECK(e0[2].size() == 2);
  std::vector<int64_t> sorted = order(e0);
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == all(10));
  CHECK(order(e0) != order(e1));
  CHECK(order(e0) == order(again));
  Loader other_seed(d, all(10), 4, p, true, 43);
  CHECK(order(epoch(other_seed, 0)) != order(e0));
  Loader plain(d, all(10), 4, p, false, 42);
  CHECK(order(epoch(plain, 3)) == all(10));
  // skip resumes at a batch of the same order
  loader.start_epoch(1, 2);
  Batch b;
  REQUIRE(loader.next(b));
  CHECK(b.indices == e1[2].indices);
}

TEST_CASE("data: the foundation's use still works: a hand-set 1/255 scaling needs no fit") {
  const Dataset d = images({0, 1}, 2);
  Preprocessing p;
  p.scaling = Scaling::unit;
  Loader loader(d, all(2), 2, p, false, 0);
  const auto batches = epoch(loader, 0);
  CHECK(batches[0].x[1] == doctest::Approx(1.0 / 255));
  CHECK(batches[0].x.shape() == Shape{2, 4, 4, 1});
}

TEST_CASE("data: reorder permutes samples in place, as subset would copy them") {
  Dataset d = images({0, 1, 0, 1, 1}, 2);
  const std::vector<int64_t> order = {3, 0, 4, 2, 1};
  const Dataset copy = d.subset(order);
  d.reorder(order);
  CHECK(d.pixels == copy.pixels);
  CHECK(d.targets == copy.targets);
}

TEST_CASE("data: the validation split is the tail (Keras) or the tail of every class (stratified)") {
  std::vector<int64_t> train, val;
  split_tail(10, 0.2, train, val);
  CHECK(val == std::vector<int64_t>{8, 9});
  CHECK(train.size() == 8);
  const Dataset d = images({0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, 2);
  split_stratified(d, 0.5, train, val);
  CHECK(val == std::vector<int64_t>{2, 3, 7, 8, 9});
  CHECK(train == std::vector<int64_t>{0, 1, 4, 5, 6});
  CHECK(contains(error_of([&] { split_tail(10, 1.0, train, val); }), "--validation-split must be in [0, 1)"));
}

TEST_CASE("data: class weights: balanced n/(k*count), inverse 1/count, explicit, errors named") {
  const std::vector<int64_t> counts = {90, 10};
  const std::vector<float> b = class_weights("balanced", counts);
  CHECK(b[0] == doctest::Approx(100.0 / (2 * 90)));
  CHECK(b[1] == doctest::Approx(5.0));
  const std::vector<float> inv = class_weights("inverse", counts);
  CHECK(inv[0] == doctest::Approx(1.0 / 90));
  CHECK(inv[1] == doctest::Approx(0.1));
  CHECK(class_weights("1:5", {3, 3, 3}) == std::vector<float>{1, 5, 1});
  CHECK(contains(error_of([] { class_weights("2:1", {1, 1}); }), "class 2 is out of range; the data has 2 classes"));
  CHECK(contains(error_of([] { class_weights("0:x", {1, 1}); }), "must be a number"));
  CHECK(contains(error_of([] { class_weights("heavy", {1, 1}); }), "CLASS:WEIGHT"));
  const Dataset d = images({0, 0, 0, 1}, 2);
  Preprocessing p;
  Loader loader(d, all(4), 4, p, false, 1);
  loader.set_class_weights(class_weights("balanced", d.class_counts()));
  const auto batches = epoch(loader, 0);
  CHECK(batches[0].weights[0] == doctest::Approx(4.0 / 6));
  CHECK(batches[0].weights[3] == doctest::Approx(2.0));
}

TEST_CASE("data: oversampling and undersampling balance every epoch afresh") {
  std::vector<int> labels(12, 0);
  labels[10] = labels[11] = 1;  // 10 vs 2
  const Dataset d = images(labels, 2);
  Preprocessing p;
  LoaderOptions o;
  o.batch_size = 5;
  o.shuffle = true;
  o.seed = 3;
  o.resample = Resample::over;
  Loader over(d, all(12), p, o);
  CHECK(over.samples() == 20);
  const auto e0 = order(epoch(over, 0));
  std::map<int, int> per_class;
  for (int64_t i : e0) ++per_class[d.label(i)];
  CHECK(per_class[0] == 10);
  CHECK(per_class[1] == 10);
  o.resample = Resample::under;
  Loader under(d, all(12), p, o);
  CHECK(under.samples() == 4);
  const auto u0 = order(epoch(under, 0)), u1 = order(epoch(under, 1));
  per_class.clear();
  for (int64_t i : u0) ++per_class[d.label(i)];
  CHECK(per_class[0] == 2);
  CHECK(per_class[1] == 2);
  std::set<int64_t> distinct(u0.begin(), u0.end());
  CHECK(distinct.size() == 4);  // without replacement
  std::set<int64_t> seen(u0.begin(), u0.end());
  for (int e = 1; e < 6; ++e)
    for (int64_t i : order(epoch(under, e))) seen.insert(i);
  CHECK(seen.size() > 4);  // a different subset of the majority class over the epochs
}

TEST_CASE("data: batches are identical whatever the thread count and with or without prefetching") {
  std::vector<int> labels(37);
  for (int i = 0; i < 37; ++i) labels[i] = i % 3;
  const Dataset d = images(labels, 3);
  Preprocessing p;
  p.scaling = Scaling::zscore;
  p.fit(d);
  const Augmentation aug = Augmentation::parse("flip rotation(0.3) zoom(0.2) translation(0.1) crop(3x3)");
  p.crop_height = p.crop_width = 3;
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 9;
  o.augment = &aug;
  o.resample = Resample::over;
  auto run = [&](int threads, bool prefetch) {
    set_threads(threads);
    LoaderOptions oo = o;
    oo.prefetch = prefetch;
    Loader loader(d, all(37), p, oo);
    std::vector<float> values;
    for (int e = 0; e < 2; ++e)
      for (const Batch& b : epoch(loader, e)) values.insert(values.end(), b.x.data(), b.x.data() + b.x.size());
    return values;
  };
  const std::vector<float> one = run(1, false);
  CHECK(one == run(2, true));
  CHECK(one == run(4, true));
  CHECK(one == run(1, true));
  set_threads(0);
  Loader eval(d, all(37), 16, p, false, 9);  // no augmentation: the centered crop, resized
  Batch b;
  eval.start_epoch(0);
  eval.next(b);
  CHECK(b.x.shape() == Shape{16, 3, 3, 1});
}

TEST_CASE("data: a file that breaks after loading surfaces as an error from next(), not a crash") {
  test::TempDir dir;
  Dataset d;
  d.sample_shape = {2, 2, 1};
  d.files = {dir / "gone.png"};
  d.targets = {0};
  d.class_names = {"a"};
  Preprocessing p;
  Loader loader(d, {0}, 1, p, false, 0);
  loader.start_epoch(0);
  Batch b;
  CHECK(contains(error_of([&] { loader.next(b); }), "gone.png"));
}

}  // namespace ck

#include "apps/data_options.h"

namespace ck {

TEST_CASE("data: prepare_data fits on the training part only, weights and augmentation stay on training") {
  DataOptions o;
  o.data = "synthetic:images=50,shape=6x6x1,classes=2,test=10,seed=2";
  o.validation_split = 0.2;
  o.scale = "zscore";
  o.class_weight = "balanced";
  o.augment = "flip rotation(0.1)";
  const auto p = prepare_data(o, 8, 7);
  CHECK(p->train_indices.size() == 40);
  CHECK(p->preprocessing.fitted_on == 40);
  CHECK_FALSE(p->train->class_weights().empty());
  REQUIRE(p->validation);
  CHECK(p->validation->class_weights().empty());
  CHECK(p->validation->options().augment == nullptr);
  CHECK(p->test->options().augment == nullptr);
  CHECK(p->train->options().augment != nullptr);
  Batch b;
  p->validation->start_epoch(0);
  REQUIRE(p->validation->next(b));
  CHECK(b.weights.empty());
  CHECK(b.size() == 10);
  CHECK(contains(p->describe(), "class weights (training only)"));
}

}  // namespace ck
