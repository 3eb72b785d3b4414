// convkit evaluate and predict: a saved model applied to new files through
// its own preprocessing, and every way the inputs can fail to fit.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "helpers.h"

namespace fs = std::filesystem;
using ck::test::run_convkit;

namespace {

// Trained once per test process (CTest runs cases as parallel processes):
// lenet5 on 600 Fashion-MNIST images, and 20 test images exported as PNG.
struct Trained {
  ck::test::TempDir dir;  // a member: removed even when a REQUIRE below throws
  std::string model = dir / "m.safetensors";
  std::string images = dir / "images";
  Trained() {
    std::string out;
    REQUIRE(
        run_convkit("train --model lenet5 --limit 600 --test-limit 100 --epochs 1 --save " + model,
                    out) == 0);
    REQUIRE(run_convkit("data export --to " + images +
                            " --format png --split test --limit 20 --classes 7,9",
                        out) == 0);
  }
};

const Trained& trained() {
  static Trained t;
  return t;
}

}  // namespace

TEST_CASE("evaluate: reports loss, accuracy and the confusion matrix on the test split") {
  std::string out;
  REQUIRE(run_convkit("evaluate " + trained().model + " --limit 300", out) == 0);
  CHECK(out.find("test split, 300 samples") != std::string::npos);
  CHECK(out.find("preprocessing: scale 1/255") != std::string::npos);
  CHECK(out.find("accuracy:") != std::string::npos);
  CHECK(out.find("Confusion matrix") != std::string::npos);
  CHECK(out.find("9 Ankle boot") != std::string::npos);
}

TEST_CASE("predict: classifies image files and folders with the recorded preprocessing") {
  std::string out;
  REQUIRE(run_convkit("predict --model " + trained().model + " " + trained().images + " --top 2",
                      out) == 0);
  // 20 images, one line each, two classes per line.
  int lines = 0;
  for (size_t p = out.find(".png: "); p != std::string::npos; p = out.find(".png: ", p + 1))
    ++lines;
  CHECK(lines == 20);
  CHECK(out.find("Sneaker") != std::string::npos);

  REQUIRE(run_convkit("predict --json --model " + trained().model + " " + trained().images, out) ==
          0);
  const nlohmann::json all = nlohmann::json::parse(out);
  // Inputs preprocessed as in training: checked against the file's record, no mismatch.
  CHECK(all["input_check"]["checked"] == true);
  CHECK(all["input_check"]["mismatch"] == false);
  CHECK(all["unreadable"].empty());  // the key is there even when nothing was skipped
  const nlohmann::json& j = all["predictions"];
  REQUIRE(j.size() == 20);
  double total = 0;
  for (const auto& t : j[0]["top"]) total += t["probability"].get<double>();
  CHECK(j[0]["top"].size() == 3);
  CHECK(total > 0.0);
  CHECK(total <= 1.0001);
}

TEST_CASE("predict: --no-preprocess says loudly what it skips") {
  std::string out;
  REQUIRE(run_convkit("predict --no-preprocess --model " + trained().model + " " + trained().images,
                      out) == 0);
  CHECK(
      out.find("--no-preprocess: inputs go to the model raw, skipping the scaling (scale 1/255)") !=
      std::string::npos);
}

