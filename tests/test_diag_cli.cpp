// The diagnosis commands end to end: train --run-dir, the NaN guard and its
// rollback, the first-step warnings, diagnose, lr-find, overfit-batch,
// explain, plot and report, and resuming a recorded run.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/model_file.h"
#include "apps/run_record.h"
#include "helpers.h"

using namespace ck;
using ck::test::contains;
using ck::test::read_text;
using ck::test::run_convkit;
namespace fs = std::filesystem;

namespace {

const std::string kModel = "\"conv2d(8,3,relu) maxpool(2) flatten dense(10,softmax)\"";
const std::string kData = " --limit 640 --test-limit 200 --validation-split 0.2 ";

}  // namespace

TEST_CASE("train --run-dir records a run that reads back whole") {
  const test::TempDir temp;  // the run directory inside does not exist yet
  const fs::path dir = temp.path / "record";
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 2 --run-dir " + dir.string(), out) == 0);
  // The record's model file is the saved model: no "not saved" line.
  CHECK(contains(out, "saved:         " + (dir / "model.safetensors").string()));
  CHECK_FALSE(contains(out, "not saved"));
  for (const char* file : {"run.json", "steps.csv", "epochs.csv", "layers.csv", "model.safetensors", "samples.png",
                           "samples.safetensors"})
    CHECK_MESSAGE(fs::exists(dir / file), file);
  RunRecord run = read_run_dir(dir.string());
  CHECK(run.status == "finished");
  CHECK(run.classes == 10);
  CHECK(run.steps_per_epoch == 16);  // 512 training samples, batch 32
  CHECK(run.steps.size() == 32);
  REQUIRE(run.epochs.size() == 2);
  CHECK(run.epochs[1].val_loss.has_value());
  CHECK(run.epochs[1].test_accuracy.has_value());
  REQUIRE(run.layers.size() == 4);
  CHECK(run.layers[0].name == "conv2d");
  CHECK(run.epochs[1].layers[0].dead_fraction >= 0);   // a ReLU layer
  CHECK(run.epochs[1].layers[1].dead_fraction < 0);    // max pooling
  CHECK(run.epochs[1].layers[0].update_ratio > 0);
  CHECK(run.input_stats.samples == 512);
  CHECK(run.input_stats.all.max == doctest::Approx(1.0));
  CHECK(run.label_counts.size() == 10);
  CHECK(run.samples.dim(0) == 16);
  CHECK(run.sample_predictions.size() == 16);
  CHECK(run.confusion->source == "test");
  // The model in the directory carries the input statistics for predict/evaluate.
  LoadedModel saved = load_model((dir / "model.safetensors").string());
  CHECK(InputStats::from_json(saved.info.training.at("input_stats")).samples == 512);
  // The CSV files a user opens elsewhere.
  const std::string steps = read_text(dir / "steps.csv");
  CHECK(steps.rfind("epoch,step,iteration,loss,accuracy,learning_rate,grad_norm", 0) == 0);
  CHECK(contains(steps, "\n2,16,32,"));
}

TEST_CASE("diagnose names a missing run directory, a file given as one, and counts one epoch") {
  const test::TempDir temp;
  std::string out;
  CHECK(run_convkit("diagnose " + (temp.path / "nowhere").string(), out) == 1);
  CHECK(contains(out, "nowhere: no such directory (a run directory is written by convkit train --run-dir)"));
  std::ofstream(temp.path / "file.txt") << "x";
  CHECK(run_convkit("diagnose " + (temp.path / "file.txt").string(), out) == 1);
  CHECK(contains(out, "file.txt is not a directory"));
  const fs::path dir = temp.path / "one";
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 1 --run-dir " + dir.string(), out) == 0);
  REQUIRE(run_convkit("diagnose " + dir.string(), out) == 0);
  CHECK(contains(out, "; 1 epoch of 1 planned, 16 steps each; finished"));
}

TEST_CASE("train --save records the input statistics in the model file without a run directory") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "save";
  fs::create_directories(dir);
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + " --limit 256 --test-limit 64 --epochs 1 --save " +
                          (dir / "m.safetensors").string(), out) == 0);
  LoadedModel saved = load_model((dir / "m.safetensors").string());
  InputStats stats = InputStats::from_json(saved.info.training.at("input_stats"));
  CHECK(stats.samples == 256);
  CHECK(stats.sample_shape == Shape{28, 28, 1});
}

