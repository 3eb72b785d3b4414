#pragma once
// Augmentation: random transformations of training images, with Keras's
// semantics (keras/src/layers/preprocessing/image_preprocessing/), written
// as a spec a person can type:
//
//   "flip(horizontal) rotation(0.2) zoom(0.2) translation(0.1) crop(24x24)"
//
//   flip[(horizontal|vertical|both)]  RandomFlip: each axis flipped with p = 0.5 (default both)
//   rotation(f)        RandomRotation: angle U(-f, f) * 360 degrees, counter-clockwise positive
//   zoom(h[, w])       RandomZoom: zoom U(1 - h, 1 + h), > 1 zooms out; w omitted keeps the aspect
//   translation(h[, w]) RandomTranslation: shift U(-h, h) * H rows and U(-w, w) * W columns
//   crop(HxW)          RandomCrop: a random H x W window (see Preprocessing for inference)
// rotation, zoom and translation take fill=reflect|constant|nearest (default
// reflect), value=V (the constant fill, default 0) and interpolation=bilinear|nearest.
//
// Steps run in the order written. Each sample draws its parameters from its
// own Rng (the loader derives it from seed, epoch and position), so a batch is
// the same whatever the thread count. Unlike Keras's RandomCrop, which crops a
// whole batch at one location, every sample gets its own window.
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/resize.h"

namespace ck {

enum class FillMode { reflect, constant, nearest };
std::string fill_mode_name(FillMode mode);

// Affine resampling as TensorFlow's ImageProjectiveTransformV3 (what Keras's
// affine_transform runs): output pixel (x, y) takes the input at
//   (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]),
// coordinates outside the image mapped by `fill` (reflect: d c b a | a b c d |
// d c b a, about the edge of the last pixel; nearest: clamped; constant: read
// as `fill_value`), then bilinear or nearest (rounded) interpolation.
// x (H,W,C) -> out (H,W,C). Requires: out does not alias x.
void affine_warp(const float* x, int h, int w, int c, const float m[6], float* out,
                 FillMode fill, float fill_value, ResizeMethod interpolation);
void affine_warp_reference(const float* x, int h, int w, int c, const float m[6], float* out,
                           FillMode fill, float fill_value, ResizeMethod interpolation);

// The matrices of Keras's layers, for an H x W image.
void rotation_matrix(float radians, int h, int w, float m[6]);   // about the image center
void zoom_matrix(float zoom_y, float zoom_x, int h, int w, float m[6]);
void translation_matrix(float dy, float dx, float m[6]);         // content moves by (+dy, +dx)

// x (H,W,C) -> out (H,W,C), mirrored left-right and/or top-bottom.
void flip_image(const float* x, int h, int w, int c, bool horizontal, bool vertical, float* out);
// x (H,W,C) -> out (OH,OW,C): the window at (top, left). Requires: it fits.
void crop_image(const float* x, int h, int w, int c, int top, int left, int oh, int ow, float* out);

// The largest crop(HxW) side accepted, also when a model file is read.
inline constexpr int kMaxCropSide = 1 << 15;

struct AugmentStep {
  enum Kind { flip, rotation, zoom, translation, crop } kind = flip;
  bool horizontal = true, vertical = true;  // flip
  float factor = 0;                          // rotation; zoom and translation: height factor
  float width_factor = 0;                    // zoom, translation
  bool has_width = false;                    // zoom: a separate width factor was given
  int crop_height = 0, crop_width = 0;       // crop
  FillMode fill = FillMode::reflect;
  float fill_value = 0;
  ResizeMethod interpolation = ResizeMethod::bilinear;
  std::string text;                          // as written, for messages
};

struct Augmentation {
  std::vector<AugmentStep> steps;

  // Throws ck::Error quoting the spec and naming what is wrong.
  static Augmentation parse(const std::string& spec);
  bool empty() const { return steps.empty(); }
  // The spec in canonical form, with every default spelled out.
  std::string describe() const;
  // The crop step, if any (it changes the model's input size).
  const AugmentStep* crop() const;
  // (H,W,C) after every step.
  Shape output_shape(const Shape& in) const;
  // x (H,W,C) -> out (output_shape(in)); `work` is scratch space reused between calls.
  void apply(const float* x, const Shape& in, float* out, Rng& rng, std::vector<float>& work) const;
};

}  // namespace ck
