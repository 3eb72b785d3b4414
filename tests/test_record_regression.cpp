// The record of a regression run (loss mean_squared_error): no accuracy is
// measured, so none is written, none is read back (older records wrote 0.0
// there), and the diagnosis cites the loss where a classifier's cites accuracy.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "apps/diagnose.h"
#include "apps/model_file.h"
#include "apps/run_plots.h"
#include "apps/run_record.h"
#include "cli_helpers.h"
#include "helpers.h"

using namespace ck;
using ck::test::contains;
using ck::test::convkit;
using ck::test::read_text;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream l(line);
    while (std::getline(l, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

// The column `name` of every data row of a CSV file's text.
std::vector<std::string> column(const std::string& text, const std::string& name) {
  const auto rows = csv_rows(text);
  REQUIRE(!rows.empty());
  size_t at = 0;
  while (at < rows[0].size() && rows[0][at] != name) ++at;
  REQUIRE_MESSAGE(at < rows[0].size(), name);
  std::vector<std::string> values;
  for (size_t r = 1; r < rows.size(); ++r) values.push_back(rows[r].at(at));
  return values;
}

// `text` with column `name` set to `value` in every data row.
std::string with_column(const std::string& text, const std::string& name, const std::string& value) {
  auto rows = csv_rows(text);
  size_t at = 0;
  while (at < rows[0].size() && rows[0][at] != name) ++at;
  REQUIRE(at < rows[0].size());
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r > 0) rows[r].at(at) = value;
    for (size_t c = 0; c < rows[r].size(); ++c) out += (c ? "," : "") + rows[r][c];
    out += "\n";
  }
  return out;
}

// A regression record built by hand: two dense layers, a flat loss (not
// converging), epoch-1 gradient norms g1 (first layer) and gL (last).
RunRecord regression_run(double g1, double gL) {
  RunRecord r;
  r.classes = 0;
  r.loss = "mean_squared_error";
  r.optimizer = "adam";
  r.steps_per_epoch = 10;
  r.epochs_planned = 2;
  r.initial_loss = 4;
  r.status = "finished";
  r.layers = {{"dense_1", "dense", "relu", {8}, 24}, {"dense_2", "dense", "linear", {1}, 9}};
  for (int i = 0; i < 20; ++i) {
    StepRecord s;
    s.epoch = i / 10, s.step = i % 10;
    s.loss = 4 - 0.01 * i;
    s.learning_rate = 0.001;
    s.grad_norm = 1;
    s.samples = 16;
    r.steps.push_back(s);
  }
  for (int e = 0; e < 2; ++e) {
    EpochRecord x;
    x.epoch = e;
    x.loss = 3.9;
    x.val_loss = 4.1;
    x.samples = 160;
    LayerHealth first, last;
    first.grad_norm = g1, last.grad_norm = gL;
    first.param_norm = last.param_norm = 1;
    x.layers = {first, last};
    r.epochs.push_back(x);
  }
  return r;
}

void check_cites_no_accuracy(const Finding& f) {
  CAPTURE(f.id);
  for (const Evidence& e : f.evidence) {
    CAPTURE(e.shown);
    CHECK(!contains(e.name, "accuracy"));
    CHECK(!contains(e.shown, "accuracy"));
  }
  CHECK(!contains(f.threshold, "accuracy"));
  CHECK(!contains(f.title, "accuracy"));
  CHECK(f.value("final_loss") == doctest::Approx(3.9));
}

}  // namespace