TEST_CASE(
    "predict and evaluate: raw inputs for a model trained on scaled ones are named on stderr") {
  std::string out;
  // Normal use: the saved scaling applies, nothing to warn about.
  REQUIRE(run_convkit("predict --model " + trained().model + " " + trained().images, out) == 0);
  CHECK(out.find("preprocessing-mismatch") == std::string::npos);
  REQUIRE(run_convkit("evaluate " + trained().model + " --limit 300", out) == 0);
  CHECK(out.find("preprocessing-mismatch") == std::string::npos);
  // --no-preprocess: 0..255 pixels reach a model trained on 0..1.
  REQUIRE(run_convkit("predict --no-preprocess --model " + trained().model + " " + trained().images,
                      out) == 0);
  CHECK(
      out.find("convkit: warning: the inputs are not preprocessed as the training inputs were: the "
               "inputs look like raw 0..255 pixels, the training inputs were scaled to 0..1 "
               "[preprocessing-mismatch]") != std::string::npos);
  REQUIRE(run_convkit("evaluate --no-preprocess " + trained().model + " --limit 300", out) == 0);
  CHECK(
      out.find(
          "raw 0..255 pixels, the training inputs were scaled to 0..1 [preprocessing-mismatch]") !=
      std::string::npos);
  // --json carries it as a field; the document starts after the stderr warnings.
  REQUIRE(run_convkit(
              "predict --json --no-preprocess --model " + trained().model + " " + trained().images,
              out) == 0);
  const size_t start = out.find("\n{\n");
  REQUIRE(start != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(out.substr(start + 1));
  CHECK(j["input_check"]["mismatch"] == true);
  REQUIRE(j["input_check"]["findings"].size() == 1);
  CHECK(j["input_check"]["findings"][0]["id"] == "preprocessing-mismatch");
}

TEST_CASE("predict: inputs that cannot fit are refused naming expected, actual and the fix") {
  const fs::path dir = trained().dir.path;
  // A 40x30 image: the model was trained on 28x28 images without --resize.
  ck::Image big{40, 30, 3, std::vector<uint8_t>(40 * 30 * 3, 128)};
  ck::write_png((dir / "big.png").string(), big);
  std::string out;
  CHECK(run_convkit("predict --model " + trained().model + " " + (dir / "big.png").string(), out) ==
        1);
  CHECK(out.find("big.png: the image is 40x30x3 but the model expects 28x28x1") !=
        std::string::npos);
  CHECK(out.find("--resize 28x28") != std::string::npos);

  CHECK(run_convkit("predict --model " + trained().model + " /nonexistent.png", out) == 1);
  CHECK(out.find("/nonexistent.png not found") != std::string::npos);

  std::ofstream((dir / "table.csv").string()) << "a,b\n1,2\n";
  CHECK(run_convkit("predict --model " + trained().model + " " + (dir / "table.csv").string(),
                    out) == 1);
  CHECK(out.find("is a table, but") != std::string::npos);

  std::ofstream((dir / "fake.png").string()) << "not an image at all";
  CHECK(run_convkit("predict --model " + trained().model + " " + (dir / "fake.png").string(),
                    out) == 1);
  CHECK(out.find("fake.png") != std::string::npos);

  CHECK(run_convkit("predict --model /nonexistent.safetensors " + trained().images, out) == 1);
  CHECK(out.find("/nonexistent.safetensors not found") != std::string::npos);
}

TEST_CASE(
    "predict: a corrupt image in a folder stops it, or with --on-bad-image skip is left out") {
  const fs::path dir = trained().dir.path / "mixed";
  fs::create_directories(dir);
  int copied = 0;
  for (const auto& e : fs::recursive_directory_iterator(trained().images))
    if (e.is_regular_file() && copied < 3)
      fs::copy_file(e.path(), dir / fmt::format("{}.png", copied++));
  // A PNG cut in half, as an interrupted copy leaves it.
  const std::string png = ck::test::read_text((dir / "0.png").string());
  std::ofstream((dir / "cut.png").string()) << png.substr(0, png.size() / 2);
  std::ofstream((dir / "text.jpg").string()) << "hello";
  const std::string predict = "predict --model " + trained().model + " " + dir.string();
  std::string out;
  // As train and evaluate do: stop, naming the file and the way on.
  CHECK(run_convkit(predict, out) == 1);
  CHECK(out.find(".png: ") == std::string::npos);
  CHECK(out.find("; pass --on-bad-image skip to predict the other images without it\n") !=
        std::string::npos);
  // A single file: nothing else to predict, so no such advice.
  CHECK(run_convkit("predict --model " + trained().model + " " + (dir / "text.jpg").string(),
                    out) == 1);
  CHECK(out == "convkit: " + (dir / "text.jpg").string() +
                   " is not a JPEG, PNG, BMP or GIF file (it starts with 68 65 6c 6c)\n");

  CHECK(run_convkit(predict + " --on-bad-image skip", out) == 0);
  CAPTURE(out);
  int lines = 0;
  for (size_t p = out.find(".png: "); p != std::string::npos; p = out.find(".png: ", p + 1))
    ++lines;
  CHECK(lines == 3);
  CHECK(out.find("convkit: warning: skipped: " + (dir / "text.jpg").string() +
                 " is not a JPEG, PNG, BMP or GIF file (it starts with 68 65 6c 6c)\n") !=
        std::string::npos);
  CHECK(out.find("convkit: warning: skipped: " + (dir / "cut.png").string() +
                 " is a corrupt PNG") != std::string::npos);
  // --json lists them beside the predictions.
  CHECK(run_convkit(predict + " --on-bad-image skip --json", out) == 0);
  const size_t start = out.find("{\n"), end = out.rfind("\n}\n");  // after the stderr lines
  REQUIRE(end != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(out.substr(start, end + 2 - start));
  CHECK(j["predictions"].size() == 3);
  REQUIRE(j["unreadable"].size() == 2);
  CHECK(j["unreadable"][1]["input"] == (dir / "text.jpg").string());
  // Nothing readable at all is an error, skip or not.
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream((dir / "a.png").string()) << "aaaa";
  std::ofstream((dir / "b.png").string()) << "bbbb";
  CHECK(run_convkit(predict + " --on-bad-image skip", out) == 1);
  CHECK(out.find("convkit: none of the 2 images could be read\n") != std::string::npos);
}

TEST_CASE("data export: what it suggests next fits the split and the classes it filled") {
  const ck::test::TempDir dir;
  std::string out;
  REQUIRE(run_convkit("data export --to " + (dir / "t") + " --split test --limit 10", out) == 0);
  CHECK(out.find("Train on it") == std::string::npos);
  CHECK(out.find("Evaluate a model on it: convkit evaluate MODEL.safetensors --data " +
                 (dir / "t")) != std::string::npos);
  REQUIRE(run_convkit("data export --to " + (dir / "tr") + " --limit 10", out) == 0);
  CHECK(out.find("Train on it: convkit train --data " + (dir / "tr")) != std::string::npos);
  // Fewer images than classes: empty class folders, which train and evaluate refuse.
  REQUIRE(run_convkit("data export --to " + (dir / "few") + " --limit 4", out) == 0);
  CHECK(out.find("Train on it") == std::string::npos);
  CHECK(out.find("6 class folders got no images, so train and evaluate would refuse " +
                 (dir / "few") + ": export one image per class or more") != std::string::npos);
}

TEST_CASE("predict and evaluate: a CSV model applies its saved imputer, and refuses without one") {
  const fs::path dir = trained().dir.path / "table";
  fs::create_directories(dir);
  {
    std::ofstream train((dir / "train.csv").string());
    train << "x1,x2,label\n";
    for (int i = 0; i < 60; ++i) {
      const bool gap = i % 7 == 3;
      train << (gap ? "" : std::to_string(i % 10)) << "," << (i % 3) << "," << (i % 10 >= 5)
            << "\n";
    }
    std::ofstream fresh((dir / "new.csv").string());
    fresh << "x1,x2\n2,1\n,2\n9,0\n";
  }
  const std::string model = (dir / "m.safetensors").string();
  std::string out;
  // Without an imputer the gaps stop training, naming the line and column.
  CHECK(run_convkit("train --data " + (dir / "train.csv").string() +
                        " --model \"dense(8,relu) dense(2,softmax)\" --epochs 1",
                    out) == 1);
  CHECK(out.find("line 5") != std::string::npos);
  CHECK(out.find("x1") != std::string::npos);

  REQUIRE(run_convkit(
              "train --data " + (dir / "train.csv").string() +
                  " --impute mean --model \"dense(8,relu) dense(2,softmax)\" --epochs 3 --save " +
                  model,
              out) == 0);
  REQUIRE(run_convkit("predict --model " + model + " " + (dir / "new.csv").string(), out) == 0);
  CHECK(out.find("new.csv line 3:") != std::string::npos);  // the row with the gap
  CHECK(out.find("nan") == std::string::npos);
  REQUIRE(run_convkit("evaluate " + model + " --data " + (dir / "train.csv").string(), out) == 0);
  CHECK(out.find("accuracy:") != std::string::npos);
}
