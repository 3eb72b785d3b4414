#pragma once
// The planar direct convolution (core/conv_planar.cpp): for a first layer with
// fewer filters than a vector has lanes (LeNet's 6), vectors run along each
// output row instead of across the filters. conv2d_forward and
// conv2d_backward use it when conv_planar_applies(g); the references are
// conv2d_forward_reference and conv2d_backward_reference (core/conv.h).
#include "core/conv.h"
#include "core/kernels.h"

namespace ck {

// True for stride 1, at most 4 input channels, fewer filters than the
// vector's lanes and output rows at least one vector wide, in a build with
// FMA vectors.
bool conv_planar_applies(const ConvGeometry& g);

// x (H,W,C) one image, w (KH,KW,C,F), b (F) or null -> y (OH,OW,F).
// Requires: conv_planar_applies(g). Ensures: each output is the same sum, in
// the same order, as conv2d_forward_direct's (bit for bit).
void conv2d_forward_planar(const float* x, const float* w, const float* b, Activation act,
                           float* y, const ConvGeometry& g);

// x (N,H,W,C), dz (N,OH,OW,F) its dL/d(pre-activation):
// dw (KH,KW,C,F) += x-patches^T * dz summed over the N images.
// Requires: conv_planar_applies(g).
void conv2d_backward_weights_planar(const float* x, const float* dz, int64_t N, float* dw,
                                    const ConvGeometry& g);

}  // namespace ck
