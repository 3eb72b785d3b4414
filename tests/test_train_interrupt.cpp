// Ctrl-C during training: a real SIGINT to the convkit binary, then what a
// user finds (exit code, message, run directory, checkpoint) and that the
// run resumes from there.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <functional>

#include "apps/checkpoint.h"
#include "apps/run_record.h"
#include "helpers.h"
#include "process_helpers.h"

using namespace ck;
namespace fs = std::filesystem;

namespace {

using test::contains;
using test::read_text;

// Sends SIGINT once `ready` holds; returns the exit code (-1: killed by a signal).
int interrupt_when(pid_t pid, const std::function<bool()>& ready) {
  const int code = test::signal_when(pid, SIGINT, ready);
  return code < 0 ? -1 : code;
}

const std::vector<std::string> kRun = {"train", "--model", "lenet5", "--limit", "3000",
                                       "--test-limit", "100", "--epochs", "2", "--threads", "2"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = kRun;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("train: Ctrl-C finishes the step, records the run as interrupted, checkpoints it, and resumes") {
  const test::TempDir temp;
  const std::string full = temp / "full.safetensors", saved = temp / "int.safetensors";
  const std::string run_dir = temp / "run", ckpt = temp / "ckpt";
  const std::string out = temp / "out.txt", err = temp / "err.txt";
  std::string output;
  REQUIRE(test::run_convkit(fmt::format("{} --save {}", fmt::join(kRun, " "), full), output) == 0);

  const pid_t pid = test::spawn_convkit(
      with({"--save", saved, "--run-dir", run_dir, "--checkpoint-dir", ckpt}), out, err);
  const int code = interrupt_when(pid, [&] { return contains(read_text(out), "Epoch 1/2"); });
  const std::string printed = read_text(out), errors = read_text(err);
  INFO(printed, errors);
  REQUIRE(code == 130);

  // Where it stopped: the checkpoint of that position, named in the message.
  const std::optional<std::string> latest = latest_checkpoint(ckpt);
  REQUIRE(latest);
  const TrainPosition stopped = read_checkpoint(*latest).position;
  const RunRecord run = read_run_dir(run_dir);
  const std::string where = describe_position(stopped, run.steps_per_epoch);
  CHECK(contains(errors, "convkit: stopping at the next safe point (press Ctrl-C again to quit at once)\n"));
  CHECK(contains(errors, "convkit: interrupted: training stopped " + where + "\n  the run is recorded in " +
                             run_dir + " (marked interrupted)\n  checkpoint: " + *latest +
                             "\n  resume with: convkit train --resume " + ckpt + " --threads 2\n  --save " + saved +
                             " was not written: the model is only partly trained (the resumed run writes it)\n"));
  if (stopped.step > 0) CHECK(contains(printed, fmt::format("{}/{} stopped after ", stopped.step, run.steps_per_epoch)));
  CHECK(!fs::exists(saved));

  // The run directory holds every step done, marked interrupted, and the commands say so.
  CHECK(run.status == "interrupted " + where);
  CHECK(static_cast<int64_t>(run.steps.size()) == stopped.epoch * run.steps_per_epoch + stopped.step);
  REQUIRE(test::run_convkit("diagnose " + run_dir, output) == 0);
  CHECK(contains(output, "; interrupted " + where + "\n"));
  REQUIRE(test::run_convkit("plot " + run_dir, output) == 0);
  CHECK(contains(output, "Run status: interrupted " + where + " (the curves end where the record does)\n"));

  // The resumed run ends bit-identical to the uninterrupted one, and finishes the record.
  REQUIRE(test::run_convkit("train --resume " + ckpt + " --threads 2", output) == 0);
  CHECK(test::same_tensors(full, saved));
  const RunRecord resumed = read_run_dir(run_dir);
  CHECK(resumed.status == "finished");
  CHECK(static_cast<int64_t>(resumed.steps.size()) == 2 * resumed.steps_per_epoch);
}

TEST_CASE("train: Ctrl-C without --checkpoint-dir says the run cannot be resumed") {
  const test::TempDir temp;
  const std::string saved = temp / "int.safetensors", out = temp / "out.txt", err = temp / "err.txt";
  const pid_t pid = test::spawn_convkit(with({"--save", saved}), out, err);
  const int code = interrupt_when(pid, [&] { return contains(read_text(out), "Epoch 1/2"); });
  const std::string errors = read_text(err);
  INFO(errors);
  CHECK(code == 130);
  CHECK(contains(errors, "convkit: interrupted: training stopped "));
  CHECK(contains(errors, "\n  the run cannot be resumed: it wrote no checkpoints (--checkpoint-dir)\n  --save " + saved +
                             " was not written: the model is only partly trained\n"));
  CHECK(!fs::exists(saved));
}

TEST_CASE("repro: Ctrl-C during a training stops the experiment and removes its temporary folder") {
  const test::TempDir temp;
  const std::string out = temp / "out.txt", err = temp / "err.txt";
  const pid_t pid = test::spawn_convkit({"repro", "class-weights", "--quick"}, out, err);
  // The experiment exports its images into a work folder named after the
  // process, says so, then trains (seconds).
  const fs::path work = fs::temp_directory_path() / fmt::format("convkit-repro-class-weights-{}", pid);
  const int code = interrupt_when(pid, [&] {
    return contains(read_text(out), "Real data: Fashion-MNIST exported") && fs::exists(work);
  });
  const std::string errors = read_text(err);
  INFO(read_text(out), errors);
  CHECK(code == 130);
  CHECK(contains(errors, "convkit: interrupted: repro class-weights: training stopped at epoch 1, step "));
  CHECK(!fs::exists(work));
}

namespace {

// The newest checkpoint's file name in `dir`, or "" before there is one.
std::string newest_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  const std::optional<std::string> latest = latest_checkpoint(dir);
  return latest ? fs::path(*latest).filename().string() : "";
}

}  // namespace

TEST_CASE("train: SIGTERM is named as such, exits 143, and checkpoints like Ctrl-C") {
  const test::TempDir temp;
  const std::string run_dir = temp / "run", ckpt = temp / "ckpt";
  const std::string out = temp / "out.txt", err = temp / "err.txt";
  const pid_t pid = test::spawn_convkit(
      with({"--run-dir", run_dir, "--checkpoint-dir", ckpt, "--checkpoint-every", "5"}), out, err);
  // After the first checkpoint of the first epoch: 89 of its 94 steps are still to run.
  const int code = test::signal_when(pid, SIGTERM, [&] {
    return newest_checkpoint(ckpt).starts_with("ckpt-e0000-s");
  });
  const std::string errors = read_text(err);
  INFO(read_text(out), errors);
  CHECK(code == 143);
  CHECK(contains(errors, "\nconvkit: terminated (SIGTERM): stopping at the next safe point (a second signal "
                         "quits at once)\n"));
  CHECK(!contains(errors, "Ctrl-C"));

  const std::optional<std::string> latest = latest_checkpoint(ckpt);
  REQUIRE(latest);
  const TrainPosition stopped = read_checkpoint(*latest).position;
  REQUIRE(stopped.epoch == 0);
  REQUIRE(stopped.step > 0);
  const RunRecord run = read_run_dir(run_dir);
  const std::string where = describe_position(stopped, run.steps_per_epoch);
  CHECK(contains(errors, "convkit: terminated (SIGTERM): training stopped " + where + "\n  the run is recorded in " +
                             run_dir + " (marked terminated)\n  checkpoint: " + *latest +
                             "\n  resume with: convkit train --resume " + ckpt + " --threads 2\n"));
  CHECK(run.status == "terminated (SIGTERM) " + where);
  CHECK(static_cast<int64_t>(run.steps.size()) == stopped.step);

  // Stopped inside its first epoch: diagnose has too little to judge, and says where it stopped.
  std::string output;
  REQUIRE(test::run_convkit("diagnose " + run_dir, output) == 0);
  CHECK(contains(output, "warning [no-finished-epoch] too little to judge: no epoch finished (it was terminated "
                         "(SIGTERM) " + where + ")\n"));
  CHECK(!contains(output, "healthy"));
  // The gradient plot has only its per-step line, and its title says so.
  REQUIRE(test::run_convkit("plot " + run_dir, output) == 0);
  CHECK(contains(output, "(Gradient norm of all layers (per step; no epoch finished))\n"));

  REQUIRE(test::run_convkit("train --resume " + ckpt + " --threads 2", output) == 0);
  CHECK(read_run_dir(run_dir).status == "finished");
}
