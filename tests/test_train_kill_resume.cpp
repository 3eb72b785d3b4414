// kill -9 during training, between a mid-epoch checkpoint and the next epoch
// end: a real SIGKILL to the convkit binary (no handler runs, nothing is
// written at the stop), then --resume. The resumed run's record must equal an
// uninterrupted run's, but for timing columns; and a record that lost its
// start marks the gap instead of renumbering.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "apps/checkpoint.h"
#include "apps/run_record.h"
#include "helpers.h"
#include "process_helpers.h"

using namespace ck;
namespace fs = std::filesystem;

namespace {

// 94 steps an epoch (batch 32), a checkpoint every 5.
const std::vector<std::string> kResumableRun = {"train",  "--model",
                                                "lenet5", "--limit",
                                                "3000",   "--test-limit",
                                                "100",    "--threads",
                                                "2",      "--checkpoint-every",
                                                "5"};

std::string args(const std::vector<std::string>& extra) {
  std::string s = fmt::format("{}", fmt::join(kResumableRun, " "));
  for (const std::string& a : extra) s += " " + a;
  return s;
}

// The newest checkpoint's position in `dir`, or nothing before there is one.
std::optional<TrainPosition> newest(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  const std::optional<std::string> latest = latest_checkpoint(dir);
  if (!latest) return std::nullopt;
  const std::string name = fs::path(*latest).filename().string();
  // ckpt-e<epoch>-s<step>.safetensors: the name says where, without reading a
  // file the writer may be replacing.
  TrainPosition position;
  position.epoch = std::stoi(name.substr(6, 4));
  position.step = std::stoll(name.substr(12, 7));
  return position;
}

// SIGKILLs `args` once it has written a checkpoint inside epoch `epoch`
// (0-based), with most of that epoch still to run; returns where it was.
TrainPosition kill_inside_epoch(const std::vector<std::string>& args, const std::string& ckpt, int epoch,
                                const test::TempDir& temp) {
  const pid_t pid = test::spawn_convkit(args, temp / "out.txt", temp / "err.txt");
  const int code = test::signal_when(pid, SIGKILL, [&] {
    const std::optional<TrainPosition> p = newest(ckpt);
    return p && p->epoch == epoch && p->step > 0;
  });
  INFO(test::read_text(temp / "out.txt"), test::read_text(temp / "err.txt"));
  REQUIRE(code == -SIGKILL);
  const std::optional<TrainPosition> p = newest(ckpt);
  REQUIRE(p);
  return *p;
}

// The epoch figures but for the seconds each epoch took.
std::string epochs_without_seconds(const std::string& dir) {
  RunRecord run = read_run_dir(dir);
  std::string s;
  for (const EpochRecord& e : run.epochs)
    s += fmt::format("{} {} {} {} {} {} {} {} {} {}\n", e.epoch, e.loss, e.accuracy.value_or(-1), e.test_loss.value_or(-1),
                     e.test_accuracy.value_or(-1), e.learning_rate, e.capped, e.samples, e.probe_loss,
                     e.probe_accuracy.value_or(-1));
  return s;
}

// run.json but for the options (checkpoint folder, --resume) and the status.
nlohmann::json record_json(const std::string& dir) {
  nlohmann::json j = run_json(read_run_dir(dir));
  j.erase("config");
  j.erase("status");
  return j;
}

}  // namespace

