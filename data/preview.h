#pragma once
// Picture grids of batches, for `convkit data preview`: what the model is
// actually fed, so a wrong scaling, a bad resize or an augmentation that
// destroys the object is seen before training, not guessed after.
#include <vector>

#include "core/tensor.h"
#include "data/image.h"

namespace ck {

// x (N,H,W,C) -> an RGB grid, `columns` cells a row: sample values mapped
// linearly from [lo, hi] to 0..255 (1 channel: gray; 3 or more: the first
// three as R, G, B; 2: the first as gray), each magnified `zoom` times and
// framed in its class's color, the class index written in the corner.
Image render_grid(const Tensor& x, const std::vector<float>& labels, int columns, int zoom, float lo, float hi);

// render_grid with [lo, hi] the finite range of x's values, so any
// preprocessing shows; labels may be empty (no frame color, no index).
Image render_samples(const Tensor& x, const std::vector<float>& labels, int columns, int zoom);
// Panels one above the other, `gap` white pixels apart (widths may differ).
Image stack_images(const std::vector<Image>& panels, int gap);

}  // namespace ck
