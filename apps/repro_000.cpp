// Article 000, "What is the error in the TensorFlow tutorial?": raw 0..255
// pixels against pixels / 255 (raw-pixels). The pretrained-preprocessing
// experiment of the same article lives in apps/repro_000_pretrained.cpp.
#include <fmt/format.h>

#include <cmath>

#include "apps/repro.h"
#include "core/format.h"

namespace ck {

void repro_raw_pixels(ReproContext& ctx) {
  ctx.heading("As written: 100 random RGB 32x32 images, values 0..255, random labels 0..9");
  ctx.say(
      "The article trains Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(10, "
      "softmax) with Adam and sparse categorical cross-entropy for 5 epochs, batch 32, first on "
      "the raw values, then on images / 255. Its images and labels are independent random "
      "numbers, so there is nothing to learn, only 100 images to memorize; a held-out set of "
      "500 more random images shows what generalizes (chance is 10%).");
  const std::string synthetic = fmt::format(
      "synthetic:images=100,shape=32x32x3,values=0-255,classes=10,test=500,seed={}", ctx.seed());
  TrainOptions raw = repro_options(ctx, synthetic, "raw-pixels", 5);
  raw.data.scale = "none";
  TrainOptions scaled = raw;
  scaled.data.scale = "1/255";
  ReproRun& b = ctx.train("raw: 0..255", raw);
  ReproRun& f = ctx.train("scaled: / 255", scaled);
  ctx.table(epoch_table("Per epoch (as written)", {&b, &f},
                        {"loss", "accuracy", "test_accuracy", "grad_norm"}));

  const double ln10 = std::log(10.0);
  ctx.number("as_written.raw.initial_loss", b.figure("loss", 0));
  ctx.number("as_written.scaled.initial_loss", f.figure("loss", 0));
  ctx.number("as_written.raw.accuracy", b.last("accuracy"));
  ctx.number("as_written.scaled.accuracy", f.last("accuracy"));
  ctx.number("as_written.raw.test_accuracy", b.last("test_accuracy"));
  ctx.number("as_written.scaled.test_accuracy", f.last("test_accuracy"));
  ctx.check("Raw 0..255 inputs start far from an untrained model's loss (ln 10)",
            b.figure("loss", 0) > 2 * ln10 && f.figure("loss", 0) < 2 * ln10,
            fmt::format("first-epoch loss {} raw vs {} scaled; ln 10 = {:.3f}",
                        metric_text(b.figure("loss", 0)), metric_text(f.figure("loss", 0)), ln10));
  const double chance_band = 0.1 + 3 * std::sqrt(0.1 * 0.9 / 500);  // 3 sigma above chance
  const bool nothing_generalizes = b.last("test_accuracy") < chance_band &&
                                   f.last("test_accuracy") < chance_band;
  ctx.check("With random labels neither run learns anything that generalizes",
            nothing_generalizes,
            fmt::format("held-out accuracy {:.3f} raw and {:.3f} scaled; chance 0.100, noise band "
                        "up to {:.3f}",
                        b.last("test_accuracy"), f.last("test_accuracy"), chance_band));

  ctx.heading("Real-data twin: Fashion-MNIST, raw 0..255 vs / 255, same model and budget");
  const int64_t samples = ctx.pick<int64_t>(2000, 20000);
  const int epochs = ctx.pick(2, 5);
  TrainOptions raw_real = repro_options(ctx, "fashion-mnist", "raw-pixels", epochs);
  raw_real.data.limit = samples;
  raw_real.data.test_limit = ctx.pick<int64_t>(1000, 10000);
  raw_real.data.scale = "none";
  TrainOptions scaled_real = raw_real;
  scaled_real.data.scale = "1/255";
  ReproRun& rb = ctx.train("raw: 0..255", raw_real);
  ReproRun& rf = ctx.train("scaled: / 255", scaled_real);
  ctx.table(epoch_table("Per epoch (Fashion-MNIST)", {&rb, &rf},
                        {"loss", "test_loss", "test_accuracy", "grad_norm"}));
  const double gap = rf.last("test_accuracy") - rb.last("test_accuracy");
  ctx.number("real.raw.test_accuracy", rb.last("test_accuracy"));
  ctx.number("real.scaled.test_accuracy", rf.last("test_accuracy"));
  ctx.number("real.raw.test_loss", rb.last("test_loss"));
  ctx.number("real.scaled.test_loss", rf.last("test_loss"));
  ctx.number("real.gap", gap);
  // Raw inputs make logits (and so confidence) grow with the pixel values:
  // the loss shows it even where accuracy does not.
  const bool calibrated = rf.last("test_loss") < 0.75 * rb.last("test_loss");
  ctx.check("Scaled inputs give a lower test loss (less overconfident predictions)", calibrated,
            fmt::format("test loss {} scaled vs {} raw", metric_text(rf.last("test_loss")),
                        metric_text(rb.last("test_loss"))));
  const bool scaling_helps = gap > 0.01;
  ctx.check("Scaled inputs give a higher test accuracy", scaling_helps,
            fmt::format("test accuracy {:.3f} scaled vs {:.3f} raw ({:+.1f} points) after {} "
                        "epochs on {} images",
                        rf.last("test_accuracy"), rb.last("test_accuracy"), 100 * gap, epochs,
                        samples));

  std::string v = fmt::format(
      "As written, the experiment cannot show its claim: with random labels the held-out "
      "accuracy stays at chance for both runs ({:.1f}% raw, {:.1f}% scaled), and the only "
      "difference is how fast 100 images are memorized ({:.0f}% vs {:.0f}% training accuracy "
      "after 5 epochs). What raw pixels do change is the scale of everything: the first-epoch "
      "loss is {} instead of about ln 10 = 2.30, because logits grow with the inputs. ",
      100 * b.last("test_accuracy"), 100 * f.last("test_accuracy"), 100 * b.last("accuracy"),
      100 * f.last("accuracy"), metric_text(b.figure("loss", 0)));
  if (scaling_helps)
    v += fmt::format("On real images the claim holds: the same network and budget reach "
                     "{:.1f}% test accuracy with pixels / 255 and {:.1f}% on raw 0..255 values, "
                     "{:.1f} points lower, and the raw model's test loss is {} against {}. ",
                     100 * rf.last("test_accuracy"), 100 * rb.last("test_accuracy"), 100 * gap,
                     metric_text(rb.last("test_loss")), metric_text(rf.last("test_loss")));
  else
    v += fmt::format("On real images, at this budget, accuracy does NOT show the claimed "
                     "degradation ({:.1f}% scaled vs {:.1f}% raw, {:+.1f} points): Adam adapts "
                     "each weight's step size, which absorbs much of an input-scale problem. ",
                     100 * rf.last("test_accuracy"), 100 * rb.last("test_accuracy"), 100 * gap);
  v += calibrated ? fmt::format("The clearer damage is to the loss: the raw model is "
                                "overconfident (test loss {} vs {}), because its logits scale "
                                "with the 0..255 inputs. Scale inputs to a small range.",
                                metric_text(rb.last("test_loss")), metric_text(rf.last("test_loss")))
                  : fmt::format("Even the test loss is no worse raw ({} vs {} scaled).",
                                metric_text(rb.last("test_loss")), metric_text(rf.last("test_loss")));
  ctx.verdict(v);
}

}  // namespace ck
