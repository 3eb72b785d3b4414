#pragma once
// The register-tiled direct convolution (core/conv_tiled.cpp): for layers with
// many channels and filters in multiples of two vectors (Fashion-MNIST's
// 32 -> 64, VGG's blocks). It computes what im2col + GEMM computes, with the
// GEMM's register tile, but reads each patch straight from a zero-padded copy
// of the image instead of copying it into col and packing it again.
// conv2d_forward and conv2d_backward use it when conv_tiled_applies(g); the
// references are conv2d_forward_reference and conv2d_backward_reference
// (core/conv.h), checked in tests/test_conv_tiled.cpp.
#include <cstdint>

#include "core/conv.h"
#include "core/kernels.h"

namespace ck {

// Filters per weight sliver: two vectors (32 with AVX-512, 16 with AVX2).
int conv_tiled_sliver();

// True in a build with FMA vectors for stride 1, F a multiple of the sliver
// and padding before of at most KH-1 rows (KW-1 columns), as conv_geometry
// makes; with_dx: the data gradient too, which needs C a multiple of it.
bool conv_tiled_applies(const ConvGeometry& g, bool with_dx);

// w (KH,KW,C,F) -> packed (F/S, KH*KW*C, S) for S = conv_tiled_sliver(): each
// sliver's taps contiguous, in the order the kernel reads them.
void conv_tiled_pack(const float* w, const ConvGeometry& g, float* packed);

// The weights of the data gradient, packed: for dx the kernel runs as a forward
// convolution of dz over F channels into C filters with the taps flipped,
// wflip (KH,KW,F,C)[kh,kw,f,c] = w[KH-1-kh, KW-1-kw, c, f]. Same size as w.
void conv_tiled_pack_flipped(const float* w, const ConvGeometry& g, float* packed);

// x (H,W,C) one image, packed from conv_tiled_pack, b (F) or null ->
// y (OH,OW,F) = act(conv(x, w) + b). stream: y goes past the caches
// (non-temporal stores), for outputs too large to be read back from them.
// Requires: conv_tiled_applies(g, false); y aligned to a vector when stream.
void conv2d_forward_tiled(const float* x, const float* packed, const float* b, Activation act,
                          float* y, const ConvGeometry& g, bool stream = false);

// dz (OH,OW,F) one image's dL/d(pre-activation), packed from
// conv_tiled_pack_flipped -> dx (H,W,C) overwritten (streamed as above).
// Requires: conv_tiled_applies(g, true); dx aligned to a vector when stream.
void conv2d_backward_data_tiled(const float* dz, const float* packed, float* dx,
                                const ConvGeometry& g, bool stream = false);

// x (N,H,W,C), dz (N,OH,OW,F) -> dw (KH,KW,C,F) = x-patches^T * dz summed over
// the N images, image by image and pixel by pixel (overwritten, or added to
// when accumulate). Requires: conv_tiled_applies(g, false).
void conv2d_backward_weights_tiled(const float* x, const float* dz, int64_t N, float* dw,
                                   const ConvGeometry& g, bool accumulate = false);

}  // namespace ck
