#pragma once
// The direct backward-weights pass for few input channels and filters
// (core/conv_direct_weights.cpp), used by conv2d_backward where
// conv_direct_applies(g). Its reference is conv2d_backward_reference
// (core/conv.h).
#include "core/conv.h"

namespace ck {

// x (H,W,C) one image, dz (OH,OW,F) its dL/d(pre-activation):
// dw (KH,KW,C,F) += x-patches^T * dz. Requires: conv_direct_applies(g).
void conv2d_backward_weights_direct(const float* x, const float* dz, float* dw,
                                    const ConvGeometry& g);

}  // namespace ck
