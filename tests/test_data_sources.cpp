// Synthetic data, export to image folders, and the load_data dispatcher.
#include <doctest/doctest.h>

#include <algorithm>

#include "data/export.h"
#include "data/folder.h"
#include "data/sources.h"
#include "data/synthetic.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

TEST_CASE("data: synthetic data reproduces the articles' np.random recipes from a seed") {
  const DataSplits a = load_data("synthetic:images=100,shape=32x32x3,values=0-255,classes=10");
  CHECK(a.train.size() == 100);
  CHECK(a.train.sample_shape == Shape{32, 32, 3});
  CHECK(a.train.is_u8());
  CHECK(a.train.num_classes() == 10);
  const auto [lo, hi] = std::minmax_element(a.train.pixels.begin(), a.train.pixels.end());
  CHECK(*lo == 0);
  CHECK(*hi == 255);
  const DataSplits f = load_data("synthetic:images=20,shape=8x8x3,values=0-1,classes=5,test=7,seed=3");
  CHECK_FALSE(f.train.is_u8());
  CHECK(f.test->size() == 7);
  for (float v : f.train.values) CHECK((v >= 0 && v < 1));
  for (float t : f.train.targets) CHECK((t >= 0 && t < 5));
  CHECK(load_data("synthetic:images=20,shape=8x8x3,values=0-1,classes=5,seed=3").train.values == f.train.values);
  CHECK(load_data("synthetic:images=20,shape=8x8x3,values=0-1,classes=5,seed=4").train.values != f.train.values);
  CHECK(contains(error_of([] { load_data("synthetic:images=0"); }), "images=0 must be a whole number from 1"));
  CHECK(contains(error_of([] { load_data("synthetic:colour=red"); }), "unknown key \"colour\""));
  CHECK(contains(error_of([] { load_data("synthetic:values=0-100"); }), "values must be 0-255"));
}

TEST_CASE("data: --resize and --channels reshape in-memory images, a test source must match") {
  SourceOptions o;
  o.resize = std::make_pair(4, 6);
  o.channels = 1;
  const DataSplits s = load_data("synthetic:images=3,shape=8x8x3,test=2", o);
  CHECK(s.train.sample_shape == Shape{4, 6, 1});
  CHECK(s.test->sample_shape == Shape{4, 6, 1});
  CHECK(s.train.pixels.size() == 3 * 24);
  SourceOptions t;
  t.stored_shape = Shape{4, 6, 1};
  t.class_names = s.train.class_names;
  CHECK(contains(error_of([&] { load_data("synthetic:images=3,shape=8x8x3", t); }),
                 "holds 8x8 images but the training images are 4x6"));
}

TEST_CASE("data: export writes a deterministic, imbalanced class subset that loads back") {
  const Dataset source = load_data("synthetic:images=300,shape=6x6x1,classes=3,seed=1").train;
  test::TempDir dir;
  ExportOptions o;
  o.format = "png";
  o.classes = parse_class_list("2,0", 3);
  o.imbalance = parse_ratio("3:1", 2);
  o.limit = 40;
  o.min_side = 5, o.max_side = 9;
  const ExportResult r = export_images(source, dir / "a", o);
  CHECK(r.counts == std::vector<int64_t>{30, 10});
  CHECK(r.class_dirs == std::vector<std::string>{"2-2", "0-0"});
  export_images(source, dir / "b", o);
  const ImageList la = scan_image_folder(dir / "a"), lb = scan_image_folder(dir / "b");
  REQUIRE(la.paths.size() == 40);
  for (size_t i = 0; i < la.paths.size(); ++i)
    CHECK(decode_image(la.paths[i]).pixels == decode_image(lb.paths[i]).pixels);
  // The source's names (export.json), in sorted folder order: class order.
  CHECK(la.class_names == std::vector<std::string>{"0", "2"});
  ImageLoadReport report;
  ImageLoadOptions lo;
  lo.size = std::make_pair(6, 6);
  lo.resize = true;
  CHECK(load_images(la, lo, report).size() == 40);
  CHECK(report.sizes.size() > 5);
  CHECK(contains(error_of([&] { export_images(source, dir / "a", o); }), "is not an empty directory"));
  CHECK(contains(error_of([] { parse_class_list("1,7", 3); }), "class 7 is out of range"));
  CHECK(contains(error_of([] { parse_ratio("9:1", 3); }), "has 2 parts but 3 classes"));
  o.limit = 400;
  CHECK(contains(error_of([&] { export_images(source, dir / "c", o); }), "lower --limit"));
}

TEST_CASE("data: Fashion-MNIST class names become safe folder names in class order") {
  Dataset d;
  d.class_names = {"T-shirt/top", "Trouser"};
  CHECK(class_folder_name(d.class_names, 0) == "0-T-shirt-top");
  d.class_names.resize(12, "x");
  CHECK(class_folder_name(d.class_names, 1) == "01-Trouser");
}

TEST_CASE("data: a test table's columns are matched to the training columns by name") {
  test::TempDir dir;
  test::write_text(dir / "test.csv", "b,label,a\n2,1,1\n4,0,3\n");
  SourceOptions o;
  o.columns = {"a", "b"};
  o.class_names = {"0", "1"};
  const DataSplits s = load_data(dir / "test.csv", o);
  CHECK(s.train.columns == std::vector<std::string>{"a", "b"});
  CHECK(s.train.values == std::vector<float>{1, 2, 3, 4});
  o.columns = {"a", "c"};
  CHECK(contains(error_of([&] { load_data(dir / "test.csv", o); }), "has no column \"c\""));
}

}  // namespace ck
