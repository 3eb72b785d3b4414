#pragma once
// Pooling kernels, NHWC. Windows use the same geometry as convolution
// (core/conv.h: conv_geometry with F = C); window cells that fall in `same`
// padding are ignored, so a max is always over real pixels.
#include <cstdint>

#include "core/conv.h"

namespace ck {

// x (N,H,W,C) -> y (N,OH,OW,C), the max of each window per channel.
// argmax (N,OH,OW,C) receives the winning input offset within its image
// (first max on ties), for the backward pass; null when no backward pass
// follows (inference), which skips tracking the winners.
void maxpool_forward(const float* x, float* y, int32_t* argmax, int64_t N, const ConvGeometry& g);
// dx (N,H,W,C) = dy routed to each window's winner (summed where windows overlap).
void maxpool_backward(const float* dy, const int32_t* argmax, float* dx, int64_t N,
                      const ConvGeometry& g);

// Reference versions: recompute the winner from x directly.
void maxpool_forward_reference(const float* x, float* y, int64_t N, const ConvGeometry& g);
void maxpool_backward_reference(const float* x, const float* dy, float* dx, int64_t N,
                                const ConvGeometry& g);

// x (N,H,W,C) -> y (N,C), the mean over H and W; and its gradient.
void global_avgpool_forward(const float* x, float* y, int64_t N, int64_t HW, int64_t C);
void global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t HW, int64_t C);

}  // namespace ck
