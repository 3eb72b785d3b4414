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
// relu_y: when not null, the pooled output y (N,OH,OW,C) of an input that is a
// ReLU's output; dy then passes only where y > 0, and dx is the gradient with
// respect to the ReLU's input (its pre-activation): the same values as routing
// first and applying the ReLU's gradient after, since a winner's input value
// is the pooled value, and it is the ReLU's gate that drops the rest.
void maxpool_backward(const float* dy, const int32_t* argmax, float* dx, int64_t N,
                      const ConvGeometry& g, const float* relu_y = nullptr);

// Reference versions: recompute the winner from x directly.
void maxpool_forward_reference(const float* x, float* y, int64_t N, const ConvGeometry& g);
void maxpool_backward_reference(const float* x, const float* dy, float* dx, int64_t N,
                                const ConvGeometry& g);

// x (N,H,W,C) -> y (N,C), the mean over H and W; and its gradient.
void global_avgpool_forward(const float* x, float* y, int64_t N, int64_t HW, int64_t C);
void global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t HW, int64_t C);

}  // namespace ck
