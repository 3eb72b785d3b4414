// Every model `train --save` writes loads again: one run per preprocessing
// and augmentation option, each file loaded back and used for a prediction.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "apps/model_file.h"
#include "data_helpers.h"
#include "helpers.h"

namespace ck {

namespace fs = std::filesystem;
using test::contains;
using test::run_convkit;

namespace {

const char* kConv = "--model \"conv2d(4,3,relu) maxpool(2) flatten dense(2,softmax)\" --epochs 1";

// Trains with `options`, saves, loads the file back and predicts `input`
// with it. Returns the training output.
std::string train_save_load(const std::string& data, const std::string& options,
                            const std::string& model, const std::string& saved,
                            const std::string& input) {
  INFO("train --data ", data, " ", options);
  std::string out;
  REQUIRE(run_convkit("train --data " + data + " " + options + " " + model + " --save " + saved,
                      out) == 0);
  const std::string trained = out;
  CHECK_NOTHROW(load_model(saved));
  INFO(out);
  CHECK(run_convkit("predict --model " + saved + " " + input, out) == 0);
  return trained;
}

}  // namespace

TEST_CASE("train --save: a model saved with any image preprocessing or augmentation loads") {
  test::TempDir dir;
  std::string out;
  // 28x28 gray PNGs of two classes, as a new user makes them.
  REQUIRE(
      run_convkit("data export --to " + (dir / "imgs") + " --format png --limit 40 --classes 7,9",
                  out) == 0);
  std::string image;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path / "imgs"))
    if (entry.path().extension() == ".png") image = entry.path().string();
  REQUIRE(!image.empty());
  const std::vector<std::string> options = {
      "",
      "--scale none",
      "--scale 1/255",
      "--scale minmax",
      "--scale zscore",
      "--scale tf",
      "--channels 3 --scale caffe",
      "--channels 3 --scale torch",
      "--resize 32x32 --resize-method nearest",
      "--validation-split 0.25 --stratify",
      "--class-weight balanced",
      "--resample over",
      "--resample under",
      "--augment flip",
      "--augment \"flip(horizontal) rotation(0.2) zoom(0.2, 0.1) translation(0.1)\"",
      "--augment \"rotation(0.1, fill=constant, value=3, interpolation=nearest) zoom(0.1, "
      "fill=nearest)\"",
      "--augment \"crop(24x24)\"",
      "--augment \"crop(28x28)\"",
      "--augment \"crop(30x20)\"",
      "--augment \"crop(100x100)\"",
      "--resize 20x20 --augment \"crop(24x24)\" --scale zscore",
  };
  int n = 0;
  for (const std::string& o : options)
    train_save_load(dir / "imgs", o, kConv, dir / fmt::format("m{}.safetensors", n++), image);
}

TEST_CASE("train: a crop larger than the images takes no random crops, as Keras's RandomCrop") {
  test::TempDir dir;
  std::string out;
  REQUIRE(
      run_convkit("data export --to " + (dir / "imgs") + " --format png --limit 20 --classes 7,9",
                  out) == 0);
  const std::string saved = dir / "crop.safetensors";
  REQUIRE(run_convkit("train --data " + (dir / "imgs") + " --augment \"crop(100x100)\" " + kConv +
                          " --save " + saved,
                      out) == 0);
  CHECK(
      contains(out,
               "model input 100x100x1: crop(100x100) is larger than the 28x28 images, so no random "
               "crops: training, validation, test and inference all take the centered window "
               "resized up to 100x100 (Keras RandomCrop); for random crops give a window up to "
               "28x28"));
  const LoadedModel loaded = load_model(saved);
  CHECK(loaded.info.preprocessing.input_shape() == Shape{100, 100, 1});
  REQUIRE(run_convkit("summary " + saved, out) == 0);
  CHECK(contains(out, "crop 100x100"));
  REQUIRE(run_convkit("evaluate " + saved + " --data " + (dir / "imgs"), out) == 0);
  CHECK(contains(out, "accuracy:"));
}

TEST_CASE("train --save: a model saved with any table preprocessing loads") {
  test::TempDir dir;
  {
    std::ofstream train(dir / "train.csv");
    train << "x1,x2,label\n";
    for (int i = 0; i < 40; ++i)
      train << (i % 7 == 3 ? "" : std::to_string(i % 10)) << "," << i % 3 << "," << (i % 10 >= 5)
            << "\n";
    std::ofstream fresh(dir / "new.csv");
    fresh << "x1,x2\n2,1\n,2\n";
  }
  const std::string dense = "--model \"dense(8,relu) dense(2,softmax)\" --epochs 1";
  const std::vector<std::string> options = {
      "--impute mean",
      "--impute median --scale minmax",
      "--impute most-frequent --scale zscore",
      "--impute constant:-1 --scale none --validation-split 0.2 --stratify --class-weight inverse",
  };
  int n = 0;
  for (const std::string& o : options)
    train_save_load(dir / "train.csv", o, dense, dir / fmt::format("t{}.safetensors", n++),
                    dir / "new.csv");
  train_save_load(dir / "train.csv", "--impute mean --regression --scale zscore",
                  "--model \"dense(8,relu) dense(1)\" --loss mse --epochs 1", dir / "r.safetensors",
                  dir / "new.csv");
}

}  // namespace ck
