#pragma once
// 2-D convolution kernels, NHWC, weights HWIO (KH,KW,C,F) as in Keras.
//
// The general fast path lowers convolution to GEMM (im2col): for one image,
// every output pixel's receptive field (KH,KW,C) becomes one row of a matrix
// col (OH*OW, KH*KW*C); then y (OH*OW, F) = col * w (KH*KW*C, F).
// conv2d_forward and conv2d_backward pick a direct kernel instead where one
// applies: few input channels (core/conv_direct.h, core/conv_planar.h) or
// filters in slivers of 32 (core/conv_tiled.h). The reference path is the
// textbook seven nested loops.
#include <cstdint>
#include <vector>

#include "core/kernels.h"
#include "core/tensor.h"

namespace ck {

struct ConvGeometry {
  int64_t H = 0, W = 0, C = 0;    // input image
  int KH = 1, KW = 1;             // kernel
  int SH = 1, SW = 1;             // strides
  int pad_top = 0, pad_left = 0;  // zero padding before; padding after is implied by OH, OW
  int64_t OH = 0, OW = 0, F = 0;  // output image (F filters)

  int64_t patch() const { return KH * KW * C; }  // length of an im2col row
  int64_t in_size() const { return H * W * C; }
  int64_t out_size() const { return OH * OW * F; }
};

// Keras's padding rules. valid: OH = floor((H - KH) / SH) + 1 (0 or less when
// the kernel does not fit). same: OH = ceil(H / SH), with total padding
// max((OH - 1) * SH + KH - H, 0), the smaller half before (TensorFlow's rule).
// Also used for pooling windows.
ConvGeometry conv_geometry(int64_t H, int64_t W, int64_t C, int KH, int KW, int SH, int SW,
                           bool same, int64_t F);

// For output pixels [first, first + count) (row-major over OH, OW; 0 and
// OH*OW for the whole image): col (count, KH*KW*C) <- x (H,W,C), zeros where
// the window covers padding.
void im2col(const float* x, const ConvGeometry& g, int64_t first, int64_t count, float* col);
// dx (H,W,C) += dcol (count, KH*KW*C) scattered back: the adjoint of im2col.
void col2im_add(const float* dcol, const ConvGeometry& g, int64_t first, int64_t count, float* dx);

// Per-thread scratch for the fast kernels, grown on first use and reused.
struct ConvWorkspace {
  std::vector<Tensor> col;  // one im2col buffer per part
  std::vector<Tensor> dw;   // one partial weight gradient per part
  Tensor wt;                // w transposed (F, KH*KW*C), for dx by im2col + GEMM
};

// Whether conv2d_forward (conv2d_backward) writes y (dx), N images of `size`
// floats at `out`, with streaming stores, past the caches: when it is larger
// than the caches would keep (16 MB) and `out` is 64-byte aligned, as Tensors
// are. The tiled kernel streams; a first layer with few channels then runs it
// instead of the direct kernel. The values are the same either way.
bool conv_streams_output(int64_t N, int64_t size, const float* out);

// Whether conv2d_forward and conv2d_backward use Winograd's transforms
// (core/conv_winograd.h) where they apply: stride-1 3x3 and 5x5 layers with
// channels in whole vectors and filters in whole slivers (two vectors). On
// unless turned off; off, those layers run the tiled kernel, whose sums
// round as im2col + GEMM's. The gradient check (layers/gradcheck.h) turns
// it off while it runs: its finite differences see the forward pass's
// rounding, which the transforms enlarge about tenfold. Process-wide: it
// affects every model in the process while it is off.
void set_conv_winograd(bool on);
bool conv_winograd_enabled();
// Whether conv2d_forward and conv2d_backward run Winograd's transforms for
// g: enabled and conv_winograd_applies(g).
bool conv_uses_winograd(const ConvGeometry& g);

// x (N,H,W,C), w (KH,KW,C,F), b (F) or null -> y (N,OH,OW,F) = act(conv(x, w) + b).
void conv2d_forward(const float* x, const float* w, const float* b, Activation act, float* y,
                    int64_t N, const ConvGeometry& g, ConvWorkspace& ws);
// Given dz (N,OH,OW,F) = dL/d(pre-activation): dw (KH,KW,C,F) overwritten,
// db (F) and dx (N,H,W,C) overwritten unless null.
void conv2d_backward(const float* x, const float* w, const float* dz, float* dx, float* dw,
                     float* db, int64_t N, const ConvGeometry& g, ConvWorkspace& ws);

// Direct convolution of one image for few input channels (core/conv_direct.cpp),
// used by conv2d_forward, and its weight gradient (core/conv_direct.h) by
// conv2d_backward unless the tiled kernel takes the layer, when
// conv_direct_applies(g): C <= 4 and F at most 4
// vectors (64 with AVX-512, 32 with AVX2), or C <= 16 and F at most one
// vector (16 or 8). F not a multiple of the width runs on zero-padded
// copies, at 8 lanes where that pads less (F = 6: 8, not 16). Each output is
// the same in-order sum over the patch as im2col + GEMM's.
// x (H,W,C), w (KH,KW,C,F), b (F) or null -> y (OH,OW,F) = act(conv(x, w) + b).
bool conv_direct_applies(const ConvGeometry& g);
void conv2d_forward_direct(const float* x, const float* w, const float* b, Activation act, float* y,
                           const ConvGeometry& g);

// The same, by direct summation (no activation).
void conv2d_forward_reference(const float* x, const float* w, const float* b, float* y, int64_t N,
                              const ConvGeometry& g);
void conv2d_backward_reference(const float* x, const float* w, const float* dz, float* dx,
                               float* dw, float* db, int64_t N, const ConvGeometry& g);

}  // namespace ck
