// Article 001, "What is the TensorFlow error preventing identification?",
// example 2: a model said to be too shallow (shallow-model). Examples 1 and 3
// live in apps/repro_001_resize.cpp and apps/repro_001.cpp.
#include <fmt/format.h>

#include <cmath>

#include "apps/repro.h"
#include "core/format.h"

namespace ck {

void repro_shallow_model(ReproContext& ctx) {
  const int images = ctx.pick(16, 100), held_out = ctx.pick(16, 100), epochs = ctx.pick(6, 20);
  ctx.heading(
      fmt::format("As written: {} random 224x224x3 images in [0, 1), random labels 0..4", images));
  ctx.say(fmt::format(
      "The article trains Conv(16, 3x3, relu) -> MaxPool(2) -> Conv(32, 3x3, relu) -> Flatten -> "
      "Dense(5, softmax) with Adam, batch 32, for {} epochs{}, and says the model is \"too "
      "shallow\": \"the training accuracy will remain persistently low\". Its images and labels "
      "are independent random numbers: no model can identify anything in them, and any model "
      "with enough parameters can memorize them. {} more random images, never trained on, show "
      "what generalizes (chance is 20%).",
      epochs, ctx.quick() ? " (the article trains 100 images for 20; --quick cuts the budget)" : "",
      held_out));
  const std::string synthetic =
      fmt::format("synthetic:images={},shape=224x224x3,values=0-1,classes=5,test={},seed={}",
                  images, held_out, ctx.seed());
  ReproRun& r =
      ctx.train("shallow: as written", repro_options(ctx, synthetic, "shallow-model", epochs));
  ctx.table(epoch_table("Per epoch (as written)", {&r},
                        {"loss", "accuracy", "test_accuracy", "grad_norm"}));
  const double accuracy = r.last("accuracy"), test_accuracy = r.last("test_accuracy");
  ctx.number("as_written.accuracy", accuracy);
  ctx.number("as_written.first_accuracy", r.figure("accuracy", 0));
  ctx.number("as_written.test_accuracy", test_accuracy);
  // "Persistently low": not even half of the training images right.
  const bool stays_low = accuracy < 0.5;
  ctx.check("The article's claim: the shallow model's training accuracy remains persistently low",
            stays_low,
            fmt::format("training accuracy {:.3f} in epoch 1, {:.3f} after {} epochs; chance 0.200",
                        r.figure("accuracy", 0), accuracy, r.epochs()));
  const double chance_band = 0.2 + 3 * std::sqrt(0.2 * 0.8 / held_out);
  const bool at_chance = test_accuracy < chance_band;
  ctx.check("Held-out accuracy stays at chance: random labels leave nothing to identify", at_chance,
            fmt::format("held-out accuracy {:.3f}; chance 0.200, noise band up to {:.3f}",
                        test_accuracy, chance_band));

  ctx.heading("Real-data twin: a capacity sweep on Fashion-MNIST");
  const int64_t samples = ctx.pick<int64_t>(2000, 20000),
                test_samples = ctx.pick<int64_t>(1000, 10000);
  const int real_epochs = ctx.pick(2, 5);
  ctx.say(fmt::format(
      "Three models of growing capacity, same data ({} training images, {} test), preprocessing "
      "(/ 255), Adam and budget ({} epochs): a dense layer alone (no convolution), the article's "
      "shallow CNN, and the article's own 'properly sized' CNN of example 3, each ending in "
      "Dense(10, softmax) for Fashion-MNIST's 28x28x1 images.",
      samples, test_samples, real_epochs));
  struct Candidate {
    const char* label;
    const char* model;
    const ReproRun* run = nullptr;
  };
  std::vector<Candidate> sweep = {
      {"dense: no convolution", "flatten dense(10,softmax)"},
      {"shallow: the article's ex. 2",
       "conv2d(16,3,relu) maxpool(2) conv2d(32,3,relu) flatten dense(10,softmax)"},
      {"deeper: the article's ex. 3",
       "conv2d(32,3,relu) maxpool(2) conv2d(64,3,relu) maxpool(2) conv2d(128,3,relu) flatten "
       "dense(128,relu) dense(10,softmax)"}};
  Table t;
  t.title = fmt::format("Capacity sweep, {} Fashion-MNIST images, {} epochs", samples, real_epochs);
  t.columns = {"model", "params", "train accuracy", "test accuracy", "train - test", "diagnosis"};
  for (Candidate& c : sweep) {
    TrainOptions o = repro_options(ctx, "fashion-mnist", c.model, real_epochs);
    o.data.limit = samples;
    o.data.test_limit = test_samples;
    c.run = &ctx.train(c.label, o);
    const std::string who = std::string(c.label).substr(0, std::string(c.label).find(':'));
    const double train_accuracy = c.run->last("accuracy"), test = c.run->last("test_accuracy");
    t.rows.push_back({c.label, with_commas(c.run->run->model.param_count()),
                      fmt::format("{:.3f}", train_accuracy), fmt::format("{:.3f}", test),
                      fmt::format("{:+.3f}", train_accuracy - test), c.run->diagnosis()});
    ctx.number(fmt::format("real.{}.accuracy", who), train_accuracy);
    ctx.number(fmt::format("real.{}.test_accuracy", who), test);
  }
  ctx.table(t);
  ctx.table(epoch_table("Test accuracy per epoch", {sweep[0].run, sweep[1].run, sweep[2].run},
                        {"test_accuracy"}));
  const double dense = sweep[0].run->last("test_accuracy"),
               shallow = sweep[1].run->last("test_accuracy"),
               deeper = sweep[2].run->last("test_accuracy");
  const double noise = accuracy_noise(test_samples);
  const bool convolution_helps = shallow - dense > noise;
  ctx.check("On real images the shallow CNN beats a model without convolutions", convolution_helps,
            fmt::format("test accuracy {:.3f} shallow vs {:.3f} dense-only ({:+.1f} points; noise "
                        "about {:.1f})",
                        shallow, dense, 100 * (shallow - dense), 100 * noise));
  const bool depth_helps = deeper - shallow > noise;
  ctx.check("The deeper CNN beats the article's shallow CNN", depth_helps,
            fmt::format("test accuracy {:.3f} deeper vs {:.3f} shallow ({:+.1f} points)", deeper,
                        shallow, 100 * (deeper - shallow)));
  auto underfits = [](const ReproRun* run) {
    return std::any_of(run->findings.begin(), run->findings.end(), [](const Finding& f) {
      return f.id == "underfitting" && f.severity != Severity::note;
    });
  };
  const bool shallow_fits = !underfits(sweep[1].run);
  ctx.check("diagnose finds no capacity problem in the article's shallow CNN", shallow_fits,
            fmt::format("diagnosis {}; training accuracy {:.3f}", sweep[1].run->diagnosis(),
                        sweep[1].run->last("accuracy")));

  std::string v =
      stays_low
          ? fmt::format(
                "As written, training accuracy did stay low ({:.0f}% after {} epochs), as the "
                "article says; but with random labels that says nothing about depth. ",
                100 * accuracy, r.epochs())
          : fmt::format(
                "As written, the article's claim is wrong for its own code: the 'too shallow' "
                "model memorizes the random training images, from {:.0f}% to {:.0f}% training "
                "accuracy in {} epochs, while held-out accuracy stays at {:.0f}% (chance 20%){}. "
                "With {} parameters for {} images, depth is not what it lacks; there is "
                "nothing to identify. ",
                100 * r.figure("accuracy", 0), 100 * accuracy, r.epochs(), 100 * test_accuracy,
                at_chance ? "" : " (above the chance band, by luck of the draw)",
                with_commas(r.run->model.param_count()), images);
  const double peak = r.peak("loss");
  // Each finding diagnose names, explained with its own numbers.
  std::vector<std::string> readings;
  const std::string spike =
      peak > 4 * std::log(5.0)
          ? fmt::format(
                "Adam's default rate on a Dense layer of {} inputs drives an epoch's loss "
                "to {} before the model settles",
                with_commas(first_dense_inputs(r.run->model)), metric_text(peak))
          : std::string();
  for (const Finding& f : r.findings) {
    if (f.severity == Severity::note) continue;
    if (f.id == "overfitting")
      readings.push_back(
          fmt::format("overfitting is what memorizing random labels is ({:.0f}% "
                      "training vs {:.0f}% held-out accuracy)",
                      100 * accuracy, 100 * test_accuracy));
    else if (f.id == "dead-relu")
      readings.push_back(
          fmt::format("{:.0f}% of a layer's ReLU units end dead{}, a real flaw of "
                      "the article's code, but not one of depth",
                      100 * f.value("dead_fraction"),
                      spike.empty() ? "" : " after the first epochs' spike: " + spike));
    else if (f.id == "lr-too-high" && !spike.empty())
      readings.push_back(spike + ", a real flaw of the article's code, but not one of depth");
  }
  if (r.diagnosis() != "healthy")
    v += fmt::format("diagnose reads the run as {}{}{}. ", r.diagnosis(),
                     readings.empty() ? "" : ": ", fmt::join(readings, "; "));
  v += convolution_helps
           ? fmt::format(
                 "On Fashion-MNIST, capacity shows where it matters: the article's shallow CNN "
                 "reaches {:.1f}% test accuracy against {:.1f}% for a dense layer alone, ",
                 100 * shallow, 100 * dense)
           : fmt::format(
                 "On Fashion-MNIST the shallow CNN does NOT beat a dense layer alone at this "
                 "budget ({:.1f}% vs {:.1f}%), ",
                 100 * shallow, 100 * dense);
  v += depth_helps ? fmt::format("and the deeper CNN adds {:.1f} points more ({:.1f}%). ",
                                 100 * (deeper - shallow), 100 * deeper)
                   : fmt::format(
                         "and the deeper CNN adds nothing beyond noise ({:.1f}%): the "
                         "'too shallow' model is deep enough for 28x28 clothes. ",
                         100 * deeper);
  const double dense_loss = sweep[0].run->last("loss");
  v += shallow_fits
           ? fmt::format(
                 "diagnose agrees: the shallow CNN reads {}, not underfitting; "
                 "the dense-only model reads {}{}.",
                 sweep[1].run->diagnosis(), sweep[0].run->diagnosis(),
                 underfits(sweep[0].run)
                     ? std::string()
                     : fmt::format(" (its training loss {} is under half of ln 10: a "
                                   "weaker model, not an underfitting one by "
                                   "diagnose's rule)",
                                   metric_text(dense_loss)))
           : fmt::format("diagnose reads the shallow CNN as {} (the dense-only model as {}).",
                         sweep[1].run->diagnosis(), sweep[0].run->diagnosis());
  ctx.verdict(v);
}

}  // namespace ck
