// What a new user hits first: one exit code for every user error (CLI11's
// parse errors included), export onto a file, regression data described as
// such, and a model trained on an export naming its classes as the source.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
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

TEST_CASE("CLI: CLI11's parse errors exit 1 as convkit's own do, with convkit's prefix") {
  struct Case {
    std::string args, err;
  };
  const std::vector<Case> cases = {
      {"train --epochs abc",
       "convkit: --epochs: must be a whole number >= 1, got abc; see convkit train --help\n"},
      {"train --threads -1",
       "convkit: --threads: must be a whole number >= 0, got -1; see convkit train --help\n"},
      {"train --gemm foo",
       "convkit: --gemm: foo not in {naive,simd,blas}; see convkit train --help\n"},
      {"data export --to x --format gif",
       "convkit: --format: gif not in {png,jpg,jpeg}; see convkit data export --help\n"},
      {"train extra",
       "convkit: The following argument was not expected: extra; see convkit train --help\n"},
      {"train --epochs",
       "convkit: --epochs needs a value (INT:POSITIVE); see convkit train --help\n"},
      {"predict", "convkit: --model is required; see convkit predict --help\n"},
      {"data export", "convkit: --to is required; see convkit data export --help\n"},
      {"data",
       "convkit: data needs a command: export, preview, stats, bench; see convkit data --help\n"},
      {"bench", "convkit: bench needs a command: gemm, model, conv; see convkit bench --help\n"},
      {"--frobnicate",
       "convkit: unknown option --frobnicate; give a command: train, evaluate, predict, summary, "
       "data, repro, diagnose, lr-find, overfit-batch, gradcheck, explain, plot, report, bench; "
       "see convkit --help\n"},
      {"train --frobnicate",
       "convkit train: unknown option --frobnicate\nsee convkit train --help\n"},
      {"trian",
       "convkit: unknown command \"trian\" (did you mean train?); commands: train, evaluate, "
       "predict, summary, data, repro, diagnose, lr-find, overfit-batch, gradcheck, explain, "
       "plot, report, bench (see convkit --help)\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const Run r = convkit(c.args);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == c.err);
    CHECK_FALSE(contains(r.err, "Run with --help"));
  }
}

TEST_CASE("CLI: --help of every command and --version exit 0 on stdout") {
  for (const char* args : {"--help", "--version", "train --help", "evaluate --help",
                           "predict --help", "summary --help", "data --help",
                           "data export --help", "data stats --help", "bench model --help",
                           "repro --help", "diagnose --help", "report --help"}) {
    CAPTURE(args);
    const Run r = convkit(args);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK_FALSE(r.out.empty());
  }
}

TEST_CASE("CLI: data export onto an existing file says it is a file, not a folder") {
  const test::TempDir dir;
  test::write_text(dir / "shoes.png", "mine");
  for (const char* split : {"train", "both"}) {
    CAPTURE(split);
    const Run r =
        convkit("data export --to " + (dir / "shoes.png") + " --limit 20 --split " + split);
    CHECK(r.code == 1);
    CHECK(r.err == "convkit: --to " + (dir / "shoes.png") +
                       ": it is a file, not a folder; the export writes a folder of class folders: "
                       "name a new folder (e.g. --to " +
                       (dir / "shoes") + "-images), or remove the file first\n");
    CHECK_FALSE(contains(r.out, "Wrote"));
    CHECK(fs::file_size(dir / "shoes.png") == 4);  // left alone
  }
}

TEST_CASE("CLI: regression data is described by its target, never as 0 classes") {
  const test::TempDir dir;
  std::ofstream(dir / "r.csv") << "x,price\n1,2.5\n2,4\n3,6\n4,8\n5,10.5\n";
  const std::string data = "--data " + (dir / "r.csv") + " --label-column price --regression";
  const Run train = convkit("train " + data +
                            " --model 'dense(4,relu) dense(1)' --epochs 1 --validation-split 0.2 "
                            "--save " + (dir / "r.safetensors"));
  CAPTURE(train.err);
  REQUIRE(train.code == 0);
  CHECK(contains(train.out,
                 "r.csv: 4 training samples 1 feature (regression target \"price\", 2.5 to "
                 "8), 1 validation\n"));
  CHECK_FALSE(contains(train.out, "classes"));
  const Run stats = convkit("data stats " + data);
  REQUIRE(stats.code == 0);
  CHECK(contains(stats.out,
                 "  target:         regression target \"price\", 2.5 to 10.5 (training split)\n"));
  CHECK_FALSE(contains(stats.out, "0 classes"));
  const Run summary = convkit("summary " + (dir / "r.safetensors"));
  REQUIRE(summary.code == 0);
  CHECK(contains(summary.out, "Target: regression on column \"price\", 1 output\n"));
  CHECK_FALSE(contains(summary.out, "Classes (0)"));
  CHECK_FALSE(contains(summary.out, "accuracy"));
  CHECK(contains(summary.out, "  epoch   1: loss "));
}

TEST_CASE("data: class folders as data export names them give the exported class names") {
  const test::TempDir dir;
  auto png = [&](const std::string& path) {
    test::write_bytes(dir / path, encode_png(test::ramp_image(4, 4, 1)));
  };
  png("a/0-cat/1.png"), png("a/1-dog-or-wolf/2.png");
  const ImageList a = scan_image_folder(dir / "a");
  CHECK(a.class_names == std::vector<std::string>{"cat", "dog-or-wolf"});
  CHECK(a.labels == std::vector<int>{0, 1});
  CHECK(a.note == "class names from the folders `convkit data export` wrote (\"0-cat\" is \"cat\")");
  // The same folders read with those names (a test split) find their classes.
  CHECK(scan_image_folder(dir / "a", a.class_names).labels == std::vector<int>{0, 1});
  // Not 0..K-1 in order, padded otherwise, or no dash: the folder names stay.
  png("b/0-cat/1.png"), png("b/2-dog/2.png");
  png("c/00-cat/1.png"), png("c/01-dog/2.png");
  png("d/0-cat/1.png"), png("d/dog/2.png");
  png("e/0-cat/1.png"), png("e/1-cat/2.png");
  CHECK(scan_image_folder(dir / "b").class_names == std::vector<std::string>{"0-cat", "2-dog"});
  CHECK(scan_image_folder(dir / "c").class_names == std::vector<std::string>{"00-cat", "01-dog"});
  CHECK(scan_image_folder(dir / "d").class_names == std::vector<std::string>{"0-cat", "dog"});
  CHECK(scan_image_folder(dir / "e").class_names == std::vector<std::string>{"0-cat", "1-cat"});
  CHECK(scan_image_folder(dir / "e").note.empty());
}

TEST_CASE("CLI: a model trained on a Fashion-MNIST export predicts the source's class names") {
  const test::TempDir dir;
  const std::string exp = dir / "exp", model = dir / "m.safetensors";
  REQUIRE(convkit("data export --to " + exp + " --limit 40 --split both --test-limit 20").code == 0);
  const Run train = convkit("train --data " + exp +
                            " --model 'flatten dense(10,softmax)' --epochs 1 --save " + model);
  CAPTURE(train.err);
  REQUIRE(train.code == 0);
  CHECK(contains(train.out,
                 "class names from the folders `convkit data export` wrote "
                 "(\"0-T-shirt-top\" is \"T-shirt/top\")"));
  const Run summary = convkit("summary " + model);
  CHECK(contains(summary.out,
                 "Classes (10): T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, "
                 "Shirt, Sneaker, Bag, Ankle boot\n"));
  const Run predict = convkit("predict --model " + model + " " + exp + "/test/1-Trouser");
  CAPTURE(predict.err);
  CHECK(predict.code == 0);
  CHECK(contains(predict.out, "Trouser"));
  CHECK_FALSE(contains(predict.out, "1-Trouser:"));
  CHECK_FALSE(contains(predict.out, "0-T-shirt-top"));
  // The export's own test folders, and the source itself, are read with those names.
  const Run on_export = convkit("evaluate " + model + " --data " + exp);
  CAPTURE(on_export.err);
  CHECK(on_export.code == 0);
  CHECK(contains(on_export.out, "20 samples"));
  // Without export.json the names are the folders' after the dash ("T-shirt-top"),
  // and still match the source's "T-shirt/top".
  fs::remove(exp + "/train/export.json");
  const std::string model2 = dir / "m2.safetensors";
  REQUIRE(convkit("train --data " + exp + " --model 'flatten dense(10,softmax)' --epochs 1 --save " +
                  model2).code == 0);
  CHECK(contains(convkit("summary " + model2).out, "Classes (10): T-shirt-top, Trouser,"));
  const Run on_source = convkit("evaluate " + model2 + " --data fashion-mnist --limit 50");
  CAPTURE(on_source.err);
  CHECK(on_source.code == 0);
}


TEST_CASE("CLI: wrong files given to predict, evaluate, summary and data preview") {
  const test::TempDir dir;
  fs::create_directories(dir / "folder");
  std::ofstream(dir / "r.csv") << "x,y\n1,2\n2,4\n3,6\n";
  std::ofstream(dir / "header.csv") << "x,y\n";
  test::write_bytes(dir / "photo.png", encode_png(test::ramp_image(4, 4, 1)));
  std::ofstream(dir / "broken.png") << "not a png";
  const std::string model = dir / "r.safetensors";
  REQUIRE(convkit("train --data " + (dir / "r.csv") + " --label-column y --regression --model "
                  "'dense(1)' --epochs 1 --save " + model).code == 0);
  struct Case {
    std::string args, err;
  };
  const std::vector<Case> cases = {
      {"predict --model " + (dir / "nope.safetensors") + " " + (dir / "photo.png"),
       "convkit: " + (dir / "nope.safetensors") +
           " not found; check the path (model files are "
           "the .safetensors files `convkit train --save FILE` writes)\n"},
      {"evaluate " + (dir / "folder"), "convkit: " + (dir / "folder") +
                                           " is a directory, not a model file; give a .safetensors "
                                           "file (as `convkit train --save FILE` writes)\n"},
      {"summary " + (dir / "folder"), "convkit: " + (dir / "folder") +
                                          " is a directory; summary takes a preset, a layer spec, "
                                          "or a saved model file (a .safetensors file in it?)\n"},
      {"predict --model " + model + " " + (dir / "nope.png"),
       "convkit: " + (dir / "nope.png") +
           " not found; check the path (predict takes image "
           "files, folders of images and .csv files)\n"},
      // A header and no rows printed nothing and exited 0.
      {"predict --model " + model + " " + (dir / "header.csv"),
       "convkit: " + (dir / "header.csv") +
           " has a header but no rows to predict; add a row of "
           "values per sample\n"},
      {"predict --model " + model + " " + (dir / "photo.png"),
       "convkit: " + (dir / "photo.png") +
           ": this model takes 1 feature, not an image; give a "
           ".csv file with the columns it was trained on (x)\n"},
      // Refused as an image before it is decoded, not as a corrupt file.
      {"predict --model " + model + " " + (dir / "r.csv") + " " + (dir / "broken.png"),
       "convkit: " + (dir / "broken.png") +
           ": this model takes 1 feature, not an image; give a "
           ".csv file with the columns it was trained on (x)\n"},
      // A PNG under the name of the table replaced the table.
      {"data preview --data synthetic:images=20,shape=8x8x1,classes=2 --out " + (dir / "r.csv"),
       "convkit: --out " + (dir / "r.csv") +
           ": preview writes a PNG image; name a .png file, "
           "e.g. --out preview.png\n"},
      {"data preview --data synthetic:images=20,shape=8x8x1,classes=2 --out " +
           (dir / "folder.png/x.png"),
       "convkit: cannot write " + (dir / "folder.png/x.png") + ": the directory " +
           (dir / "folder.png") + " does not exist (create it first: mkdir -p " +
           (dir / "folder.png") + ")\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const Run r = convkit(c.args);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == c.err);
  }
  CHECK(fs::file_size(dir / "r.csv") == 16);
  // evaluate has no --resize: data of another size is told what to do instead.
  const std::string images = dir / "i.safetensors";
  REQUIRE(convkit("train --data synthetic:images=20,shape=8x8x1,classes=2 --model "
                  "'flatten dense(2,softmax)' --epochs 1 --save " + images).code == 0);
  const Run sized = convkit("evaluate " + images + " --data synthetic:images=20,shape=6x6x1,classes=2");
  CHECK(sized.code == 1);
  CHECK(contains(sized.err,
                 " holds 6x6 images but the model takes 8x8; its preprocessing records no "
                 "resize (the training images were all 8x8), so convkit will not guess one: "
                 "resize the images to 8x8, or retrain with --resize 8x8\n"));
  CHECK_FALSE(contains(sized.err, "pass --resize"));  // the table is still there
}

TEST_CASE("CLI: evaluate and summary take the model first or after --model, one of the two") {
  const test::TempDir dir;
  std::ofstream(dir / "r.csv") << "a,b,c,y\n1,2,3,0\n2,4,1,1\n3,6,2,0\n4,1,5,1\n";
  const std::string model = dir / "m.safetensors", other = dir / "o.safetensors";
  REQUIRE(convkit("train --data " + (dir / "r.csv") + " --label-column y --model "
                  "'dense(2,softmax)' --epochs 1 --save " + model).code == 0);
  // Both spellings were marked REQUIRED, though one is enough.
  const Run help = convkit("evaluate --help");
  CHECK(help.code == 0);
  CHECK_FALSE(contains(help.out, "REQUIRED"));
  CHECK(contains(help.out, "one of the two is needed"));
  CHECK_FALSE(contains(convkit("summary --help").out, "REQUIRED"));
  for (const std::string command : {"evaluate", "summary"}) {
    CAPTURE(command);
    for (const std::string& args : {" " + model, " --model " + model,
                                    " " + model + " --model " + model}) {
      CAPTURE(args);
      const Run r = convkit(command + args);
      CAPTURE(r.err);
      CHECK(r.code == 0);
      CHECK(contains(r.out, model));
    }
    // Was "--model: At Most 1 required but received 2".
    const Run two = convkit(command + " " + model + " --model " + other);
    CHECK(two.code == 1);
    CHECK(two.out.empty());
    CHECK(two.err == "convkit: two models given, " + model + " (first) and " + other +
                         " (--model); give one, first or after --model\n");
  }
  const Run none = convkit("evaluate");
  CHECK(none.code == 1);
  CHECK(none.err == "convkit: no model given; name it first (convkit evaluate shoes.safetensors) "
                    "or after --model\n");
  const Run grad = convkit("gradcheck lenet5 --model 'flatten dense(2,softmax)'");
  CHECK(grad.code == 1);
  CHECK(grad.err == "convkit: two models given, lenet5 (first) and flatten dense(2,softmax) "
                    "(--model); give one, first or after --model\n");
  const Run preset = convkit("summary");  // the default preset, as before
  CHECK(preset.code == 0);
  CHECK(contains(preset.out, "conv2d"));
}

TEST_CASE("CLI: predict names the columns a CSV's header lacks, not the line of the first row") {
  const test::TempDir dir;
  std::ofstream(dir / "r.csv") << "a,b,c,y\n1,2,3,0\n2,4,1,1\n3,6,2,0\n4,1,5,1\n";
  std::ofstream(dir / "one.csv") << "a,c\n1,2\n";
  std::ofstream(dir / "two.csv") << "a,y\n1,0\n";
  const std::string model = dir / "m.safetensors";
  REQUIRE(convkit("train --data " + (dir / "r.csv") + " --label-column y --model "
                  "'dense(2,softmax)' --epochs 1 --save " + model).code == 0);
  const Run one = convkit("predict --model " + model + " " + (dir / "one.csv"));
  CHECK(one.code == 1);
  CHECK(one.out.empty());
  CHECK(one.err == "convkit: " + (dir / "one.csv") + ": the header line has no column \"b\"; the "
                   "model expects the columns a, b, c (the features it was trained on): add it, or "
                   "name it as in training\n");
  const Run two = convkit("predict --model " + model + " " + (dir / "two.csv"));
  CHECK(two.code == 1);
  CHECK(two.err == "convkit: " + (dir / "two.csv") + ": the header line has no columns \"b\", "
                   "\"c\"; the model expects the columns a, b, c (the features it was trained "
                   "on): add them, or name them as in training\n");
  CHECK_FALSE(contains(two.err, "line 2"));
  // The columns it has, in any order, with the label column or without: predicted.
  std::ofstream(dir / "ok.csv") << "c,a,b\n3,1,2\n";
  const Run ok = convkit("predict --model " + model + " " + (dir / "ok.csv"));
  CAPTURE(ok.err);
  CHECK(ok.code == 0);
  CHECK(contains(ok.out, "ok.csv line 2:"));
}

}  // namespace ck
