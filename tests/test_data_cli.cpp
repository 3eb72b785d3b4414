// The data pipeline end to end, through the convkit binary: export a JPEG
// folder and train on it, train on a CSV with gaps, and wrong inputs.
#include <doctest/doctest.h>

#include "data/image.h"
#include "data_helpers.h"
#include "helpers.h"

namespace ck {

using test::contains;
using test::run_convkit;

namespace {
const char* kSmall = "--model \"conv2d(4,3,relu) maxpool(2) flatten dense(2,softmax)\" --epochs 1";
}

TEST_CASE("data cli: export Fashion-MNIST as JPEG at random sizes, then train on the folder") {
  test::TempDir dir;
  std::string out;
  REQUIRE(
      run_convkit("data export --to " + (dir / "jpg") +
                      " --format jpg --limit 200 --classes 7,9 --imbalance 9:1 --random-size 20-40",
                  out) == 0);
  CHECK(contains(out, "Wrote 200 JPEG files"));
  CHECK(contains(out, "7-Sneaker"));
  CHECK(run_convkit("train --data " + (dir / "jpg") + " " + kSmall, out) == 1);
  CHECK(contains(out, "different sizes"));
  CHECK(contains(out, "--resize"));
  REQUIRE(
      run_convkit(
          "train --data " + (dir / "jpg") +
              " --resize 28x28 --channels 1 --validation-split 0.2 "
              "--stratify --class-weight balanced --augment \"flip(horizontal) rotation(0.1)\" " +
              kSmall,
          out) == 0);
  CHECK(contains(out, "resized to 28x28 (bilinear)"));
  CHECK(contains(out, "  classes:       Sneaker 144, Ankle boot 16"));
  CHECK(contains(out, "validation:"));
  REQUIRE(run_convkit("data preview --data " + (dir / "jpg") +
                          " --resize 28x28 --augment flip --count 8 --out " + (dir / "p.png"),
                      out) == 0);
  const Image grid = decode_image(dir / "p.png");
  CHECK(grid.width > 8 * 28);
  REQUIRE(run_convkit("data stats --data " + (dir / "jpg"), out) == 0);
  CHECK(contains(out, "imbalance ratio: 9.00"));
  CHECK(contains(out, "heights 20 to 40"));
}

TEST_CASE(
    "data cli: stats describes train/ and test/ folders of mixed sizes, and a preset's head fits 2 "
    "classes") {
  test::TempDir dir;
  std::string out;
  REQUIRE(run_convkit("data export --to " + (dir / "both") +
                          " --format jpg --limit 60 --test-limit 20 --classes 7,9 --split both "
                          "--random-size 20-40",
                      out) == 0);
  REQUIRE(run_convkit("data stats --data " + (dir / "both"), out) == 0);
  CHECK(contains(out, "sizes differ: stored at the median size"));
  CHECK(contains(out, "Classes (test split):"));
  // --resize brings both splits to one size; the preset head is sized for 2 classes.
  CHECK(run_convkit("train --data " + (dir / "both") + " --resize 28x28 --model lenet5 --epochs 1",
                    out) == 0);
  CHECK(contains(out, "head:          dense(2,softmax) for the data's 2 classes"));
}

TEST_CASE("data cli: a CSV with missing values trains with an imputer and is refused without one") {
  test::TempDir dir;
  std::string csv = "a,b,label\n";
  for (int i = 0; i < 60; ++i)
    csv += (i % 7 == 3 ? std::string("") : std::to_string(i % 10)) + "," +
           (i % 11 == 5 ? "NaN" : std::to_string(i % 3)) + "," + std::to_string(i % 2) + "\n";
  test::write_text(dir / "t.csv", csv);
  std::string out;
  const std::string model = " --model \"dense(8,relu) dense(2,softmax)\" --epochs 2";
  CHECK(run_convkit("train --data " + (dir / "t.csv") + model, out) == 1);
  CHECK(contains(out, "t.csv line 5, column \"a\""));
  REQUIRE(run_convkit("train --data " + (dir / "t.csv") + " --impute median --scale zscore" + model,
                      out) == 0);
  CHECK(contains(out, "missing values -> median"));
  CHECK(contains(out, "final train:"));
  REQUIRE(run_convkit("data stats --data " + (dir / "t.csv"), out) == 0);
  CHECK(contains(out, "missing values: 14 in all"));
}

TEST_CASE("data cli: wrong inputs are errors a user can act on, never crashes") {
  test::TempDir dir;
  std::string out;
  CHECK(run_convkit("train --data /nonexistent/folder", out) == 1);
  CHECK(contains(out, "convkit: --data /nonexistent/folder: no such file or directory"));
  test::write_text(dir / "x.csv", "a,b\n1,2\n");
  CHECK(run_convkit("train --data " + (dir / "x.csv"), out) == 1);
  CHECK(contains(out, "no column \"label\""));
  CHECK(run_convkit("train --data " + (dir / "x.csv") + " --label-column b --augment flip", out) ==
        1);
  CHECK(contains(out, "--augment transforms images"));
  CHECK(run_convkit("train --data synthetic:images=10,shape=4x4x1,classes=2 --class-weight 5:1",
                    out) == 1);
  CHECK(contains(out, "class 5 is out of range"));
  CHECK(run_convkit("train --data synthetic:images=10 --scale caffe --channels 1", out) == 1);
  CHECK(contains(out, "expects RGB images"));
  CHECK(run_convkit("data export --to " + (dir / "e") + " --classes 3,12", out) == 1);
  CHECK(contains(out, "class 12 is out of range"));
  CHECK(run_convkit("train --data synthetic:images=10 --augment \"spin(3)\"", out) == 1);
  CHECK(contains(out, "unknown step \"spin\""));
}

TEST_CASE("data cli: the articles' synthetic data trains with the raw-pixels model") {
  std::string out;
  REQUIRE(run_convkit("train --data synthetic:images=100,shape=32x32x3,values=0-255,classes=10 "
                      "--model raw-pixels "
                      "--scale none --epochs 1",
                      out) == 0);
  CHECK(contains(out, "100 training samples 32x32x3"));
  CHECK(contains(out, "no scaling (raw values)"));
}

TEST_CASE("data cli: a Fashion-MNIST model evaluates on convkit's own export, split by split") {
  test::TempDir dir;
  std::string out;
  const std::string model = dir / "m1.safetensors", imgs = dir / "imgs";
  const std::string ten =
      " --model \"conv2d(4,3,relu) maxpool(2) flatten dense(10,softmax)\" --epochs 1";
  REQUIRE(run_convkit("train --limit 300 --test-limit 50" + ten + " --save " + model, out) == 0);
  REQUIRE(run_convkit(
              "data export --to " + imgs + " --format png --split both --limit 100 --test-limit 60",
              out) == 0);
  REQUIRE(run_convkit("evaluate " + model + " --data " + imgs, out) == 0);
  CHECK(contains(out, "(test split, 60 samples)"));
  REQUIRE(run_convkit("evaluate " + model + " --data " + imgs + " --split train", out) == 0);
  CHECK(contains(out, "(train split, 100 samples)"));
  REQUIRE(run_convkit("train --data " + imgs + " --test-data " + imgs + ten, out) == 0);

  // An unknown class folder is refused in the split evaluated, with the expected names.
  test::write_bytes(dir / "imgs/test/zebra/1.png", encode_png(test::ramp_image(28, 28, 1)));
  CHECK(run_convkit("evaluate " + model + " --data " + imgs, out) == 1);
  CHECK(out == "convkit: " + imgs +
                   "/test: class folder \"zebra\" is not one of the training classes "
                   "(T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, "
                   "Ankle boot), nor a folder name `convkit data export` gives them "
                   "(\"0-T-shirt-top\", ...)\n");
  CHECK(run_convkit("evaluate " + model + " --data " + imgs + " --split train", out) == 0);

  // A model trained on the export evaluates on Fashion-MNIST itself.
  const std::string exported = dir / "m2.safetensors";
  REQUIRE(run_convkit("train --data " + imgs + "/train" + ten + " --save " + exported, out) == 0);
  REQUIRE(run_convkit("evaluate " + exported + " --data fashion-mnist --limit 50", out) == 0);
  CHECK(contains(out, "(test split, 50 samples)"));
}

}  // namespace ck
