// Model files, weight import, checkpoints and the kill-and-resume guarantee.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/checkpoint.h"
#include "apps/model_builder.h"
#include "apps/model_file.h"
#include "core/error.h"
#include "helpers.h"
#include "optim/adam.h"

using namespace ck;
namespace fs = std::filesystem;

namespace {

Model small_model(uint64_t seed) {
  Model m = make_model("conv2d(4,3,same,relu) maxpool(2) flatten dense(3,softmax)", Shape{6, 6, 2});
  m.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(seed);
  m.init(rng);
  return m;
}

}  // namespace

TEST_CASE("model file: save then load predicts exactly what the in-memory model predicts") {
  Model m = small_model(3);
  ModelInfo info;
  info.preprocessing.scaling = Scaling::unit;
  info.preprocessing.stored_shape = {6, 6, 2};
  info.class_names = {"a", "b", "c"};
  info.training = {{"epochs", 0}};
  const test::TempDir dir;
  const std::string path = dir / "m.safetensors";
  save_model(path, m, info);

  LoadedModel loaded = load_model(path);
  CHECK(loaded.model.spec() == m.spec());
  CHECK(loaded.model.input_shape() == Shape{6, 6, 2});
  CHECK(loaded.info.class_names == info.class_names);
  CHECK(loaded.info.preprocessing.scaling == Scaling::unit);
  // Keras names and layouts.
  SafeTensors f = read_safetensors(path);
  CHECK(f.find("conv2d/kernel")->shape() == Shape{3, 3, 2, 4});  // HWIO
  CHECK(f.find("dense/kernel")->shape() == Shape{36, 3});        // (in, out)
  CHECK(f.find("dense/bias")->shape() == Shape{3});
  CHECK(f.metadata.at("architecture") ==
        "conv2d(4,3,same,relu) maxpool(2) flatten dense(3,softmax)");

  Rng rng(9);
  Tensor x = test::random_tensor({5, 6, 6, 2}, rng);
  Tensor p1, p2;
  m.predict(x, p1);
  loaded.model.predict(x, p2);
  CHECK(test::max_abs_diff(p1, p2) == 0.0f);
}

TEST_CASE("model file: a tensor that does not fit the architecture is named") {
  Model m = small_model(1);
  const test::TempDir temp_dir;
  const fs::path& dir = temp_dir.path;
  // Same tensors, but the metadata claims a wider dense layer.
  Model other = make_model("conv2d(4,3,same,relu) maxpool(2) flatten dense(5,softmax)", Shape{6, 6, 2});
  other.compile(LossKind::sparse_categorical_crossentropy);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (Param* p : m.params()) tensors.emplace_back(p->name, &p->value);
  Preprocessing pre;
  pre.stored_shape = {6, 6, 2};
  const std::string pre_json = pre.to_json().dump();
  write_safetensors((dir / "bad.safetensors").string(), tensors,
                    {{"format", "convkit"},
                     {"architecture", other.spec()},
                     {"input_shape", "[6, 6, 2]"},
                     {"loss", "sparse_categorical_crossentropy"},
                     {"preprocessing", pre_json},
                     {"class_names", "[]"}});
  CHECK_THROWS_WITH_AS(load_model((dir / "bad.safetensors").string()),
                       doctest::Contains("tensor \"dense/kernel\" has shape (36, 3), but the "
                                         "architecture needs (36, 5)"),
                       Error);
  // A plain safetensors file (weights only) points at --init-from.
  write_safetensors((dir / "plain.safetensors").string(), tensors, {});
  CHECK_THROWS_WITH_AS(load_model((dir / "plain.safetensors").string()),
                       doctest::Contains("not a convkit model"), Error);
  // An architecture that does not parse.
  write_safetensors((dir / "arch.safetensors").string(), tensors,
                    {{"format", "convkit"},
                     {"architecture", "conv9d(4)"},
                     {"input_shape", "[6, 6, 2]"},
                     {"loss", "sparse_categorical_crossentropy"},
                     {"preprocessing", pre_json},
                     {"class_names", "[]"}});
  CHECK_THROWS_WITH_AS(load_model((dir / "arch.safetensors").string()),
                       doctest::Contains("its architecture cannot be built"), Error);
  // Preprocessing that produces another input shape than the architecture takes.
  Preprocessing other_pre;
  other_pre.stored_shape = {7, 7, 2};
  write_safetensors((dir / "pre.safetensors").string(), tensors,
                    {{"format", "convkit"},
                     {"architecture", m.spec()},
                     {"input_shape", "[6, 6, 2]"},
                     {"loss", "sparse_categorical_crossentropy"},
                     {"preprocessing", other_pre.to_json().dump()},
                     {"class_names", "[]"}});
  CHECK_THROWS_WITH_AS(load_model((dir / "pre.safetensors").string()),
                       doctest::Contains("its preprocessing produces inputs of shape (7, 7, 2), but "
                                         "its architecture takes (6, 6, 2)"),
                       Error);
  // A preprocessing record without its format (or of another program).
  write_safetensors((dir / "old.safetensors").string(), tensors,
                    {{"format", "convkit"},
                     {"architecture", m.spec()},
                     {"input_shape", "[6, 6, 2]"},
                     {"loss", "sparse_categorical_crossentropy"},
                     {"preprocessing", R"({"scaling": "1/255"})"},
                     {"class_names", "[]"}});
  CHECK_THROWS_WITH_AS(load_model((dir / "old.safetensors").string()),
                       doctest::Contains("malformed preprocessing record"), Error);
}

