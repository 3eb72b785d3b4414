// Article 001, "What is the TensorFlow error preventing identification?":
// the learning rate of 10 (learning-rate-10). The article's other two
// examples (resize-220, shallow-model) live in apps/repro_001_resize.cpp and
// apps/repro_001_shallow.cpp.
#include <fmt/format.h>

#include <cmath>

#include "apps/finding.h"
#include "apps/lr_find.h"
#include "apps/repro.h"
#include "core/format.h"

namespace ck {

namespace {

// ": diagnose finds 99% of a layer's ReLU units dead (...)" when it names dead-relu.
std::string dead_relu_reading(const ReproRun& run) {
  for (const Finding& f : run.findings)
    if (f.id == "dead-relu" && f.severity != Severity::note)
      for (const Evidence& e : f.evidence)
        if (e.name == "dead_fraction")
          return fmt::format(
              ": diagnose finds {:.0f}% of a layer's ReLU units dead ({}), so the "
              "early spike left the model too few live units to learn with",
              100 * e.value, e.shown);
  return "";
}

}  // namespace

void repro_learning_rate_10(ReproContext& ctx) {
  const int images = ctx.pick(16, 100);
  const int epochs = ctx.pick(3, 20);
  ctx.heading(
      fmt::format("As written: {} random 224x224x3 images in [0, 1), random labels 0..4", images));
  ctx.say(fmt::format(
      "The article's 'properly sized' model, Conv32-Pool-Conv64-Pool-Conv128 (3x3, relu) -> "
      "Flatten -> Dense(128, relu) -> Dense(5, softmax), is trained with Adam at lr = 10 and, as "
      "the fix, at the default 1e-3: batch 32, {} epochs{}. Labels are random: the best any "
      "model can do is memorize the training images (chance is 20%).",
      epochs,
      ctx.quick() ? " (the article trains 100 images for 20; --quick cuts the budget)" : ""));
  const std::string synthetic = fmt::format(
      "synthetic:images={},shape=224x224x3,values=0-1,classes=5,seed={}", images, ctx.seed());
  TrainOptions high = repro_options(ctx, synthetic, "learning-rate-10", epochs);
  high.lr = 10;
  TrainOptions fixed = high;
  fixed.lr = 0.001f;
  ReproRun& b = ctx.train("lr 10: as written", high);
  ReproRun& f = ctx.train("lr 1e-3: the article's fix", fixed);
  ctx.table(
      epoch_table("Per epoch (as written)", {&b, &f}, {"loss", "accuracy", "capped", "grad_norm"}));
  ctx.number("as_written.lr10.accuracy", b.last("accuracy"));
  ctx.number("as_written.lr1e-3.accuracy", f.last("accuracy"));
  ctx.number("as_written.lr10.loss", b.last("loss"));
  ctx.number("as_written.lr1e-3.loss", f.last("loss"));
  const double ln5 = std::log(5.0);
  // Diverged: at some epoch the loss left the scale of a guess (an untrained
  // model scores ln 5); never learned: it ends no better than a uniform guess.
  const double peak_loss = b.peak("loss");
  const bool diverged = !std::isfinite(peak_loss) || peak_loss > 10 * ln5;
  const bool never_learns = !std::isfinite(b.last("loss")) || b.last("loss") > ln5;
  const bool high_fails = ctx.check(
      "At lr = 10 the training diverges and ends no better than chance",
      diverged && never_learns && b.last("accuracy") < 0.4,
      fmt::format("peak epoch loss {}, last-epoch loss {} (ln 5 = {:.3f}; {:.0f}% of samples past "
                  "Keras's 16.12 cap), accuracy {:.3f}; chance 0.200",
                  metric_text(peak_loss), metric_text(b.last("loss")), ln5, 100 * b.last("capped"),
                  b.last("accuracy")));
  const bool low_falls =
      ctx.check("At lr = 1e-3 the loss falls clearly below an untrained model's ln 5",
                f.last("loss") < 0.9 * std::min(f.initial_loss(), ln5),
                fmt::format("loss {} before the first update, {} in the last epoch (ln 5 = {:.3f}; "
                            "the bar is 10% below the lower of the two)",
                            metric_text(f.initial_loss()), metric_text(f.last("loss")), ln5));
  const bool memorizes = f.last("accuracy") >= 0.5;
  if (!ctx.quick())
    ctx.check(
        "At lr = 1e-3 the model fits (memorizes) the random training images", memorizes,
        fmt::format("training accuracy {:.3f} after {} epochs", f.last("accuracy"), f.epochs()));

  ctx.heading("Real-data twin: a learning-rate sweep on Fashion-MNIST, and an LR range test");
  const std::vector<float> rates =
      ctx.quick() ? std::vector<float>{1e-5f, 1e-3f, 1e-1f, 10.0f}
                  : std::vector<float>{1e-5f, 1e-4f, 1e-3f, 1e-2f, 1e-1f, 1.0f, 10.0f};
  TrainOptions sweep = repro_options(ctx, "fashion-mnist", "lenet5", ctx.pick(1, 3));
  sweep.data.limit = ctx.pick<int64_t>(2000, 20000);
  sweep.data.test_limit = ctx.pick<int64_t>(1000, 10000);
  Table t;
  t.title = fmt::format("Adam on lenet5, {} images, {} epoch{}", sweep.data.limit, sweep.epochs,
                        sweep.epochs == 1 ? "" : "s");
  t.columns = {"learning rate", "initial loss", "final loss",
               "test accuracy", "past cap",     "diagnosis"};
  double best_rate = 0, best_accuracy = -1, accuracy_1e3 = 0, accuracy_10 = 0;
  for (float rate : rates) {
    TrainOptions o = sweep;
    o.lr = rate;
    ReproRun& r = ctx.train(fmt::format("lr {:g}", rate), o);
    const double accuracy = r.last("test_accuracy");
    t.rows.push_back({fmt::format("{:g}", rate), metric_text(r.initial_loss()),
                      metric_text(r.last("loss")), fmt::format("{:.3f}", accuracy),
                      fmt::format("{:.0f}%", 100 * r.last("capped")), r.diagnosis()});
    if (accuracy > best_accuracy) best_accuracy = accuracy, best_rate = rate;
    if (rate == 1e-3f) accuracy_1e3 = accuracy;
    if (rate == 10.0f) accuracy_10 = accuracy;
    ctx.number(fmt::format("real.lr{:g}.test_accuracy", rate), accuracy);
  }
  ctx.table(t);

  // The LR range test on a fresh model, same data.
  TrainOptions probe = sweep;
  probe.epochs = 1;
  std::unique_ptr<TrainingRun> run = prepare_training(probe);
  LrFindOptions lo;
  lo.steps = ctx.pick(60, 100);
  LrFindResult found =
      find_learning_rate(run->model, *run->optimizer, *run->data->train, lo, ctx.seed());
  ctx.say(
      fmt::format("LR range test (Smith 2015): {} steps from 1e-7 up, loss smoothed; the "
                  "loss falls fastest at lr {:.2g}{}.",
                  found.learning_rates.size(), found.suggested(),
                  found.diverged ? " and diverges further up" : ""));
  ctx.preformatted(lr_find_chart(found));
  ctx.number("real.lr_find.suggested", found.suggested());
  ctx.number("real.best_rate", best_rate);

  const bool real_shows =
      ctx.check("On real data lr = 10 ends near chance while lr = 1e-3 learns",
                accuracy_10 < 0.2 && accuracy_1e3 > 0.6,
                fmt::format("test accuracy {:.3f} at lr 10 and {:.3f} at lr 1e-3 (chance 0.100)",
                            accuracy_10, accuracy_1e3));
  const bool sensible = found.suggested() >= 1e-4 && found.suggested() <= 3e-2;
  ctx.check("The LR range test recommends a workable rate (between 1e-4 and 3e-2)", sensible,
            fmt::format("suggested {:.2g}; the sweep's best was {:g} ({:.3f} test accuracy)",
                        found.suggested(), best_rate, best_accuracy));

  std::string v;
  if (high_fails && low_falls)
    v = fmt::format(
        "As written, the article's code does show its claim about the learning "
        "rate: at lr = 10 the loss reaches {} and {}, no better than a uniform "
        "guess (ln 5 = 1.61), with accuracy at {:.0f}% (chance 20%), while at 1e-3 "
        "the loss falls to {}",
        metric_text(peak_loss),
        std::isfinite(b.last("loss")) ? "ends at " + metric_text(b.last("loss"))
                                      : std::string("becomes NaN"),
        100 * b.last("accuracy"), metric_text(f.last("loss")));
  else
    v = fmt::format(
        "As written, this run does NOT show the claim cleanly: lr = 10 ends at loss "
        "{} and accuracy {:.0f}%, lr = 1e-3 at loss {} (accuracy {:.0f}%)",
        metric_text(b.last("loss")), 100 * b.last("accuracy"), metric_text(f.last("loss")),
        100 * f.last("accuracy"));
  const double peak = f.peak("loss");
  if (peak > 2 * f.initial_loss())
    v += fmt::format(
        "; even at 1e-3 the loss first rose to {}: the first Dense layer sees {} "
        "inputs and Adam moves every weight by about the learning rate at first, so "
        "the early steps add up to large logits",
        metric_text(peak), with_commas(first_dense_inputs(f.run->model)));
  v += ctx.quick() ? fmt::format(
                         " (at the --quick budget the fixed run has only begun: {:.0f}% "
                         "training accuracy). ",
                         100 * f.last("accuracy"))
       : memorizes ? fmt::format(
                         "; it reaches {:.0f}% training accuracy, but with "
                         "random labels that is memorization, not "
                         "identification. ",
                         100 * f.last("accuracy"))
                   : fmt::format("; it reaches only {:.0f}% training accuracy{}. ",
                                 100 * f.last("accuracy"), dead_relu_reading(f));
  v += real_shows ? fmt::format(
                        "On Fashion-MNIST the sweep shows the same thing on real data: lr = 10 "
                        "ends at {:.1f}% test accuracy, chance level, and the best rate is {:g} "
                        "({:.1f}%). ",
                        100 * accuracy_10, best_rate, 100 * best_accuracy)
                  : fmt::format(
                        "On Fashion-MNIST the sweep does NOT separate them as expected: {:.1f}% "
                        "at lr = 10, {:.1f}% at 1e-3. ",
                        100 * accuracy_10, 100 * accuracy_1e3);
  v += fmt::format("The LR range test, run once before training, suggests {:.2g}{}.",
                   found.suggested(), sensible ? "" : ", outside the range that trains well here");
  ctx.verdict(v);
}

}  // namespace ck
