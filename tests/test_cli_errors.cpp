// Every error a user can hit from the command line so far, by running the
// convkit binary: exit code non-zero, the message on stderr and what it says.
// (--help, summary and a tiny end-to-end run: test_cli_basics.cpp.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli_helpers.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
using ck::test::contains;
using ck::test::convkit;
using ck::test::Run;
using ck::test::TinyData;

// --- Model spec errors -------------------------------------------------------------------------

TEST_CASE("CLI: unknown layer quotes the spec, points ^^^ at the token, suggests the near name") {
  Run r = convkit("summary 'conv2d(32,3) maxpol(2) flatten dense(10)' --input 28x28x1");
  CAPTURE(r.err);
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err,
                 "convkit: in model spec:\n"
                 "  conv2d(32,3) maxpol(2) flatten dense(10)\n"
                 "               ^^^^^^^^^\n"));
  CHECK(contains(r.err, "unknown layer \"maxpol\" (did you mean maxpool?)"));
  CHECK(contains(r.err, "presets: see `convkit summary --list`"));
  TinyData tiny;
  Run t = convkit("train " + tiny.data() + " --model 'conv2d(8,3,relu) flaten dense(10,softmax)'");
  CAPTURE(t.err);
  CHECK(t.code == 1);
  CHECK(contains(t.err, "\n" + std::string(2 + 17, ' ') + "^^^^^^\n"));  // under "flaten"
  CHECK(contains(t.err, "did you mean flatten?"));
}

TEST_CASE("CLI: a bad layer argument names the layer and the value") {
  Run r = convkit("summary 'conv2d(abc,3) flatten dense(10)' --input 28x28x1");
  CAPTURE(r.err);
  CHECK(r.code == 1);
  CHECK(contains(r.err, "  conv2d(abc,3) flatten dense(10)\n  ^^^^^^^^^^^^^\n"));
  CHECK(contains(r.err, "conv2d: filters must be a positive whole number, got \"abc\""));
  Run r2 = convkit("summary 'conv2d(8,3) dropout(1.5)' --input 8x8x1");
  CHECK(r2.code == 1);
  CHECK(contains(r2.err, "dropout: rate must be a number in [0, 1), got \"1.5\""));
}

TEST_CASE("CLI: shape errors from summary (no input shape, bad --input, layer that cannot fit)") {
  Run r = convkit("summary 'conv2d(8,3) flatten dense(10)'");
  CHECK(r.code == 1);
  CHECK(contains(r.err, "does not say its input shape: give --input HxWxC"));
  Run r2 = convkit("summary lenet5 --input 28x28x");
  CHECK(r2.code == 1);
  CHECK(contains(r2.err, "--input \"28x28x\" is not a shape"));
  Run r3 = convkit("summary 'conv2d(8,5) flatten dense(10)' --input 3x3x1");
  CHECK(r3.code == 1);
  CHECK(contains(r3.err, "conv2d: a 5x5 kernel does not fit in its 3x3x1 input"));
  Run r4 = convkit("summary 'conv2d(8,3,relu) flatten dense(10)' --input 28x28");
  CHECK(r4.code == 1);
  CHECK(contains(r4.err, "conv2d: needs an image input"));
}

// --- Data errors -------------------------------------------------------------------------------

TEST_CASE("CLI: --data errors name the path") {
  Run missing = convkit("train --data /nonexistent/fmnist-copy");
  CHECK(missing.code == 1);
  CHECK(
      contains(missing.err, "convkit: --data /nonexistent/fmnist-copy: no such file or directory"));

  // A plain file is not a data source.
  TinyData tiny;
  const std::string text_file = (tiny.dir / "notes.txt").string();
  TinyData::write(text_file, {'h', 'i', '\n'});
  Run file = convkit("train --data " + text_file);
  CHECK(file.code == 1);
  // A text file is read as a list file of "path,label" lines.
  CHECK(contains(file.err, text_file + " line 1: expected \"path,label\", got \"hi\""));

  // A directory whose training images are not IDX.
  const fs::path bad_dir = tiny.dir / "bad";
  fs::create_directories(bad_dir);
  TinyData::write(bad_dir / "train-images-idx3-ubyte", {'P', 'K', 3, 4, 1, 2, 3, 4});
  fs::copy_file(tiny.dir / "train-labels-idx1-ubyte", bad_dir / "train-labels-idx1-ubyte");
  Run bad = convkit("train --data " + bad_dir.string());
  CAPTURE(bad.err);
  CHECK(bad.code == 1);
  CHECK(contains(bad.err, (bad_dir / "train-images-idx3-ubyte").string() + " is not an IDX file"));

  // A directory without the files.
  const fs::path empty_dir = tiny.dir / "empty";
  fs::create_directories(empty_dir);
  Run empty = convkit("train --data " + empty_dir.string());
  CHECK(empty.code == 1);
  CHECK(contains(empty.err, empty_dir.string() + " has no class folders"));
  CHECK(contains(empty.err, "train-images-idx3-ubyte[.gz]"));
}

