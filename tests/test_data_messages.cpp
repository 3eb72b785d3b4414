// What the data options and the model-file readers say about a wrong file or
// value: the file's kind named, no raw bytes, limits stated, every choice listed.
#include <doctest/doctest.h>

#include <string>

#include "core/safetensors.h"
#include "data/file_io.h"
#include "data_helpers.h"
#include "helpers.h"

namespace ck {

using test::contains;
using test::run_convkit;

namespace {

const char* kForms =
    "--data takes fashion-mnist, a directory of IDX files, an image folder (DIR/<class>/<images>), "
    "a .csv "
    "file, a list file of \"path,label\" lines, or "
    "synthetic:images=100,shape=32x32x3,values=0-255,classes=10";

}  // namespace

TEST_CASE("data messages: a model file or a binary file given as --data is named as such") {
  test::TempDir dir;
  Tensor w({2});
  write_safetensors(dir / "m1.safetensors", {{"w", &w}}, {{"format", "convkit"}});
  std::string out;
  CHECK(run_convkit("train --data " + (dir / "m1.safetensors"), out) == 1);
  CHECK(contains(
      out, fmt::format("convkit: --data {0} is a model file (safetensors), not data: evaluate it "
                       "with `convkit evaluate {0} --data DATA`, or use it with `convkit predict "
                       "--model {0} IMAGES`; {1}\n",
                       dir / "m1.safetensors", kForms)));

  std::vector<uint8_t> binary = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                 0,    0,   0,   13,  'I',  'H',  'D',  'R'};
  test::write_bytes(dir / "blob", binary);
  CHECK(run_convkit("train --data " + (dir / "blob"), out) == 1);
  CHECK(contains(
      out, fmt::format("convkit: --data {} is not a text file, so it cannot be a list file of "
                       "\"path,label\" lines; {}\n",
                       dir / "blob", kForms)));
  test::write_bytes(dir / "blob.csv", binary);
  CHECK(run_convkit("train --data " + (dir / "blob.csv"), out) == 1);
  CHECK(contains(
      out, fmt::format("convkit: --data {} is not a text file, so it cannot be a .csv table; ",
                       dir / "blob.csv")));
}

TEST_CASE("data messages: bytes that are not printable text are escaped, never printed raw") {
  CHECK(printable_excerpt("a\x01"
                          "b\x7f",
                          60) == "a\\x01b\\x7F");
  CHECK(printable_excerpt("caf\xc3\xa9 \xff", 60) ==
        "caf\xc3\xa9 \\xFF");  // UTF-8 kept, a stray byte escaped
  CHECK(printable_excerpt("abcdef", 3) == "abc...");
  CHECK(printable_excerpt("ab\xc3", 60) == "ab\\xC3");  // a sequence cut short

  // A text file with a stray control byte still reads as a list file; the
  // line quoted in the message shows the byte escaped.
  test::TempDir dir;
  test::write_text(dir / "list.txt", "cat\x01photo\n" + std::string(300, '#') + "\n");
  std::string out;
  CHECK(run_convkit("train --data " + (dir / "list.txt"), out) == 1);
  CHECK(contains(out,
                 dir / "list.txt" + " line 1: expected \"path,label\", got \"cat\\x01photo\"\n"));
}

TEST_CASE("data messages: a non-model file is called that, a damaged model file keeps its detail") {
  test::TempDir dir;
  test::write_text(dir / "t.csv", "x1,x2,label\n1,2,0\n");
  std::string out;
  const std::string plain = fmt::format(
      "convkit: {} is not a convkit model file (it is a text file; model files are the safetensors "
      "files "
      "`convkit train --save` writes)\n",
      dir / "t.csv");
  CHECK(run_convkit("evaluate " + (dir / "t.csv"), out) == 1);
  CHECK(out == plain);
  CHECK(run_convkit("predict --model " + (dir / "t.csv") + " " + (dir / "t.csv"), out) == 1);
  CHECK(out == plain);

  test::write_bytes(dir / "image.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13});
  CHECK(run_convkit("evaluate " + (dir / "image.png"), out) == 1);
  CHECK(contains(out, dir / "image.png" +
                          " is not a convkit model file (it does not start with a safetensors "
                          "header; "));

  // A real model file cut short: the precise reason stays.
  Tensor w({64});
  write_safetensors(dir / "m.safetensors", {{"w", &w}}, {{"format", "convkit"}});
  const std::vector<uint8_t> whole = read_file_bytes(dir / "m.safetensors", 1 << 20);
  test::write_bytes(dir / "cut.safetensors",
                    std::vector<uint8_t>(whole.begin(), whole.begin() + 40));
  CHECK(run_convkit("evaluate " + (dir / "cut.safetensors"), out) == 1);
  CHECK(contains(out, dir / "cut.safetensors" + " is truncated or corrupt: its header length "));
}

TEST_CASE("data messages: --resize, --scale and --cache-limit say what is wrong and allowed") {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--resize 100000x100000",
       "convkit: --resize 100000x100000 is too large: images can have at most 32768 pixels a side "
       "and "
       "67,108,864 pixels in all (e.g. 8192x8192)\n"},
      {"--resize 20000x20000", "convkit: --resize 20000x20000 is too large: "},
      {"--resize 99999999999x2", "convkit: --resize 99999999999x2 is too large: "},
      {"--resize 0x0",
       "convkit: --resize 0x0: give the size as HxW, two whole numbers of at least 1, e.g. "
       "--resize 28x28\n"},
      {"--resize 28x28x1", "convkit: --resize 28x28x1: give the size as HxW, two whole numbers"},
      {"--resize big", "convkit: --resize big: give the size as HxW, two whole numbers"},
      {"--scale foo",
       "--scale: unknown scaling \"foo\": choose auto, none, 1/255, minmax, zscore, caffe, tf or "
       "torch"},
      {"--cache-limit -3", "--cache-limit: must be a whole number >= 0, got -3"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    std::string out;
    CHECK(run_convkit("train --data synthetic:images=20,shape=8x8x1,classes=2 " + c.args, out) !=
          0);
    CAPTURE(out);
    CHECK(contains(out, c.message));
    CHECK_FALSE(contains(out, "28x28x1\n"));
    CHECK_FALSE(contains(out, "0.000000 to 1797"));
    CHECK_FALSE(contains(out, "Epoch 1/"));
  }
}

TEST_CASE("data messages: data stats --help says what its --seed does, preview as before") {
  std::string out;
  REQUIRE(run_convkit("data stats --help", out) == 0);
  CHECK(contains(out, "Seed for the one shuffle of an image folder's files before --limit"));
  CHECK_FALSE(contains(out, "augmentation"));
  CHECK_FALSE(contains(out, "resampling"));
  REQUIRE(run_convkit("data preview --help", out) == 0);
  CHECK(contains(out, "Seed for the shuffle, augmentation and resampling"));
}

}  // namespace ck