TEST_CASE("the NaN guard stops a diverging run naming the layer, the pass and the step") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "nan";
  std::string out;
  const int code = run_convkit("train --model \"flatten dense(64,relu) dense(64,relu) dense(10,softmax)\" --limit 2000 "
                               "--test-limit 100 --epochs 2 --optimizer sgd --lr 100 --run-dir " + dir.string(), out);
  INFO(out);
  CHECK(code == 1);
  CHECK(contains(out, "convkit: Inf in the forward pass of dense_2 at epoch 1 step "));
  CHECK(contains(out, "(its input was finite"));
  CHECK(contains(out, "the step before"));
  CHECK(contains(out, "the learning rate (100) is too high; try --lr 0.01 or convkit lr-find"));
  // The stopped run is recorded, and diagnosed.
  RunRecord run = read_run_dir(dir.string());
  CHECK(run.status.rfind("stopped: Inf in the forward pass of dense_2", 0) == 0);
  REQUIRE(!run.events.empty());
  CHECK(run.events[0].kind == "non-finite");
  CHECK(run.events[0].detail["layer"] == "dense_2");
  std::string diagnosis;
  REQUIRE(run_convkit("diagnose " + dir.string(), diagnosis) == 0);
  CHECK(contains(diagnosis, "problem [lr-too-high] the learning rate (100) is too high: the loss turned Inf"));
}

TEST_CASE("--on-nan rollback restores the last good state and divides the learning rate by 10") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "rollback";
  std::string out;
  const int code = run_convkit("train --model \"flatten dense(64,relu) dense(64,relu) dense(10,softmax)\" --limit 2000 "
                               "--test-limit 100 --epochs 2 --optimizer sgd --lr 100 --on-nan rollback --run-dir " +
                                   dir.string(), out);
  INFO(out);
  CHECK(code == 0);
  CHECK(contains(out, "convkit: warning: Inf in the forward pass of dense_2 at epoch 1 step "));
  CHECK(contains(out, "rolled back to the start of the run and lowered the learning rate from 100 to 10"));
  RunRecord run = read_run_dir(dir.string());
  CHECK(run.status == "finished");
  bool rolled_back = false;
  for (const RunEvent& e : run.events) rolled_back = rolled_back || e.kind == "rollback";
  CHECK(rolled_back);
  CHECK(run.epochs.back().learning_rate == doctest::Approx(10));
  int skipped = 0;
  for (const StepRecord& s : run.steps) skipped += s.skipped;
  CHECK(skipped >= 1);
}

TEST_CASE("the first step warns about raw pixels and a far-off initial loss") {
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + " --limit 64 --test-limit 32 --epochs 1 --scale none", out) == 0);
  CHECK(contains(out, "convkit: warning: the inputs are raw 0..255 pixels"));
  CHECK(contains(out, "--scale 1/255"));
  CHECK(contains(out, "convkit: warning: the loss before any update was"));
  REQUIRE(run_convkit("train --model " + kModel + " --limit 64 --test-limit 32 --epochs 1", out) == 0);
  CHECK(!contains(out, "warning"));
}

TEST_CASE("diagnose names a learning rate of 10, in text and JSON") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "lr10";
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 2 --lr 10 --run-dir " + dir.string(), out) == 0);
  REQUIRE(run_convkit("diagnose " + dir.string(), out) == 0);
  CHECK(contains(out, "problem [lr-too-high] the learning rate (10) is too high"));
  CHECK(contains(out, "rule:"));
  CHECK(contains(out, "source:    Smith"));
  CHECK(contains(out, "try:       lower the learning rate: --lr 0.001"));
  REQUIRE(run_convkit("diagnose --json " + dir.string() + " 2>/dev/null", out) == 0);
  nlohmann::json j = nlohmann::json::parse(out);
  REQUIRE(j.is_array());
  CHECK(j[0]["id"] == "lr-too-high");
  CHECK(j[0]["severity"] == "problem");
  CHECK(j[0]["evidence"]["learning_rate"] == 10);
}

TEST_CASE("diagnose refuses what is not a run directory, saying what one is") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "empty";
  fs::create_directories(dir);
  std::string out;
  CHECK(run_convkit("diagnose " + dir.string(), out) == 1);
  CHECK(contains(out, "is not a run directory: it has no run.json (convkit train --run-dir"));
  CHECK(run_convkit("diagnose /nonexistent/run", out) == 1);
  std::ofstream(dir / "run.json") << "{\"format\": \"convkit-run\"";
  CHECK(run_convkit("diagnose " + dir.string(), out) == 1);
  CHECK(contains(out, "run.json is malformed"));
  // A record missing one of its files: named, with what to do.
  const fs::path cut = temp.path / "cut";
  fs::create_directories(cut);
  write_run_files(cut.string(), RunRecord{}, true);
  REQUIRE(fs::exists(cut / "layers.csv"));
  fs::remove(cut / "layers.csv");
  CHECK(run_convkit("diagnose " + cut.string(), out) == 1);
  CHECK(contains(out, "layers.csv is missing: this run directory is incomplete"));
}