TEST_CASE("a regression run records no accuracy: empty in the files, absent when read back") {
  const test::TempDir temp;
  std::string csv = "x1,x2,y\n";
  for (int i = 0; i < 64; ++i)
    csv += std::to_string(i % 8) + "," + std::to_string(i % 5) + "," + std::to_string(2 * (i % 8) - (i % 5)) + "\n";
  write(temp / "r.csv", csv);
  const std::string dir = temp / "run";
  const test::Run train = convkit("train --data " + (temp / "r.csv") +
                                  " --label-column y --regression --model 'dense(8,relu) dense(1)' --epochs 2 "
                                  "--batch 16 --validation-split 0.25 --run-dir " + dir +
                                  " --save " + (temp / "r.safetensors"));
  CAPTURE(train.err);
  REQUIRE(train.code == 0);

  const std::string epochs = read_text(dir + "/epochs.csv"), steps = read_text(dir + "/steps.csv");
  // The header stays the same for every run: only the values are left out.
  CHECK(epochs.rfind("epoch,loss,accuracy,val_loss,val_accuracy,", 0) == 0);
  for (const char* name : {"accuracy", "val_accuracy", "test_accuracy", "probe_accuracy"})
    CHECK(column(epochs, name) == std::vector<std::string>{"", ""});
  CHECK(column(epochs, "val_loss").at(1) != "");
  // 48 training rows, batch 16: 3 steps in each of 2 epochs.
  CHECK(column(steps, "accuracy") == std::vector<std::string>(6, ""));
  CHECK(column(steps, "loss").at(0) != "");

  RunRecord run = read_run_dir(dir);
  CHECK(run.classes == 0);
  REQUIRE(run.epochs.size() == 2);
  CHECK(run.epochs[1].val_loss.has_value());
  for (const EpochRecord& e : run.epochs)
    CHECK((!e.accuracy && !e.val_accuracy && !e.test_accuracy && !e.probe_accuracy));
  for (const StepRecord& s : run.steps) CHECK(!s.accuracy);

  // The model file's training history: the loss, no accuracy.
  const nlohmann::json history = load_model(temp / "r.safetensors").info.training.at("epochs");
  REQUIRE(history.size() == 2);
  for (const nlohmann::json& e : history) {
    CHECK(e.contains("loss"));
    CHECK(e.contains("val_loss"));
    CHECK(!e.contains("accuracy"));
    CHECK(!e.contains("val_accuracy"));
  }

  const test::Run diagnosis = convkit("diagnose " + dir);
  REQUIRE(diagnosis.code == 0);
  CHECK(contains(diagnosis.out, "last epoch: loss "));
  CHECK(!contains(diagnosis.out, "accuracy"));

  // A record written before regression runs left accuracy out holds 0 there:
  // it reads back as no accuracy, and is written again without one.
  write(dir + "/epochs.csv", with_column(with_column(with_column(epochs, "accuracy", "0"), "val_accuracy", "0"),
                                         "probe_accuracy", "0"));
  write(dir + "/steps.csv", with_column(steps, "accuracy", "0"));
  const RunRecord old = read_run_dir(dir);
  REQUIRE(old.epochs.size() == 2);
  CHECK(!old.epochs[1].accuracy);
  CHECK(!old.epochs[1].val_accuracy);
  CHECK(!old.steps[0].accuracy);
  const std::string again = temp / "again";
  std::filesystem::create_directories(again);
  write_run_files(again, old);
  CHECK(read_text(again + "/epochs.csv") == epochs);
  CHECK(read_text(again + "/steps.csv") == steps);
}

TEST_CASE("diagnose cites the loss, not an accuracy, for a regression run's gradient findings") {
  const std::vector<Finding> exploding = diagnose(regression_run(100, 1));
  const Finding* e = find_finding(exploding, "exploding-gradients");
  REQUIRE(e);
  check_cites_no_accuracy(*e);
  CHECK(contains(e->threshold, "loss"));

  const std::vector<Finding> vanishing = diagnose(regression_run(1e-6, 1));
  const Finding* v = find_finding(vanishing, "vanishing-gradients");
  REQUIRE(v);
  check_cites_no_accuracy(*v);
  CHECK(std::isnan(v->value("final_accuracy")));

  // Overfitting is judged on the validation loss alone.
  RunRecord rising = regression_run(1, 1);
  for (int e = 2; e < 5; ++e) {
    EpochRecord x = rising.epochs.back();
    x.epoch = e;
    x.loss = 3.9 - 0.2 * e;
    x.val_loss = 4.1 + 0.5 * e;
    rising.epochs.push_back(x);
  }
  const std::vector<Finding> overfitting = diagnose(rising);
  const Finding* o = find_finding(overfitting, "overfitting");
  REQUIRE(o);
  CHECK(!contains(o->title, "accuracy"));
  CHECK(!contains(o->threshold, "accuracy"));
  CHECK(std::isnan(o->value("accuracy_gap")));
  CHECK(o->value("generalization_loss") == doctest::Approx(6.1 / 4.1 - 1));
}

TEST_CASE("the plots of a regression run draw no accuracy") {
  const std::vector<NamedPlot> plots = run_plots(regression_run(1, 1));
  REQUIRE(!plots.empty());
  for (const NamedPlot& p : plots) CHECK(p.name != "accuracy");
  CHECK(plots.front().name == "loss");
  CHECK(plots.front().plot.series.size() == 3);  // per step, per epoch, validation
}
