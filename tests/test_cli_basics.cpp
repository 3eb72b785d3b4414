// The command line working: --help, summary of presets and specs, and a tiny
// end-to-end training run, by running the convkit binary (its errors:
// test_cli_errors.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/cli_helpers.h"
#include "tests/helpers.h"

using ck::test::contains;
using ck::test::convkit;
using ck::test::Run;
using ck::test::TinyData;

TEST_CASE("CLI: --help of convkit, train and summary succeed and mention the key flags") {
  Run top = convkit("--help");
  CHECK(top.code == 0);
  for (const char* w : {"train", "summary", "--version"}) CHECK(contains(top.out, w));
  Run train = convkit("train --help");
  CHECK(train.code == 0);
  for (const char* w : {"--data", "--model", "--epochs", "--batch", "--optimizer", "--lr",
                        "--momentum", "--nesterov", "--loss", "--seed", "--validation-split",
                        "--limit", "--scale", "--threads", "--gemm", "fashion-mnist", "fmnist-cnn"})
    CHECK(contains(train.out, w));
  Run summary = convkit("summary --help");
  CHECK(summary.code == 0);
  for (const char* w : {"--model", "--input", "--list"}) CHECK(contains(summary.out, w));
  Run version = convkit("--version");
  CHECK(version.code == 0);
  CHECK(contains(version.out, "convkit 0."));
  Run list = convkit("summary --list");
  CHECK(list.code == 0);
  for (const char* w : {"fmnist-cnn", "lenet5", "vgg16-base", "28x28x1"})
    CHECK(contains(list.out, w));
  Run s = convkit("summary lenet5");
  CHECK(s.code == 0);
  CHECK(contains(s.out, "Total params: 61,706"));
  CHECK(contains(s.out, "dense_2 (dense(10,softmax))"));
}

// summary needs no loss: a feature extractor or a regression head is fine.
TEST_CASE("CLI: summary of models that are not classifiers (vgg16-base, conv only, tanh head)") {
  Run base = convkit("summary vgg16-base");
  CAPTURE(base.err);
  CHECK(base.code == 0);
  CHECK(contains(base.out, "(None, 7, 7, 512)"));
  CHECK(contains(base.out, "Total params: 14,714,688"));
  Run conv = convkit("summary 'conv2d(8,3)' --input 8x8x1");
  CHECK(conv.code == 0);
  CHECK(contains(conv.out, "Total params: 80"));
  Run tanh = convkit("summary 'flatten dense(1,tanh)' --input 8x8x1");
  CHECK(tanh.code == 0);
  CHECK(contains(tanh.out, "dense (dense(1,tanh))"));
}

TEST_CASE("CLI: a tiny training run succeeds and reports train and test metrics") {
  TinyData tiny;
  Run r = convkit("train " + tiny.data() +
                  " --model 'conv2d(2,3,relu) maxpool(2) flatten dense(10,softmax)' --epochs 2"
                  " --batch 8 --validation-split 0.25 --threads 1 --gemm naive --seed 3");
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(contains(r.out, "Epoch 1/2"));
  CHECK(contains(r.out, "Epoch 2/2"));
  CHECK(contains(r.out, "30 training samples 28x28x1 (10 classes), 10 validation, 40 test"));
  CHECK(contains(r.out, "1 thread, gemm naive"));
  CHECK(contains(r.out, "val_loss"));
  CHECK(contains(r.out, "Trained 2 epochs in "));
  CHECK(contains(r.out, "test:"));
  CHECK(contains(r.out, "Confusion matrix"));
  // Without --save it says the model is gone, and how to keep one.
  CHECK(contains(r.out,
                 "not saved:     the model was not kept (train with --save FILE.safetensors)"));
  // One epoch: singular, in the header and in the summary.
  const std::string model = (tiny.dir / "one.safetensors").string();
  Run one = convkit("train " + tiny.data() +
                    " --model 'conv2d(2,3,relu) maxpool(2) flatten dense(10,softmax)' --epochs 1"
                    " --batch 8 --threads 1 --gemm naive --seed 3 --save " +
                    model);
  CAPTURE(one.out);
  CHECK(one.code == 0);
  CHECK(contains(one.out, "1 epoch, batch 8"));
  CHECK(contains(one.out, "Trained 1 epoch in "));
  CHECK(contains(one.out, "saved:         " + model));
  CHECK_FALSE(contains(one.out, "not saved"));
  Run summary = convkit("summary " + model);
  CAPTURE(summary.out);
  CHECK(summary.code == 0);
  CHECK(contains(summary.out, " for 1 epoch:\n"));
}
