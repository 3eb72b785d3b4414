#pragma once
// Preprocessing: every transformation between decoded data and the model's
// input, with every fitted value, in one object. It is fitted on the training
// set only, applied unchanged everywhere else, serialized into the model file,
// and printed, so inference can never silently differ from training.
//
// For one sample, in this order:
//   1. geometry (images): channel conversion and resize to the stored size
//      (done once when the data is loaded; image_input() repeats it)
//   2. imputation (tables): a missing value (NaN) becomes the fitted fill value
//   3. augmentation (training only, data/augment.h), or at inference the crop
//      step's centered window resized to the crop size (Keras's RandomCrop)
//   4. scaling: y = (x[order[c]] - offset[c]) / divisor[c], c the channel
//      (the last axis: a color channel, or a feature column for tables)
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/resize.h"

namespace ck {

enum class Scaling {
  none,    // x, as decoded (0..255 for images)
  unit,    // x / 255
  minmax,  // (x - min) / (max - min): images over the whole training array, tables per column
  zscore,  // (x - mean) / std per channel (images: over N, H, W; tables: per column)
  caffe,   // Keras "caffe": RGB -> BGR, minus the ImageNet means (103.939, 116.779, 123.68)
  tf,      // Keras "tf": x / 127.5 - 1, into [-1, 1]
  torch,   // Keras "torch": (x / 255 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)
};
std::string scaling_name(Scaling s);
Scaling parse_scaling(const std::string& name);

enum class Impute { none, mean, median, most_frequent, constant };
std::string impute_name(Impute i);
// "none", "mean", "median", "most-frequent", "constant:VALUE"
Impute parse_impute(const std::string& text, float& constant);

struct Preprocessing {
  // Geometry of the stored samples.
  bool images = true;          // (H,W,C) images, else (D) features
  Shape stored_shape;          // after decoding, channel conversion and resize
  bool resize = false;         // a --resize was recorded: any input size is resized
  ResizeMethod resize_method = ResizeMethod::bilinear;
  int crop_height = 0, crop_width = 0;  // from the crop() augmentation, 0 if none
  std::string channel_order;   // of the model input: "gray", "RGB", "BGR", ...

  // Scaling, with its fitted or constant values (size 1: every channel).
  Scaling scaling = Scaling::none;
  std::vector<float> offset = {0.0f}, divisor = {1.0f};

  // Imputation (tables): fill[j] replaces a missing value of feature j.
  Impute impute = Impute::none;
  float impute_constant = 0;
  std::vector<float> fill;

  std::vector<std::string> columns;      // feature names (tables)
  std::vector<std::string> class_names;
  int64_t fitted_on = 0;                 // training samples the statistics came from

  // The model's input shape for one sample: the stored shape, or the crop size.
  Shape input_shape() const;

  // Learns the imputation values, then the scaling statistics, from the
  // training samples only (statistics after imputation, before augmentation).
  // Requires: stored_shape set (set_geometry) for anything but none/1/255/tf.
  // Throws ck::Error when a mode does not fit the data (caffe on gray images,
  // a column with no values to impute from).
  void fit(const Dataset& data, const std::vector<int64_t>& train_indices);
  void fit(const Dataset& train);  // every sample
  // Records the stored shape, names and channel order of `data`.
  void set_geometry(const Dataset& data);

  // Step 2 in place on `count` stored samples. Throws if a value is missing
  // and no imputer was fitted.
  void impute_missing(float* x, int64_t count) const;
  // Step 3 at inference: stored sample -> input sample (a copy without crop).
  void finish_geometry(const float* stored, float* out) const;
  // Step 4 in place on `count` input samples of `sample_size` values.
  void scale(float* x, int64_t count, int64_t sample_size) const;
  // Steps 2 and 4 in place (for samples whose stored and input shapes agree).
  void apply(float* samples, int64_t count, int64_t sample_size) const;

  // Inference: one decoded image of any size and channel count -> the model's
  // input (input_shape() values), exactly as in training. Throws ck::Error
  // naming the expected and actual shapes and the fix when the size differs
  // and no resize was recorded.
  void image_input(const Image& image, float* out) const;
  Tensor image_input(const Image& image) const;
  // Throws the ck::Error image_input() would for a model of table features
  // (so an image is refused before it is decoded).
  void require_images() const;
  // Inference: one CSV row (cells named by `header`) -> the model's input.
  // `where` names the row in messages ("new.csv line 3"). Throws ck::Error
  // naming row and column for a missing column, a non-number, or a missing
  // value with no imputer fitted.
  void row_input(const std::vector<std::string>& header, const std::vector<std::string>& cells,
                 const std::string& where, float* out) const;

  // One line for a run header: "z-score per channel (mean 72.94, std 90.02)".
  std::string describe() const;
  // Every recorded and fitted value, one per line.
  std::string details() const;

  nlohmann::json to_json() const;
  // Throws ck::Error on an unknown or malformed object.
  static Preprocessing from_json(const nlohmann::json& j);
};

}  // namespace ck