TEST_CASE("a resumed run continues its run directory") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "resume", ckpt = temp.path / "resume_ckpt";
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 1 --checkpoint-dir " + ckpt.string() +
                          " --run-dir " + dir.string(), out) == 0);
  REQUIRE(run_convkit("train --resume " + ckpt.string() + " --epochs 3", out) == 0);
  RunRecord run = read_run_dir(dir.string());
  CHECK(run.epochs.size() == 3);
  CHECK(run.steps.size() == 48);
  CHECK(run.steps[16].epoch == 1);
  CHECK(run.input_stats.samples == 512);
}

TEST_CASE("a resumed run records the run's own configuration, and where it was resumed") {
  const test::TempDir temp;
  const std::string dir = temp / "run", ckpt = temp / "ckpt";
  std::string out;
  // The NaN guard lowers the rate in epoch 1: the checkpoint holds 10, the run was configured with 100.
  REQUIRE(run_convkit("train --model \"flatten dense(64,relu) dense(64,relu) dense(10,softmax)\" --limit 2000 "
                      "--test-limit 100 --epochs 1 --optimizer sgd --lr 100 --on-nan rollback --checkpoint-dir " +
                          ckpt + " --run-dir " + dir, out) == 0);
  REQUIRE(contains(out, "lowered the learning rate from 100 to 10"));
  const nlohmann::json started = read_run_dir(dir).config;
  CHECK(started["learning_rate"] == 100);
  REQUIRE(run_convkit("train --resume " + ckpt + " --epochs 2", out) == 0);
  nlohmann::json resumed = read_run_dir(dir).config;
  CHECK(resumed["learning_rate"] == 100);
  CHECK(resumed["options"]["resume"] == "");
  CHECK(resumed["options"]["checkpoint_dir"] == ckpt);
  CHECK(resumed["options"]["epochs"] == 2);
  CHECK(resumed["epochs"] == 2);
  REQUIRE(resumed.contains("resumed"));
  REQUIRE(resumed["resumed"].size() == 1);
  CHECK(resumed["resumed"][0]["epoch"] == 2);
  CHECK(resumed["resumed"][0]["step"] == 0);
  CHECK(contains(resumed["resumed"][0]["checkpoint"].get<std::string>(), ckpt + "/"));
  // Everything else as the run was started: its options, data, optimizer.
  resumed.erase("resumed");
  resumed["epochs"] = 1, resumed["options"]["epochs"] = 1;
  CHECK(resumed.dump(1) == started.dump(1));
  // The model file in the directory records the same options.
  const LoadedModel saved = load_model(dir + "/model.safetensors");
  CHECK(saved.info.training.at("options") == read_run_dir(dir).config.at("options"));
  // A second resume adds its own entry.
  REQUIRE(run_convkit("train --resume " + ckpt + " --epochs 3", out) == 0);
  const nlohmann::json twice = read_run_dir(dir).config["resumed"];
  REQUIRE(twice.size() == 2);
  CHECK(twice[0]["epoch"] == 2);
  CHECK(twice[1]["epoch"] == 3);
}

