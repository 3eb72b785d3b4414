// The tutorial experiments, in the order of ../shared/EXPERIMENTS.md. Each
// lives in the file of its article (apps/repro_<article>.cpp).
#include "apps/repro.h"

namespace ck {

void repro_raw_pixels(ReproContext& ctx);
void repro_pretrained_preprocessing(ReproContext& ctx);
void repro_resize_220(ReproContext& ctx);
void repro_shallow_model(ReproContext& ctx);
void repro_learning_rate_10(ReproContext& ctx);

std::span<const Experiment> experiments() {
  static const Experiment table[] = {
      {"raw-pixels", "000 ex. 1 vs 2",
       "0..255 pixels vs /255: random labels hide it, Fashion-MNIST shows it", repro_raw_pixels},
      {"pretrained-preprocessing", "000 ex. 3",
       "a pretrained base needs its own preprocessing (VGG16: caffe, not -1..1)",
       repro_pretrained_preprocessing},
      {"resize-220", "001 ex. 1",
       "220x220 instead of 224 trains fine; only a train/inference size mismatch fails",
       repro_resize_220},
      {"shallow-model", "001 ex. 2",
       "the 'too shallow' model memorizes random labels; capacity shows on real data",
       repro_shallow_model},
      {"learning-rate-10", "001 ex. 3",
       "Adam at lr=10 diverges; 1e-3 learns; an LR range test finds the rate",
       repro_learning_rate_10},
  };
  return table;
}

}  // namespace ck
