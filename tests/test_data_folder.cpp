// Image folders and list files: layout, classes, sizes, bad files, splits.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/folder.h"
#include "data/sources.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

namespace {
void png(const std::string& path, int h, int w, int c, int offset = 0) {
  test::write_bytes(path, encode_png(test::ramp_image(h, w, c, offset)));
}
ImageLoadOptions options() {
  ImageLoadOptions o;
  return o;
}
}  // namespace

TEST_CASE("data: an image folder's classes are its sorted subfolders, other files are ignored") {
  test::TempDir dir;
  png(dir / "zebra/1.png", 4, 4, 1);
  png(dir / "ant/b.PNG", 4, 4, 1);
  png(dir / "ant/sub/a.png", 4, 4, 1);
  test::write_text(dir / "ant/notes.txt", "x");
  png(dir / ".ipynb_checkpoints/x.png", 4, 4, 1);
  png(dir / "zebra/.hidden/y.png", 4, 4, 1);
  const ImageList list = scan_image_folder(dir.path.string());
  CHECK(list.class_names == std::vector<std::string>{"ant", "zebra"});
  CHECK(list.labels == std::vector<int>{0, 0, 1});
  CHECK(list.ignored == 1);
  CHECK(contains(list.paths[0], "ant/b.PNG"));
  ImageLoadReport report;
  const Dataset d = load_images(list, options(), report);
  CHECK(d.sample_shape == Shape{4, 4, 1});
  CHECK(d.size() == 3);
  CHECK(d.pixels.size() == 48);
  CHECK(report.sizes.size() == 1);
}

TEST_CASE("data: a folder without class folders, or with an empty one, is refused") {
  test::TempDir dir;
  png(dir / "a.png", 4, 4, 1);
  CHECK(contains(error_of([&] { scan_image_folder(dir.path.string()); }), "has no class folders (it holds 1 images directly)"));
  png(dir / "cat/a.png", 4, 4, 1);
  std::filesystem::create_directories(dir / "dog");
  test::write_text(dir / "dog/readme.txt", "no images here");
  CHECK(contains(error_of([&] { scan_image_folder(dir.path.string()); }), "class folder \"dog\" holds no images"));
  CHECK(contains(error_of([&] { scan_image_folder(dir / "nope"); }), "is not a directory"));
}

TEST_CASE("data: images of different sizes need --resize, the error states the range") {
  test::TempDir dir;
  png(dir / "a/1.png", 10, 20, 3);
  png(dir / "a/2.png", 30, 8, 3);
  png(dir / "b/3.png", 12, 12, 1);
  const ImageList list = scan_image_folder(dir.path.string());
  ImageLoadReport report;
  const std::string e = error_of([&] { load_images(list, options(), report); });
  CHECK(contains(e, "heights 10 to 30, widths 8 to 20"));
  CHECK(contains(e, "--resize"));
  ImageLoadOptions o;
  o.size = std::make_pair(6, 5);
  o.resize = true;
  ImageLoadReport r2;
  const Dataset d = load_images(list, o, r2);
  CHECK(d.sample_shape == Shape{6, 5, 3});  // channels as the first image (RGB); the gray one converted
  CHECK(contains(r2.notes[0], "channels: 3 (RGB), as the first image"));
}

TEST_CASE("data: bad images stop loading by default, or are skipped with a warning naming them") {
  test::TempDir dir;
  png(dir / "a/good.png", 4, 4, 1);
  png(dir / "b/good.png", 4, 4, 1, 3);
  test::write_text(dir / "a/broken.png", "garbage");
  std::vector<uint8_t> half = encode_jpg(test::ramp_image(4, 4, 3), 90);
  half.resize(half.size() / 2);
  test::write_bytes(dir / "b/half.jpg", half);
  REQUIRE(symlink("/nonexistent.png", (dir / "b/gone.png").c_str()) == 0);
  const ImageList list = scan_image_folder(dir.path.string());
  ImageLoadReport report;
  const std::string e = error_of([&] { load_images(list, options(), report); });
  CHECK(contains(e, "a/broken.png is not a JPEG"));
  CHECK(contains(e, "and 1 more bad images"));  // the header pass sees two; the truncated one needs decoding
  CHECK(contains(e, "--on-bad-image skip"));
  ImageLoadOptions skip;
  skip.skip_bad = true;
  ImageLoadReport r;
  const Dataset d = load_images(list, skip, r);
  CHECK(d.size() == 2);
  CHECK(r.skipped == 3);
  REQUIRE(r.warnings.size() == 3);
  CHECK(contains(r.warnings[0] + r.warnings[1] + r.warnings[2], "half.jpg is truncated"));
  CHECK(contains(r.warnings[0] + r.warnings[1] + r.warnings[2], "gone.png"));
}

TEST_CASE("data: big folders are streamed: decoded per sample, identical to the cached pixels") {
  test::TempDir dir;
  png(dir / "a/1.png", 6, 6, 3, 1);
  png(dir / "b/2.png", 9, 9, 3, 2);
  const ImageList list = scan_image_folder(dir.path.string());
  ImageLoadOptions o;
  o.size = std::make_pair(5, 5);
  o.resize = true;
  ImageLoadReport r1, r2;
  const Dataset cached = load_images(list, o, r1);
  o.cache_limit_bytes = 0;
  const Dataset streamed = load_images(list, o, r2);
  CHECK(streamed.streamed());
  CHECK_FALSE(cached.streamed());
  std::vector<float> a(75), b(75);
  for (int i = 0; i < 2; ++i) {
    cached.copy_sample(i, a.data());
    streamed.copy_sample(i, b.data());
    CHECK(a == b);
  }
}

