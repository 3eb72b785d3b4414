#pragma once
// Resizing, as Keras's Resizing layer and image_dataset_from_directory do it
// (tf.image.resize, antialias off): pixel centers at half-integers, so output
// pixel (y, x) samples the input at ((y + 0.5) * H / OH - 0.5, same for x).
//   bilinear  interpolates the four nearest input pixels, edges clamped
//   nearest   takes input pixel floor((y + 0.5) * H / OH), same for x
// Images are float (H,W,C). The u8 variants round the result to 8 bits,
// as PIL does, so resized images can be stored and cached as bytes.
#include <string>

#include "data/image.h"

namespace ck {

enum class ResizeMethod { bilinear, nearest };
std::string resize_method_name(ResizeMethod method);
ResizeMethod parse_resize_method(const std::string& name);

// x (H,W,C) -> out (OH,OW,C). Requires: all sizes >= 1, out does not alias x.
void resize_image(const float* x, int h, int w, int c, float* out, int oh, int ow,
                  ResizeMethod method);
// The plain reference: the formula above per output value.
void resize_image_reference(const float* x, int h, int w, int c, float* out, int oh, int ow,
                            ResizeMethod method);

// Keras's crop_to_aspect_ratio / RandomCrop at inference: the largest centered
// window of x with the aspect ratio of (OH,OW), resized (bilinear) to (OH,OW).
// x (H,W,C) -> out (OH,OW,C)
void crop_resize(const float* x, int h, int w, int c, float* out, int oh, int ow);

// Converts `image` to `channels` (data/image.h) and resizes it to h x w when
// it differs, rounding to 8 bits: the one way decoded images are brought to
// the stored size, in training and at inference alike.
Image fit_image(const Image& image, int channels, int h, int w, ResizeMethod method);

}  // namespace ck
