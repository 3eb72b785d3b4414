// A --classes export (a subset of the source's classes) names its classes as
// the source does, as a whole export does, and only folders an export wrote
// are read that way.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/folder.h"
#include "data/image.h"
#include "tests/cli_helpers.h"
#include "tests/data_helpers.h"

namespace ck {

namespace fs = std::filesystem;
using test::contains;
using test::convkit;
using test::Run;

namespace {

const std::vector<std::string> kShoes = {"Sandal", "Sneaker", "Ankle boot"};

// The folders and export.json a --classes 9,7,5 export writes (listed in that order).
void write_subset_export(const test::TempDir& dir, const std::string& root, bool manifest) {
  for (const char* folder : {"5-Sandal", "7-Sneaker", "9-Ankle boot"})
    test::write_bytes(dir / (root + "/" + folder + "/1.png"),
                      encode_png(test::ramp_image(4, 4, 1)));
  if (manifest)
    test::write_text(dir / (root + "/export.json"),
                     R"({"classes": ["9-Ankle boot", "7-Sneaker", "5-Sandal"],
                         "class_names": ["Ankle boot", "Sneaker", "Sandal"]})");
}

}  // namespace

TEST_CASE("data: a subset export with its export.json gives the source's class names") {
  const test::TempDir dir;
  write_subset_export(dir, "s", true);
  const ImageList s = scan_image_folder(dir / "s");
  CHECK(s.class_names == kShoes);
  CHECK(s.labels == std::vector<int>{0, 1, 2});
  CHECK(s.note ==
        "class names from the folders `convkit data export` wrote (\"5-Sandal\" is \"Sandal\")");
  // A test split or evaluate --data: the folders are those classes, under the
  // recorded names or as made safe (a model trained without export.json).
  CHECK(scan_image_folder(dir / "s", kShoes).labels == std::vector<int>{0, 1, 2});
  CHECK(scan_image_folder(dir / "s", {"Ankle boot", "Sandal", "Sneaker"}).labels ==
        std::vector<int>{1, 2, 0});
  CHECK(scan_image_folder(dir / "s", {"5-Sandal", "7-Sneaker", "9-Ankle boot"}).labels ==
        std::vector<int>{0, 1, 2});
}

TEST_CASE("data: folders starting with digits are not an export without a matching export.json") {
  const test::TempDir dir;
  auto png = [&](const std::string& path) {
    test::write_bytes(dir / path, encode_png(test::ramp_image(4, 4, 1)));
  };
  // A subset's folders alone: could be anyone's.
  write_subset_export(dir, "bare", false);
  CHECK(scan_image_folder(dir / "bare").class_names ==
        std::vector<std::string>{"5-Sandal", "7-Sneaker", "9-Ankle boot"});
  CHECK(scan_image_folder(dir / "bare").note.empty());
  // A user's own numbering from 1.
  png("mine/1-apple/1.png"), png("mine/2-banana/2.png");
  CHECK(scan_image_folder(dir / "mine").class_names ==
        std::vector<std::string>{"1-apple", "2-banana"});
  // An export.json that does not list exactly these folders, or names them otherwise.
  write_subset_export(dir, "extra", true);
  png("extra/8-Bag/1.png");
  CHECK(scan_image_folder(dir / "extra").class_names ==
        std::vector<std::string>{"5-Sandal", "7-Sneaker", "8-Bag", "9-Ankle boot"});
  write_subset_export(dir, "renamed", false);
  test::write_text(dir / "renamed/export.json",
                   R"({"classes": ["5-Sandal", "7-Sneaker", "9-Ankle boot"],
                       "class_names": ["Sandal", "Trainer", "Ankle boot"]})");
  CHECK(scan_image_folder(dir / "renamed").class_names ==
        std::vector<std::string>{"5-Sandal", "7-Sneaker", "9-Ankle boot"});
  // Indices of different widths are not one export's padding.
  png("width/5-Sandal/1.png"), png("width/07-Sneaker/1.png");
  test::write_text(dir / "width/export.json",
                   R"({"classes": ["5-Sandal", "07-Sneaker"], "class_names": ["Sandal", "Sneaker"]})");
  CHECK(scan_image_folder(dir / "width").class_names ==
        std::vector<std::string>{"07-Sneaker", "5-Sandal"});
}

TEST_CASE("CLI: the README's shoes export trains a model that predicts Sneaker, not 7-Sneaker") {
  const test::TempDir dir;
  const std::string shoes = dir / "shoes", model = dir / "shoes.safetensors";
  const Run exported = convkit("data export --to " + shoes +
                              " --format jpg --classes 5,7,9 --random-size 24-64 --split both "
                              "--limit 60 --test-limit 30");
  CAPTURE(exported.err);
  REQUIRE(exported.code == 0);
  const Run train = convkit("train --data " + shoes + " --resize 28x28 --augment 'flip(horizontal)' "
                            "--model 'flatten dense(3,softmax)' --epochs 1 --save " + model);
  CAPTURE(train.err);
  REQUIRE(train.code == 0);
  CHECK(contains(train.out,
                 "class names from the folders `convkit data export` wrote "
                 "(\"5-Sandal\" is \"Sandal\")"));
  CHECK(contains(convkit("summary " + model).out, "Classes (3): Sandal, Sneaker, Ankle boot\n"));
  const Run predict = convkit("predict --model " + model + " " + shoes + "/test/7-Sneaker");
  CAPTURE(predict.err);
  CHECK(predict.code == 0);
  CHECK(contains(predict.out, " Sneaker "));
  CHECK_FALSE(contains(predict.out, ": 7-Sneaker"));
  CHECK_FALSE(contains(predict.out, ", 5-Sandal"));
  CHECK_FALSE(contains(predict.out, ", 9-Ankle"));
  // The test split it was trained with, and the folder given again.
  for (const std::string& args : {"evaluate " + model, "evaluate " + model + " --data " + shoes}) {
    CAPTURE(args);
    const Run evaluate = convkit(args);
    CAPTURE(evaluate.err);
    CHECK(evaluate.code == 0);
    CHECK(contains(evaluate.out, "(test split, 30 samples)"));
  }
  // The source holds 7 classes the model never saw: refused (as before), by name.
  const Run source = convkit("evaluate " + model + " --data fashion-mnist --limit 50");
  CHECK(source.code == 1);
  CHECK(source.err.starts_with("convkit: "));
  CHECK(contains(source.err,
                 " (test): class \"T-shirt/top\" is not one of the training classes (Sandal, "
                 "Sneaker, Ankle boot); a model knows only those: give data whose "
                 "classes are among them\n"));
}

}  // namespace ck