TEST_CASE("data: list files resolve relative paths and name bad lines") {
  test::TempDir dir;
  png(dir / "img/x.png", 4, 4, 1);
  png(dir / "img/y.png", 4, 4, 1);
  test::write_text(dir / "list.txt", "path,label\n# comment\nimg/x.png,dog\n\n" + (dir / "img/y.png") + ",cat\n");
  const ImageList list = read_image_list(dir / "list.txt");
  CHECK(list.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(list.labels == std::vector<int>{1, 0});
  CHECK(list.paths[0] == dir / "img/x.png");
  test::write_text(dir / "bad.txt", "img/x.png,1\nimg/y.png\n");
  CHECK(contains(error_of([&] { read_image_list(dir / "bad.txt"); }), "bad.txt line 2: expected \"path,label\""));
  test::write_text(dir / "range.txt", "img/x.png,7\n");
  CHECK(contains(error_of([&] { read_image_list(dir / "range.txt", {"0", "1"}); }), "out of range"));
}

TEST_CASE("data: load_data dispatches folders with train/ and test/ splits") {
  test::TempDir dir;
  png(dir / "train/a/1.png", 4, 4, 1);
  png(dir / "train/b/2.png", 4, 4, 1);
  png(dir / "test/b/3.png", 4, 4, 1);
  const DataSplits s = load_data(dir.path.string());
  CHECK(s.kind == "images");
  CHECK(s.train.size() == 2);
  REQUIRE(s.test.has_value());
  CHECK(s.test->size() == 1);
  CHECK(s.test->targets[0] == 1);  // "b" is training class 1
  png(dir / "test/c/4.png", 4, 4, 1);
  CHECK(contains(error_of([&] { load_data(dir.path.string()); }), "class folder \"c\" is not one of the training classes"));
  CHECK(contains(error_of([] { load_data("/nonexistent/data"); }), "no such file or directory"));
  png(dir / "one.png", 4, 4, 1);
  CHECK(contains(error_of([&] { load_data(dir / "one.png"); }), "is a single image"));
}

TEST_CASE("data: a FIFO named like an image never blocks loading") {
  test::TempDir dir;
  png(dir / "a/1.png", 4, 4, 1);
  REQUIRE(mkfifo((dir / "a/pipe.png").c_str(), 0600) == 0);
  const ImageList list = scan_image_folder(dir.path.string());
  CHECK(list.paths.size() == 1);
  CHECK(list.ignored == 1);
  test::write_text(dir / "list.txt", "a/pipe.png,0\n");
  ImageLoadReport report;
  CHECK(contains(error_of([&] { load_images(read_image_list(dir / "list.txt"), options(), report); }),
                 "pipe.png is not a regular file"));
  REQUIRE(mkfifo((dir / "list-fifo").c_str(), 0600) == 0);
  CHECK(contains(error_of([&] { load_data(dir / "list-fifo"); }), "list-fifo is not a regular file"));
}

TEST_CASE("data: class folders match a model's classes by name or as data export names them") {
  const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Bag"};
  CHECK(class_folder_name(names, 0) == "0-T-shirt-top");
  CHECK(find_class_folder("Trouser", names) == 1);
  CHECK(find_class_folder("0-T-shirt-top", names) == 0);
  CHECK(find_class_folder("2-Bag", names) == 2);
  CHECK(find_class_folder("1-Bag", names) == -1);
  CHECK(find_class_folder("T-shirt-top", names) == -1);

  test::TempDir dir;
  png(dir / "2-Bag/1.png", 4, 4, 1);
  png(dir / "0-T-shirt-top/2.png", 4, 4, 1);
  const ImageList list = scan_image_folder(dir.path.string(), names);
  CHECK(list.class_names == names);
  CHECK(list.labels == std::vector<int>{0, 2});
  png(dir / "zebra/3.png", 4, 4, 1);
  CHECK(error_of([&] { scan_image_folder(dir.path.string(), names); }) ==
        dir.path.string() +
            ": class folder \"zebra\" is not one of the training classes (T-shirt/top, Trouser, "
            "Bag), nor a folder name `convkit data export` gives them (\"0-T-shirt-top\", ...)");
}

TEST_CASE("data: a test source's classes match the training classes via exported names") {
  Dataset exported;  // classes as a model trained on an export names them
  exported.class_names = {"0-T-shirt-top", "1-Trouser"};
  exported.targets = {1, 0};
  match_classes(exported, {"T-shirt/top", "Trouser"});
  CHECK(exported.targets == std::vector<float>{1, 0});
  Dataset original;  // and the other way round
  original.class_names = {"T-shirt/top", "Trouser"};
  original.targets = {0, 1};
  match_classes(original, {"1-Trouser", "0-T-shirt-top"});
  CHECK(original.targets == std::vector<float>{1, 0});
  Dataset other;
  other.description = "other data";
  other.class_names = {"cat"};
  other.targets = {0};
  CHECK(error_of([&] {
          match_classes(other, {"T-shirt/top", "Trouser"});
        }) ==
        "other data: class \"cat\" is not one of the training classes (T-shirt/top, Trouser); "
        "a model knows only those: give data whose classes are among them");
}

}  // namespace ck