TEST_CASE("a fresh run refuses a --run-dir that holds another run, and a resumed run keeps its own") {
  const test::TempDir temp;
  const std::string dir = temp / "run", ckpt = temp / "ckpt";
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 1 --checkpoint-dir " + ckpt + " --run-dir " + dir,
                      out) == 0);
  REQUIRE(run_convkit("plot " + dir, out) == 0);
  REQUIRE(run_convkit("report " + dir, out) == 0);
  const std::string record = read_text(fs::path(dir) / "run.json");

  // A new run there would leave the old plots and report beside its record: refused, nothing touched.
  CHECK(run_convkit("train --model lenet5" + kData + "--epochs 1 --run-dir " + dir, out) == 1);
  CHECK(out == "convkit: --run-dir " + dir +
                   " already holds another run's files (run.json, steps.csv, epochs.csv, layers.csv, samples.png, "
                   "samples.safetensors, model.safetensors, plots/, report.html); choose an empty folder, or delete "
                   "that one first (to continue a run in its folder, resume it: convkit train --resume "
                   "CHECKPOINT-DIR)\n");
  CHECK(read_text(fs::path(dir) / "run.json") == record);
  const std::string file = temp / "file";
  std::ofstream(file) << "x";
  CHECK(run_convkit("train --model lenet5" + kData + "--epochs 1 --run-dir " + file, out) == 1);
  CHECK(out == "convkit: --run-dir " + file + " is a file, not a folder; choose a folder\n");

  // Resuming continues the run's own folder, plots and all.
  REQUIRE(run_convkit("train --resume " + ckpt + " --epochs 2", out) == 0);
  CHECK(read_run_dir(dir).epochs.size() == 2);

  // Once another run has taken the folder over, resuming refuses to mix into it.
  fs::remove_all(dir);
  REQUIRE(run_convkit("train --model lenet5" + kData + "--epochs 1 --run-dir " + dir, out) == 0);
  const std::string other = read_text(fs::path(dir) / "run.json");
  CHECK(run_convkit("train --resume " + ckpt + " --epochs 3", out) == 1);
  CHECK(out == "convkit: --resume " + ckpt + ": the run's --run-dir " + dir + " now holds another run's record (model " +
                   read_run_dir(dir).model_spec + "); move that folder away, then resume again\n");
  CHECK(read_text(fs::path(dir) / "run.json") == other);
}

TEST_CASE("lr-find sweeps the rate, stops on divergence and suggests one") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "lrfind";
  fs::create_directories(dir);
  std::string out;
  REQUIRE(run_convkit("lr-find --model " + kModel + " --limit 3200 --steps 60 --csv " + (dir / "lr.csv").string() +
                          " --svg " + (dir / "lr.svg").string() + " --png " + (dir / "lr.png").string(), out) == 0);
  INFO(out);
  CHECK(contains(out, "Suggested learning rate: "));
  CHECK(contains(out, "steepest descent:"));
  const std::string csv = read_text(dir / "lr.csv");
  CHECK(csv.rfind("learning_rate,loss,smoothed_loss\n1e-07,", 0) == 0);
  CHECK(contains(read_text(dir / "lr.svg"), "data-series=\"smoothed loss\""));
  CHECK(read_text(dir / "lr.png").substr(1, 3) == "PNG");
}

TEST_CASE("overfit-batch passes for a working model and fails for a learning rate of 1e-7") {
  std::string out;
  CHECK(run_convkit("overfit-batch --model " + kModel + " --samples 8", out) == 0);
  CHECK(contains(out, "PASS: the loss on these 8 samples fell from"));
  CHECK(run_convkit("overfit-batch --model " + kModel + " --samples 8 --lr 1e-7 --steps 30", out) == 1);
  CHECK(contains(out, "convkit: FAIL: after 30 steps the loss on 8 samples is"));
}

TEST_CASE("explain describes a layer kind, and a layer of a model with its shapes") {
  std::string out;
  REQUIRE(run_convkit("explain maxpool", out) == 0);
  CHECK(contains(out, "max_pooling2d: max pooling (Keras MaxPooling2D)"));
  CHECK(contains(out, "code:      layers/maxpool2d.{h,cpp}, core/pool.{h,cpp}"));
  REQUIRE(run_convkit("explain conv2d_1 --model lenet5", out) == 0);
  CHECK(contains(out, "input (14, 14, 6) -> output (10, 10, 16); 2,416 parameters"));
  CHECK(run_convkit("explain dense_9 --model lenet5", out) == 1);
  CHECK(contains(out, "the model has no layer \"dense_9\""));
}

TEST_CASE("plot and report draw a recorded run") {
  const test::TempDir temp;
  const fs::path dir = temp.path / "plots";
  std::string out;
  REQUIRE(run_convkit("train --model " + kModel + kData + "--epochs 2 --run-dir " + dir.string(), out) == 0);
  REQUIRE(run_convkit("plot " + dir.string(), out) == 0);
  for (const char* name : {"loss", "accuracy", "gradients", "updates"}) {
    const std::string svg = read_text(dir / "plots" / (std::string(name) + ".svg"));
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(contains(svg, "<polyline class=\"series\""));
    CHECK(read_text(dir / "plots" / (std::string(name) + ".png")).substr(1, 3) == "PNG");
  }
  REQUIRE(run_convkit("report " + dir.string(), out) == 0);
  const std::string html = read_text(dir / "report.html");
  for (const char* part : {"<!DOCTYPE html>", "id=\"findings\"", "id=\"plot-loss\"", "id=\"confusion\"",
                           "id=\"samples\"", "data:image/png;base64,", "id=\"layers\""})
    CHECK_MESSAGE(contains(html, part), part);
}