TEST_CASE("--init-from imports matching tensors by name and shape, and --freeze stops them") {
  Model source = small_model(5);
  const test::TempDir dir;
  const std::string path = dir / "base.safetensors";
  ModelInfo info;
  info.preprocessing.stored_shape = {6, 6, 2};
  save_model(path, source, info);
  // Same convolution, a different head: conv weights load, dense does not fit.
  Model target = make_model("conv2d(4,3,same,relu) maxpool(2) flatten dense(7,softmax)", Shape{6, 6, 2});
  target.compile(LossKind::sparse_categorical_crossentropy);
  Rng rng(77);
  target.init(rng);
  ImportReport report = import_weights(target, path);
  CHECK(report.loaded == std::vector<std::string>{"conv2d/kernel", "conv2d/bias"});
  REQUIRE(report.shape_mismatch.size() == 2);
  CHECK(report.shape_mismatch[0] == "dense/kernel: file (36, 3), model (36, 7)");
  CHECK(test::max_abs_diff(target.params()[0]->value, source.params()[0]->value) == 0.0f);

  std::vector<std::string> frozen = freeze_layers(target, "imported", &report);
  CHECK(frozen == std::vector<std::string>{"conv2d"});
  CHECK_FALSE(target.params()[0]->trainable);
  CHECK(target.params()[2]->trainable);
  CHECK(target.trainable_param_count() == 36 * 7 + 7);

  // A frozen layer does not move under Adam.
  Tensor before = target.params()[0]->value.clone();
  for (Param* p : target.params()) p->grad.fill(0.5f);
  Adam adam;
  adam.step(target.params());
  CHECK(test::max_abs_diff(target.params()[0]->value, before) == 0.0f);

  CHECK_THROWS_WITH_AS(freeze_layers(target, "conv3*", nullptr),
                       doctest::Contains("no layer matches \"conv3*\""), Error);
  CHECK(freeze_layers(target, "dense*,conv2d", nullptr).size() == 2);
}

TEST_CASE("checkpoints: a run killed with SIGKILL and resumed ends bit-identical") {
  const test::TempDir temp_dir;
  const fs::path& dir = temp_dir.path;
  const std::vector<std::string> common = {"train", "--model", "lenet5", "--limit", "1200",
                                           "--test-limit", "100", "--epochs", "2", "--threads", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  // The uninterrupted run.
  pid_t full = test::spawn_convkit(with({"--save", (dir / "full.safetensors").string()}));
  int status = 0;
  waitpid(full, &status, 0);
  INFO("uninterrupted run status ", status);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  // The same run, checkpointing every 5 steps, killed once a checkpoint exists.
  const fs::path ckpt = dir / "ckpt";
  pid_t run = test::spawn_convkit(with({"--save", (dir / "resumed.safetensors").string(),
                                        "--checkpoint-dir", ckpt.string(), "--checkpoint-every", "5"}));
  bool killed = false;
  // Poll generously: a loaded CI machine may take a while to reach step 5.
  for (int i = 0; i < 12000 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fs::exists(ckpt) && latest_checkpoint(ckpt.string())) {
      kill(run, SIGKILL);
      killed = true;
    }
  }
  waitpid(run, &status, 0);
  REQUIRE(killed);
  const bool finished_anyway = WIFEXITED(status);
  INFO("the run finished before it could be killed: ", finished_anyway);

  // Wherever the kill landed (even after the last checkpoint, before --save
  // wrote the model), resuming finishes the run.
  std::string out;
  int rc = test::run_convkit("train --resume " + ckpt.string() + " --threads 2", out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("resuming:") != std::string::npos);
  CHECK(test::same_tensors((dir / "full.safetensors").string(), (dir / "resumed.safetensors").string()));
}

