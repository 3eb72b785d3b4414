#pragma once
// Winograd's minimal filtering for 3x3 and 5x5 convolutions
// (core/conv_winograd.cpp, the filter transform in conv_winograd_pack.cpp;
// Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016).
//
// An m x m block of outputs of an r x r filter needs an n x n block of input,
// n = m + r - 1. Transformed, the block's outputs are
//
//   Y (m,m) = A^T [ (G g G^T) ⊙ (B^T d B) ] A        d (n,n) input, g (r,r) filter
//
// one product per entry of the n x n transforms instead of m*m*r*r. Summed
// over the channels, the n*n products of a layer are n*n GEMMs
// (tiles, C) x (C, F), which run on the tiled kernel's register tile
// (core/conv_tiled.h). convkit uses F(4x4, 3x3) on 6x6 tiles, 2.25 products
// per output where a 3x3 filter has 9, and F(4x4, 5x5) on 8x8 tiles, 4 where
// a 5x5 filter has 25.
// The sums are the convolution's, rounded differently: they agree with
// conv2d_forward_reference to 1e-6..3e-5 of the sums' scale, growing with
// the length of the sums (the channels; for the weight gradient the images'
// pixels too; the 5x5 weight gradient, whose A has entries up to 16, rounds
// most), where im2col + GEMM and the tiled kernel agree to 1e-7..4e-6; and so
// not bit for bit with the other kernels. Their intermediate values are
// larger: with outputs the size of the inputs, inputs from about 6e36 (5x5)
// or 1e37 (3x3) overflow, where the direct sum reaches 3.4e38; and an Inf
// input becomes NaN over whole 4x4 output blocks.
#include <cstdint>

#include "core/conv.h"
#include "core/kernels.h"

namespace ck {

// The transforms of F(m x m, r x r) from the Toom-Cook construction at the
// points 0, 1, -1, 2, -2, 1/2, -1/2 (the first n-1 of them) and infinity:
// AT (m,n), G (n,r), BT (n,n), row-major, n = m + r - 1 <= 8. Small points
// keep the transforms' entries, and so their rounding, small: 1/2 and -1/2
// rather than 3 and -3, whose powers grow fastest.
struct WinogradTransforms {
  int m = 0, r = 0, n = 0;
  double AT[8 * 8] = {}, G[8 * 8] = {}, BT[8 * 8] = {};
};

// Why these are the transforms: the correlation y_i = sum_k d_(i+k) g_k is
// the transpose of multiplying polynomials of degrees m-1 and r-1. Their
// product (degree n-1) is fixed by its values at n-1 points and its leading
// coefficient ("infinity"): evaluate both factors there (G, and A for the
// other), multiply, interpolate back (B). Transposed, that is
// y = A^T [(G g) ⊙ (B^T d)]. Row j of B^T holds the coefficients of
// N_j(x) = prod over the other points (x - a_l), the Lagrange numerator;
// its denominator N_j(a_j) goes into G, where it is applied once per
// filter instead of once per tile. The infinity row of B^T is
// prod over all points (x - a_l).
constexpr WinogradTransforms winograd_transforms(int m, int r) {
  WinogradTransforms t;
  t.m = m, t.r = r, t.n = m + r - 1;
  const int n = t.n, finite = n - 1;
  constexpr double points[7] = {0, 1, -1, 2, -2, 0.5, -0.5};
  double a[8] = {};
  for (int j = 0; j < finite; ++j) a[j] = points[j];
  const auto power = [](double x, int k) {
    double p = 1;
    for (int i = 0; i < k; ++i) p *= x;
    return p;
  };
  // Coefficients (lowest first) of prod over l != skip of (x - a_l).
  const auto numerator = [&](int skip, double* c) {
    c[0] = 1;
    int degree = 0;
    for (int l = 0; l < finite; ++l) {
      if (l == skip) continue;
      for (int k = degree + 1; k > 0; --k) c[k] = c[k - 1] - a[l] * c[k];
      c[0] = -a[l] * c[0];
      ++degree;
    }
  };
  for (int j = 0; j < finite; ++j) {
    double c[8] = {};
    numerator(j, c);
    double at_aj = 0;
    for (int k = 0; k < n; ++k) at_aj += c[k] * power(a[j], k);
    for (int k = 0; k < n; ++k) t.BT[j * n + k] = c[k];
    for (int k = 0; k < r; ++k) t.G[j * r + k] = power(a[j], k) / at_aj;
    for (int i = 0; i < m; ++i) t.AT[i * n + j] = power(a[j], i);
  }
  double c[8] = {};
  numerator(-1, c);
  for (int k = 0; k < n; ++k) t.BT[finite * n + k] = c[k];
  t.G[finite * r + r - 1] = 1;
  t.AT[(m - 1) * n + finite] = 1;
  return t;
}

// True in a build with FMA vectors for a stride-1 3x3 or 5x5 convolution
// with C a multiple of the vector width, F of the tiled kernel's sliver
// (conv_tiled_sliver()) and padding before of 0 to KH-1 (KW-1).
bool conv_winograd_applies(const ConvGeometry& g);

// Floats of conv_winograd_pack's output: n*n*C*F (n = 6 for 3x3, 8 for 5x5).
int64_t conv_winograd_packed_size(const ConvGeometry& g);

// w (KH,KW,C,F) -> the n*n transformed filters U (C,F) = G w G^T, each packed
// for the tiled kernel. Requires: conv_winograd_applies(g).
void conv_winograd_pack(const float* w, const ConvGeometry& g, float* packed);

// x (N,H,W,C), packed from conv_winograd_pack, b (F) or null ->
// y (N,OH,OW,F) = act(conv(x, w) + b); stream: y goes past the caches
// (non-temporal stores). The images' tiles go through in bands that can span
// several images, so that many-channel layers read their transformed
// filters once for enough tiles. Requires: conv_winograd_applies(g); y
// aligned to a vector when stream.
void conv2d_forward_winograd(const float* x, int64_t N, const float* packed, const float* b,
                             Activation act, float* y, const ConvGeometry& g, bool stream = false);

// x (N,H,W,C), dz (N,OH,OW,F) -> dw (KH,KW,C,F) overwritten: the weight
// gradient summed over the N images, with the forward pass's tiles.
// Requires: conv_winograd_applies(g).
void conv2d_backward_weights_winograd(const float* x, const float* dz, int64_t N, float* dw,
                                      const ConvGeometry& g);

// The data gradient as a forward convolution of dz (OH,OW,F) with the
// filters turned around (as conv2d_backward_data_tiled): its geometry, and
// the filters for it. conv_winograd_applies(data_gradient_geometry(g)) tells
// whether dx can be computed so.
ConvGeometry data_gradient_geometry(const ConvGeometry& g);
// w (KH,KW,C,F) -> packed for conv2d_forward_winograd over
// data_gradient_geometry(g).
void conv_winograd_pack_flipped(const float* w, const ConvGeometry& g, float* packed);

}  // namespace ck
