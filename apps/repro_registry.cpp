// The tutorial experiments, in the order of ../shared/EXPERIMENTS.md. Each
// lives in the file of its article (apps/repro_<article>.cpp).
#include "apps/repro.h"

namespace ck {

void repro_raw_pixels(ReproContext& ctx);
void repro_pretrained_preprocessing(ReproContext& ctx);
void repro_resize_220(ReproContext& ctx);
void repro_shallow_model(ReproContext& ctx);
void repro_learning_rate_10(ReproContext& ctx);
void repro_standardize(ReproContext& ctx);
void repro_augmentation(ReproContext& ctx);
void repro_class_weights(ReproContext& ctx);
void repro_inference_normalization(ReproContext& ctx);
void repro_resize_at_inference(ReproContext& ctx);
void repro_missing_values(ReproContext& ctx);
void repro_raw_binary(ReproContext& ctx);

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
      {"standardize", "002 ex. 1",
       "min-max vs z-score fitted on train; the article's normalize() returns the whole array",
       repro_standardize},
      {"augmentation", "002 ex. 2",
       "flip, +-72 degree rotation, zoom on 1,000 images: the train/test gap, each transform alone",
       repro_augmentation},
      {"class-weights", "002 ex. 3; 004 ex. 3",
       "long-tailed data: 1/count vs balanced weights vs over/undersampling; 1/count's scale",
       repro_class_weights},
      {"inference-normalization", "003 ex. 1",
       "z-scored for training, raw at inference: the saved preprocessing and the exact answer",
       repro_inference_normalization},
      {"resize-at-inference", "003 ex. 2; 001 ex. 1",
       "trained at 64x64, given another size: Flatten stops, global pooling silently loses accuracy",
       repro_resize_at_inference},
      {"missing-values", "003 ex. 3",
       "NaN never reaches the model; the saved mean imputer fills gaps at inference",
       repro_missing_values},
      {"raw-binary", "004 ex. 1-3",
       "Flatten on (None, None, 3) cannot build; raw vs scaled vs flip/weights on 9:1 JPEG files",
       repro_raw_binary},
  };
  return table;
}

}  // namespace ck
