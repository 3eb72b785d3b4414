// Winograd's filter transform, U = G w G^T for every filter, packed for the
// products (core/conv_winograd.h, core/conv_winograd.cpp).
#include <algorithm>

#include "core/conv_tiled.h"
#include "core/conv_winograd.h"
#include "core/conv_winograd_block.h"
#include "core/parallel.h"

namespace ck {

using namespace winograd;

namespace {

#if defined(__AVX2__) && defined(__FMA__)
// w (KH,KW,C,F) -> U[xi,nu] (C,F) = (G g G^T)[xi,nu] for each filter g =
// w[.,.,c,f], for the slivers [s_begin, s_end) of filters: each vector of
// filters transformed at once, and stored into its plane's sliver as a 1x1
// convolution's weights are packed (conv_tiled_pack: (F/S, C, S)), so each
// of the n*n planes is written in order. Flipped: w holds the filters whose
// data gradient g is, (KH,KW,F,C) with C and F of g, and each filter's taps
// turned around: wflip[kh,kw,c,f] = w[KH-1-kh, KW-1-kw, f, c], gathered
// straight from w (a separate transposed copy of a 512 -> 512 layer's
// filters cost 8 ms a batch, memory-bound). Once per batch, so it must stay
// small against the batch's convolution.
template <const WinogradTransforms& Fwd, bool Flipped>
void pack_slivers(const float* w, const ConvGeometry& g, int64_t s_begin, int64_t s_end,
                  float* packed) {
  constexpr int kN = Fwd.n, r = Fwd.r;
  const int64_t C = g.C, F = g.F, S = conv_tiled_sliver(), plane = C * F;
  for (int64_t s = s_begin; s < s_end; ++s)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t lane = 0; lane < S; lane += L) {
        const int64_t f = s * S + lane;
        vec taps[r][r], u[kN][kN];
        for (int kh = 0; kh < r; ++kh)
          for (int kw = 0; kw < r; ++kw) {
            if constexpr (Flipped) {
              const int64_t turned = (r - 1 - kh) * r + (r - 1 - kw);
              taps[kh][kw] = V::load_strided(w + (turned * F + f) * C + c, static_cast<int>(C));
            } else {
              taps[kh][kw] = V::load(w + ((kh * r + kw) * C + c) * F + f);
            }
          }
        transform_block<kN, r>(Fwd.G, taps, u);
        float* dst = packed + (s * C + c) * S + lane;
#pragma GCC unroll 8
        for (int xi = 0; xi < kN; ++xi)
#pragma GCC unroll 8
          for (int nu = 0; nu < kN; ++nu) V::store(dst + (xi * kN + nu) * plane, u[xi][nu]);
      }
}

// Layers with many filters split the slivers between the threads (512 ->
// 512, 3x3: 37.7 MB of transformed filters); small ones are done before
// another thread would have started.
constexpr int64_t kPackParallelPairs = 128 * 128;

template <bool Flipped>
void pack(const float* w, const ConvGeometry& g, float* packed) {
  const auto slivers_of = g.KH == 3 ? pack_slivers<kF4x3, Flipped> : pack_slivers<kF4x5, Flipped>;
  const int64_t slivers = g.F / conv_tiled_sliver();
  if (g.C * g.F < kPackParallelPairs || threads() == 1) return slivers_of(w, g, 0, slivers, packed);
  struct Job {
    decltype(slivers_of) run;
    const float* w;
    const ConvGeometry& g;
    float* packed;
  } job{slivers_of, w, g, packed};
  // One pointer captured: a std::function holds it without allocating.
  parallel_parts(slivers, static_cast<int>(std::min<int64_t>(threads(), slivers)),
                 [j = &job](int, int64_t begin, int64_t end) {
                   j->run(j->w, j->g, begin, end, j->packed);
                 });
}
#endif

}  // namespace

int64_t conv_winograd_packed_size(const ConvGeometry& g) {
  const int n = transforms_for(g).n;
  return int64_t{n} * n * g.C * g.F;
}

void conv_winograd_pack(const float* w, const ConvGeometry& g, float* packed) {
#if defined(__AVX2__) && defined(__FMA__)
  pack<false>(w, g, packed);
#else
  (void)w, (void)g, (void)packed;
#endif
}

void conv_winograd_pack_flipped(const float* w, const ConvGeometry& g, float* packed) {
#if defined(__AVX2__) && defined(__FMA__)
  pack<true>(w, data_gradient_geometry(g), packed);
#else
  (void)w, (void)g, (void)packed;
#endif
}

}  // namespace ck