TEST_CASE("checkpoints: --resume refuses changed options and says what it allows") {
  std::string out;
  CHECK(test::run_convkit("train --resume /nonexistent-ckpt-dir", out) != 0);
  CHECK(out.find("not a directory of checkpoints") != std::string::npos);
  const test::TempDir temp_empty;
  const fs::path& empty = temp_empty.path;
  CHECK(test::run_convkit("train --resume " + empty.string(), out) != 0);
  CHECK(out.find("no checkpoint there") != std::string::npos);
  CHECK(test::run_convkit("train --resume " + empty.string() + " --lr 0.1", out) != 0);
  CHECK(out.find("--lr cannot be changed when resuming") != std::string::npos);
}

TEST_CASE("saving: a process killed at any moment never leaves a partial model file") {
  const test::TempDir temp_dir;
  const fs::path& dir = temp_dir.path;
  // Checkpoint every step, so kills land inside saves often.
  for (int attempt = 0; attempt < 6; ++attempt) {
    // A folder per attempt: a fresh run refuses one holding another run's checkpoints.
    const fs::path ckpt = dir / ("ckpt" + std::to_string(attempt));
    pid_t run = test::spawn_convkit({"train", "--model", "lenet5", "--limit", "640", "--test-limit",
                                     "64", "--epochs", "1", "--checkpoint-dir", ckpt.string(),
                                     "--checkpoint-every", "1", "--keep-checkpoints", "50"});
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 97 * attempt));
    kill(run, SIGKILL);
    int status;
    waitpid(run, &status, 0);
    if (!fs::exists(ckpt)) continue;
    for (const auto& entry : fs::directory_iterator(ckpt)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(".")) continue;  // a temporary file, never a checkpoint
      INFO(name);
      CHECK_NOTHROW(read_checkpoint(entry.path().string()));
    }
  }
}

TEST_CASE("checkpoints: a fresh run refuses a --checkpoint-dir that holds another run's checkpoints") {
  const test::TempDir temp_dir;
  const std::string ckpt = temp_dir / "ckpt";
  const std::string data = " --limit 64 --test-limit 32 --threads 2";
  std::string out;
  REQUIRE(test::run_convkit("train --model lenet5 --epochs 2 --checkpoint-dir " + ckpt + data, out) == 0);
  const std::string newest = ckpt + "/ckpt-e0002-s0000000.safetensors";
  const std::string before = read_safetensors(newest).metadata.at("checkpoint");

  // Another model into the same folder: refused before training, nothing touched.
  CHECK(test::run_convkit("train --model \"conv2d(4,3,relu) flatten dense(10,softmax)\" --epochs 1 "
                          "--checkpoint-dir " + ckpt + data, out) == 1);
  CHECK(out == "convkit: --checkpoint-dir " + ckpt +
                   " already holds checkpoints of another run (ckpt-e0002-s0000000.safetensors, "
                   "model lenet5); resume it with convkit train --resume " + ckpt +
                   ", or choose an empty folder\n");
  CHECK(read_safetensors(newest).metadata.at("checkpoint") == before);
  CHECK(latest_checkpoint(ckpt) == newest);

  // The same command again is another run too; resuming the folder's run still works.
  CHECK(test::run_convkit("train --model lenet5 --epochs 2 --checkpoint-dir " + ckpt + data, out) == 1);
  REQUIRE(test::run_convkit("train --resume " + ckpt + " --epochs 3 --threads 2", out) == 0);
  CHECK(latest_checkpoint(ckpt) == ckpt + "/ckpt-e0003-s0000000.safetensors");

  // An empty folder is fine; a file is not a folder.
  const std::string empty = temp_dir / "empty";
  fs::create_directory(empty);
  CHECK(test::run_convkit("train --model lenet5 --epochs 1 --checkpoint-dir " + empty + data, out) == 0);
  const std::string file = temp_dir / "file";
  std::ofstream(file) << "x";
  CHECK(test::run_convkit("train --model lenet5 --epochs 1 --checkpoint-dir " + file + data, out) == 1);
  CHECK(out == "convkit: --checkpoint-dir " + file + " is a file, not a folder; choose a folder\n");
}