TEST_CASE("train: a run killed after mid-epoch checkpoints resumes with the record of an uninterrupted run") {
  const test::TempDir temp;
  const std::string full_run = temp / "full-run", full_ckpt = temp / "full-ckpt";
  const std::string run_dir = temp / "run", ckpt = temp / "ckpt";
  std::string output;
  REQUIRE(test::run_convkit(args({"--epochs", "2", "--run-dir", full_run, "--checkpoint-dir", full_ckpt}), output) ==
          0);

  std::vector<std::string> killed = kResumableRun;
  killed.insert(killed.end(), {"--epochs", "2", "--run-dir", run_dir, "--checkpoint-dir", ckpt});
  // Killed inside the first epoch: no epoch end has written the record, so
  // only the writes before each checkpoint cover it.
  const TrainPosition first = kill_inside_epoch(killed, ckpt, 0, temp);
  CHECK(first.epoch == 0);
  const RunRecord at_kill = read_run_dir(run_dir);
  CHECK(at_kill.status == "running");  // nothing ran at the kill
  CHECK(static_cast<int64_t>(at_kill.steps.size()) >= first.step);
  CHECK(at_kill.initial_loss == read_run_dir(full_run).initial_loss);

  // Resumed, then killed again inside the second epoch.
  const TrainPosition second =
      kill_inside_epoch({"train", "--resume", ckpt, "--threads", "2"}, ckpt, 1, temp);
  CHECK(second.epoch == 1);
  REQUIRE(test::run_convkit("train --resume " + ckpt + " --threads 2", output) == 0);

  // Every step once, numbered by its place in the run, with the same figures.
  const std::string steps = test::read_text(full_run + "/steps.csv");
  CHECK(std::count(steps.begin(), steps.end(), '\n') == 1 + 2 * 94);
  CHECK(test::read_text(run_dir + "/steps.csv") == steps);
  const RunRecord resumed = read_run_dir(run_dir), full = read_run_dir(full_run);
  CHECK(resumed.status == "finished");
  CHECK(resumed.initial_loss == full.initial_loss);
  CHECK(resumed.steps.front().loss == full.initial_loss);
  // Layer health (per-layer gradient means over whole epochs, the probe),
  // input statistics, events, confusion and samples: the same too.
  CHECK(test::read_text(run_dir + "/layers.csv") == test::read_text(full_run + "/layers.csv"));
  CHECK(epochs_without_seconds(run_dir) == epochs_without_seconds(full_run));
  CHECK(record_json(run_dir).dump(1) == record_json(full_run).dump(1));
  CHECK(test::same_tensors(run_dir + "/model.safetensors", full_run + "/model.safetensors"));
  // A kill during a write leaves its temporary file: the resumed run cleared any.
  CHECK(run_files_in_writing(run_dir).empty());
}

TEST_CASE("train: a resumed run whose record was lost marks the missing steps as a gap") {
  const test::TempDir temp;
  const std::string run_dir = temp / "run", ckpt = temp / "ckpt";
  std::string output;
  REQUIRE(test::run_convkit(args({"--epochs", "1", "--run-dir", run_dir, "--checkpoint-dir", ckpt}), output) == 0);
  fs::remove_all(run_dir);
  REQUIRE(test::run_convkit("train --resume " + ckpt + " --epochs 2 --threads 2", output) == 0);

  // The second epoch's steps keep their iteration numbers (95..188), and the
  // first epoch's absence is an event, with no initial loss to show.
  const std::string steps = test::read_text(run_dir + "/steps.csv");
  CHECK(test::contains(steps, "\n2,1,95,"));
  CHECK(!test::contains(steps, "\n1,"));
  const RunRecord run = read_run_dir(run_dir);
  CHECK(run.steps.size() == 94);
  CHECK(std::isnan(run.initial_loss));
  REQUIRE(run.events.size() == 1);
  CHECK(run.events[0].kind == "gap");
  const std::string gap = "iterations 1-94 (epoch 1, step 1 to epoch 1, step 94) are not recorded: the run was "
                          "resumed from a checkpoint past the end of its record";
  CHECK(run.events[0].message == gap);
  // The first epoch's data figures are measured again (the loader replays it).
  CHECK(run.input_stats.samples == 3000);

  REQUIRE(test::run_convkit("diagnose " + run_dir, output) == 0);
  CHECK(test::contains(output, "note [record-gap] the record has a gap: " + gap + "\n"));
  REQUIRE(test::run_convkit("plot " + run_dir, output) == 0);
  CHECK(test::contains(output, "Record gap: " + gap + " (the curves break there, marked where the record resumes)\n"));
}
