#pragma once
// What the direct convolution's forward (core/conv_direct.cpp) and weight
// gradient (core/conv_direct_weights.cpp) share: the vector width choice, the
// zero-padded filter layout and per-thread scratch, which the tiled and
// Winograd kernels (core/conv_tiled.cpp, core/conv_winograd.cpp) also use.
// Internal to the convolution kernels.
#include <cstdint>

#include "core/simd.h"

namespace ck::direct {

// Per-thread scratch, grown once and reused (no allocation in the steady
// state): 0 holds zero-padded weights, 1 a padded weight gradient (the
// planar kernels' rows of y or dz), 2 the zero-padded image, 3 and 4 the
// Winograd kernel's transformed input and products (or dz), 5 its weight
// gradient's sums, 6 the filters packed for the tiled or Winograd kernel
// during one conv2d_forward or conv2d_backward call (core/conv.cpp).
float* thread_scratch(int which, int64_t size);

// src (H,W,C) -> (Hp,Wp,C): src's pixel (ih, iw) at (ih + top, iw + left),
// zeros around it; what falls outside is dropped. An image that already is
// its padded copy (no padding before, Wp == W, Hp <= H) is returned as it
// is; otherwise the copy goes to thread_scratch(2).
const float* pad_image(const float* src, int64_t H, int64_t W, int64_t C, int64_t top, int64_t left,
                       int64_t Hp, int64_t Wp);

// F not a multiple of the vector width (LeNet's 6 filters): the kernels run
// on weights padded with zero filters to Fp, a multiple of it, and read and
// write y and dz in place (Filters). The padded filters' outputs are never
// stored; their weight gradients are summed and dropped.
inline int64_t padded_filters(int64_t F, int lanes) { return (F + lanes - 1) / lanes * lanes; }

// Where y and dz hold F filters per pixel that is not a multiple of the
// vector width, the kernels run on weights zero-padded to g.F (a multiple of
// it) and read and write y and dz in place: pixels `stride` floats apart, the
// last vector of each holding `tail` real filters (masked loads and stores).
struct Filters {
  int64_t stride;
  int tail;
};

template <class V, int FV>
[[gnu::always_inline]] inline void load_filters(typename V::vec (&d)[FV], const float* p,
                                                const Filters& fo) {
  for (int v = 0; v < FV - 1; ++v) d[v] = V::load(p + v * V::lanes);
  const float* last = p + (FV - 1) * V::lanes;
  d[FV - 1] = fo.tail == V::lanes ? V::load(last) : V::load_first(last, fo.tail);
}

// The real filters of y and dz: F per pixel, F % lanes of them in the last vector.
template <class V>
inline Filters real_filters(int64_t F) {
  const int tail = static_cast<int>(F % V::lanes);
  return {F, tail == 0 ? V::lanes : tail};
}

// The vector width that pads F to the fewest filters (the wider on a tie):
// F = 6 runs at 8 lanes (8 filters, not 16), F = 24 at 8 (24, not 32). The
// kernels take at most 4 vectors of filters, so 8 lanes serve F <= 32 only.
bool use_narrow(int64_t F);

}  // namespace ck::direct