// --- Option errors ---------------------------------------------------------------------------

TEST_CASE("CLI: option values that cannot work are refused, naming the option") {
  TinyData tiny;
  struct Case {
    std::string args;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"train --batch 0", {"--batch: must be a whole number >= 1, got 0"}},
      {"train --batch -5", {"--batch: must be a whole number >= 1, got -5"}},
      {"train --epochs 0", {"--epochs: must be a whole number >= 1, got 0"}},
      {"train --threads -1", {"--threads: must be a whole number >= 0, got -1"}},
      {"train --gemm foo", {"--gemm", "foo", "naive", "simd", "blas"}},
      {"summary --gemm fast", {"--gemm"}},
      {"train --batch abc", {"--batch: must be a whole number >= 1, got abc"}},
      {"train " + tiny.data() + " --optimizer foo",
       {"unknown optimizer \"foo\": choose adam or sgd"}},
      {"train " + tiny.data() + " --lr -1", {"--lr: must be a number > 0, got -1"}},
      // 0 used to mean "the optimizer's default" and trained at lr 0.001.
      {"train " + tiny.data() + " --lr 0", {"--lr: must be a number > 0, got 0"}},
      {"train " + tiny.data() + " --lr abc", {"--lr: must be a number > 0, got abc"}},
      {"train " + tiny.data() + " --optimizer sgd --momentum -0.5",
       {"--momentum: must be a number >= 0, got -0.5"}},
      {"train --epochs 99999999999",
       {"--epochs: must be a whole number from 1 to 2147483647, got 99999999999"}},
      {"train " + tiny.data() + " --checkpoint-every -3",
       {"--checkpoint-every: must be a whole number >= 0, got -3"}},
      {"train " + tiny.data() + " --threads 100000",
       {"--threads 100000: at most 256 (this machine has "}},
      {"lr-find --start-lr 0", {"--start-lr: must be a number > 0, got 0"}},
      {"overfit-batch --lr 0", {"--lr: must be a number > 0, got 0"}},
      {"bench model --batch 0", {"--batch: must be a whole number >= 1, got 0"}},
      {"repro learning-rate-10 --quick --full", {"--quick excludes --full"}},
      {"train " + tiny.data() + " --test-limit -1",  // named --limit before
       {"--test-limit: must be a whole number >= 0, got -1"}},
      // A uint64 option read "-1" as 18446744073709551615.
      {"train " + tiny.data() + " --seed -1",
       {"--seed: must be a whole number from 0 to 18446744073709551615, got -1"}},
      {"data export --to /nonexistent-x --seed x", {"--seed: must be a whole number from 0"}},
      {"train " + tiny.data() + " --optimizer adam --momentum 0.9",
       {"--momentum and --nesterov apply to sgd"}},
      {"train " + tiny.data() + " --optimizer sgd --nesterov",
       {"--nesterov needs a --momentum above 0"}},
      {"train " + tiny.data() + " --validation-split 1.5",
       {"--validation-split must be in [0, 1), got 1.5"}},
      {"train " + tiny.data() + " --validation-split -0.2",
       {"--validation-split must be in [0, 1)"}},
      {"train " + tiny.data() + " --limit -3",
       {"--limit: must be a whole number >= 0, got -3"}},
      {"train " + tiny.data() + " --scale 1/256",
       {"--scale: unknown scaling \"1/256\": choose auto, none, 1/255, minmax, zscore, caffe, tf "
        "or torch"}},
      {"train " + tiny.data() + " --loss hinge", {"unknown loss \"hinge\""}},
      {"train --frobnicate", {"--frobnicate"}},
      {"summary --frobnicate", {"--frobnicate"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    Run r = convkit(c.args);
    CAPTURE(r.err);
    CHECK(r.code == 1);  // one code for every user error, CLI11's parse errors too
    CHECK(r.err.starts_with("convkit"));
    CHECK(!contains(r.out, "Epoch 1/"));  // nothing was trained
    for (const std::string& w : c.words) CHECK(contains(r.err, w));
    CHECK(!contains(r.err, "0.000000 to 1797"));  // CLI11's unreadable range message
  }
}

TEST_CASE("CLI: a model that does not match the data or the loss is refused before training") {
  TinyData tiny;
  Run classes = convkit("train " + tiny.data() + " --model 'flatten dense(5,softmax)'");
  CHECK(classes.code == 1);
  CHECK(contains(classes.err, "the model has 5 outputs but"));
  CHECK(contains(classes.err, "has 10 classes; end the model with dense(10,softmax)"));
  // A preset is an architecture: its head is sized for the data, and said so.
  Run preset = convkit(
      "train --data synthetic:images=20,shape=28x28x1,values=0-1,classes=3 --model lenet5 "
      "--epochs 1");
  CHECK(preset.code == 0);
  CHECK(contains(preset.out,
                 "head:          dense(3,softmax) for the data's 3 classes (the preset has "
                 "dense(10,softmax))"));
  Run not_flat = convkit("train " + tiny.data() + " --model 'conv2d(4,3)'");
  CHECK(not_flat.code == 1);
  CHECK(contains(not_flat.err, "is not flat: end it with flatten and a dense layer"));
  Run bce = convkit("train " + tiny.data() + " --model 'flatten dense(10,softmax)' --loss bce");
  CHECK(bce.code == 1);
  CHECK(contains(bce.err, "binary cross-entropy needs one output unit"));
  // MSE reads one target per output: 10 outputs against one class index per
  // sample used to read past the batch's targets (a heap overflow, loss NaN).
  Run mse = convkit("train " + tiny.data() + " --model 'flatten dense(10,softmax)' --loss mse");
  CHECK(mse.code == 1);
  CHECK(contains(mse.err,
                 "mean_squared_error compares each of the model's 10 outputs with a target, "
                 "but " +
                     tiny.dir.string() + " has 1 target value per sample (a class index)"));
  CHECK(!contains(mse.out, "Epoch 1/"));
  Run regression =
      convkit("train " + tiny.data() + " --model 'flatten dense(1)' --loss mse --epochs 1");
  CHECK(regression.code == 0);
  CHECK(!contains(regression.out, "nan"));
  // One class cannot be told apart from anything: refused, not trained to accuracy 1.
  const ck::test::TempDir dir;
  std::ofstream(dir / "one.csv") << "a,label\n1,x\n2,x\n";
  Run one = convkit("train --data " + (dir / "one.csv") + " --model 'dense(2,softmax)'");
  CHECK(one.code == 1);
  CHECK(contains(one.err, "one.csv has one class (\"x\"): a classifier needs at least 2 classes"));
  // An image folder with only DIR/train reads "train" as its one class: say what to give.
  REQUIRE(convkit("data export --to " + (dir / "imgs/train") + " --format png --limit 20 --classes 0,1")
              .code == 0);
  Run split = convkit("train --data " + (dir / "imgs") + " --model lenet5");
  CHECK(split.code == 1);
  CHECK(contains(split.err,
                 "imgs has one class (\"train\"): a classifier needs at least 2 classes to "
                 "tell apart; " +
                     (dir / "imgs") +
                     " holds only a train folder: to train on "
                     "it, give --data " +
                     (dir / "imgs") + "/train"));
  // --regression picks mean squared error by itself (--loss auto).
  std::ofstream(dir / "r.csv") << "x,target\n1,2\n2,4\n3,6\n4,8\n";
  Run auto_mse = convkit("train --data " + (dir / "r.csv") +
                         " --label-column target --regression --model 'dense(4,relu) dense(1)' --epochs 1");
  CHECK(auto_mse.code == 0);
  CHECK(contains(auto_mse.out, "mean_squared_error"));
  Run labels = convkit("train " + tiny.data() + " --model 'flatten dense(1,sigmoid)'");
  CHECK(labels.code == 1);
  CHECK(contains(labels.err, "is not 0 or 1, as binary cross-entropy needs"));
}

TEST_CASE("CLI: no subcommand, unknown subcommand") {
  Run none = convkit("");  // shows the commands rather than CLI11's "A subcommand is required"
  CHECK(none.code == 1);
  CHECK(contains(none.err, "Usage: convkit [OPTIONS] SUBCOMMAND"));
  CHECK(contains(none.err, "train                       Train a model"));
  Run unknown = convkit("trian --epochs 1");
  CHECK(unknown.code == 1);
  CHECK(contains(
      unknown.err,
      "convkit: unknown command \"trian\" (did you mean train?); commands: train, evaluate"));
  Run nested = convkit("export --to x");  // a nested command's name, given on its own
  CHECK(nested.code == 1);
  CHECK(contains(nested.err, "convkit: unknown command \"export\" (did you mean data export?)"));
  Run far = convkit("frobnicate");  // nothing close: no guess
  CHECK(far.code == 1);
  CHECK(contains(far.err, "convkit: unknown command \"frobnicate\"; commands: train, evaluate"));
}

TEST_CASE("CLI: a mistyped option names the nearest one, before any work") {
  Run typo = convkit("train --epoch 2 --optimiser=sgd --zzzzzz");
  CHECK(typo.code == 1);
  CHECK(contains(typo.err, "convkit train: unknown option --epoch (did you mean --epochs?)"));
  CHECK(
      contains(typo.err, "convkit train: unknown option --optimiser (did you mean --optimizer?)"));
  CHECK(contains(typo.err, "convkit train: unknown option --zzzzzz\n"));
  Run shortened = convkit("train --label y");  // a name cut short: the option it begins
  CHECK(shortened.code == 1);
  CHECK(contains(shortened.err,
                 "convkit train: unknown option --label (did you mean --label-column?)"));
  CHECK(contains(typo.err, "see convkit train --help"));
  CHECK(!contains(typo.out, "Epoch 1/"));
  // A stray positional word has no option to be near: CLI11's own message stays.
  Run extra = convkit("train extra");
  CHECK(extra.code == 1);
  CHECK(contains(extra.err, "not expected: extra"));
  // Inside a command group the hint names the whole command.
  Run nested = convkit("bench model --model lenet5 --bacth 8");
  CHECK(nested.code == 1);
  CHECK(
      contains(nested.err, "convkit bench model: unknown option --bacth (did you mean --batch?)"));
  CHECK(contains(nested.err, "see convkit bench model --help"));
  // Data commands run no model: --gemm is not theirs.
  Run gemm = convkit("data stats --gemm blas");
  CHECK(gemm.code == 1);
  CHECK(contains(gemm.err, "convkit data stats: unknown option --gemm"));
}

TEST_CASE("CLI: --save into a missing folder is refused before training, nothing written") {
  Run r = convkit("train --epochs 1 --limit 64 --save /nonexistent-convkit-dir/m.safetensors");
  CHECK(r.code == 1);
  CHECK(contains(r.err,
                 "convkit: cannot write /nonexistent-convkit-dir/m.safetensors: the directory "
                 "/nonexistent-convkit-dir does not exist (create it first: mkdir -p "
                 "/nonexistent-convkit-dir)"));
  CHECK(!contains(r.out, "Epoch 1/"));
  Run dir = convkit("train --epochs 1 --limit 64 --save /tmp");
  CHECK(dir.code == 1);
  CHECK(contains(dir.err, "convkit: cannot write /tmp: it is a directory; name a file"));
  CHECK(!contains(dir.out, "Epoch 1/"));
}

// --- Help, version, a run that works
// ---------------------------------------------------------------

TEST_CASE("CLI: summary of a file that is not a model, and --input with a saved model") {
  const ck::test::TempDir dir;
  std::ofstream(dir / "t.csv") << "a,b\n1,2\n3,4\n5,6\n";
  Run text = convkit("summary " + (dir / "t.csv"));
  CHECK(text.code == 1);
  CHECK(contains(text.err, "t.csv is not a convkit model file"));
  CHECK(!contains(text.err, "unknown layer"));
  Run missing = convkit("summary " + (dir / "nonexist.csv"));
  CHECK(missing.code == 1);
  CHECK(contains(missing.err,
                 "nonexist.csv: no such file (summary takes a preset, a layer spec, or a "
                 "saved model file)"));
  REQUIRE(convkit("train --data synthetic:images=20,shape=8x8x1,values=0-1,classes=2 --model "
                  "'flatten dense(2,softmax)' --epochs 1 --save " +
                  (dir / "m.safetensors"))
              .code == 0);
  Run input = convkit("summary " + (dir / "m.safetensors") + " --input 64x64x3");
  CHECK(input.code == 1);
  CHECK(contains(input.err, "--input applies to a preset or a layer spec, not to a saved model: " +
                                (dir / "m.safetensors") + " was built for (8, 8, 1) inputs"));
}
