// The hand-written GEMM backend: cache blocking and packing in the style of
// GotoBLAS/BLIS, around a register-blocked FMA micro-kernel.
//
//   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C      (row-major)
//
// Five loops around one micro-kernel, outermost first:
//
//   jc: N in NC-column panels        op(B) panel (KC,NC) packed once, reused by all of M
//   pc: K in KC-deep slices          (one slice of K per pass; beta applies on the first)
//   ic: M in MC-row blocks           op(A) block (MC,KC) packed, stays in L2
//   jr: NC in NR-column slivers      B sliver (KC,NR), stays in L1 during the ir loop
//   ir: MC in MR-row slivers         A sliver (MR,KC), streamed from L2
//     micro-kernel: C tile (MR,NR) += A sliver (MR,KC) * B sliver (KC,NR), in registers
//
// Packing copies op(A) and op(B) into contiguous, aligned buffers in exactly
// the order the micro-kernel reads them, so the kernel sees one layout whatever
// the transpose flags and leading dimensions were:
//
//   A block (MC,KC) packed as MR-row slivers:    sliver s holds a[k*MR + r] = op(A)(s*MR + r, k)
//   B panel (KC,NC) packed as NR-column slivers: sliver s holds b[k*NR + c] = op(B)(k, s*NR + c)
//
// Slivers at the edges (M % MR, N % NR rows/columns) are zero-padded, so the
// kernel always computes a full tile; edge tiles go through a small buffer.
// Every C element goes through the same arithmetic (the same FMA chain over k,
// K slices that depend only on K, the same alpha/beta update) wherever its
// tile falls, so splitting C into blocks (gemm_parallel) does not change a bit.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/gemm.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace ck {

namespace {

// Micro-tile (MR,NR): MR*NR/W accumulator registers of W lanes, plus NR/W for
// a row of the B sliver and one broadcast element of the A sliver.
#if defined(__AVX512F__)
// 14x32: 28 zmm accumulators + 2 for B + 1 broadcast = 31 of 32 registers.
// Per k: 2 loads of B, 14 broadcasts of A, 28 FMAs (14 cycles at 2 FMA/cycle).
constexpr int MR = 14, NR = 32;
constexpr const char* kIsa = "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
// 6x16: 12 ymm accumulators + 2 for B + 1 broadcast = 15 of 16 registers.
constexpr int MR = 6, NR = 16;
constexpr const char* kIsa = "AVX2";
#else
// Plain loops over a 4x8 tile; the compiler vectorizes the NR loop (SSE).
constexpr int MR = 4, NR = 8;
constexpr const char* kIsa = "scalar";
#endif

// Block sizes for Zen4 (L1d 32K, L2 1M per core):
//   B sliver (KC,NR)  = 256*32*4 B = 32K  -> L1, reused by MC/MR A slivers (what
//                     spills is re-read from L2, far below its bandwidth: 128 B per k)
//   A block  (MC,KC)  = 224*256*4 B = 224K -> L2, leaves room for the B panel's traffic
//   B panel  (KC,NC)  = 256*3072*4 B = 3M -> L3
// The actual kc and mc are these maxima evened out over K and M (e.g. K=576
// runs as three slices of 192, not 256+256+64); they never exceed them.
constexpr int KC = 256;
constexpr int MC = 16 * MR;
constexpr int NC = 3072;

int round_up(int x, int m) { return (x + m - 1) / m * m; }

// Splits n into ceil(n/block) near-equal parts rounded up to a multiple of
// `multiple`, so there is no small leftover block. Requires: block is a
// multiple of `multiple` (then the result is <= block).
int even_block(int n, int block, int multiple) {
  int parts = (n + block - 1) / block;
  return round_up((n + parts - 1) / parts, multiple);
}

// Per-thread packing buffers, grown on demand and reused: the steady state
// does not allocate.
struct Scratch {
  float* a = nullptr;  // A block (MC,KC)
  float* b = nullptr;  // B panel (KC,NC), as large as N needs
  size_t b_size = 0;
  Scratch() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    if (!a) throw std::bad_alloc();
  }
  float* b_buffer(size_t size) {
    if (size > b_size) {
      std::free(b);
      b_size = (size + 15) / 16 * 16;
      b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * b_size));
      if (!b) throw std::bad_alloc();
    }
    return b;
  }
  ~Scratch() {
    std::free(a);
    std::free(b);
  }
};

#if defined(__AVX512F__)
// Transposes the 16x16 block held in r[0..15] (row i in r[i]) in place, so
// that r[j] holds column j: 4 rounds of 16 shuffles instead of 256 scalar
// moves. Used to pack non-contiguous slivers: 16 consecutive k of 16 rows in,
// 16 packed rows out. (The pragma silences a GCC 12 false positive inside
// its own intrinsic headers, bug 105593.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  // Interleave pairs of rows within 128-bit lanes, then pairs of pairs: u[4g+c]
  // lane j then holds column 4j+c of rows 4g..4g+3.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  // Gather lane j of u[c], u[4+c], u[8+c], u[12+c] into column 4j+c.
  for (int c = 0; c < 4; ++c) {
    __m512 even0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);  // lanes 0,2 of rows 0-7
    __m512 even1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    __m512 odd0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);  // lanes 1,3
    __m512 odd1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(even0, even1, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(even0, even1, 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(odd0, odd1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(odd0, odd1, 0xDD);
  }
}
#pragma GCC diagnostic pop
#endif

// Copies n <= W floats to dst and zero-fills dst up to W.
template <int W>
void copy_padded(float* dst, const float* src, int n) {
#if defined(__AVX512F__)
  static_assert(W <= 16);
  __mmask16 keep = static_cast<__mmask16>((1u << n) - 1);
  _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << W) - 1), _mm512_maskz_loadu_ps(keep, src));
#else
  for (int i = 0; i < n; ++i) dst[i] = src[i];
  for (int i = n; i < W; ++i) dst[i] = 0.0f;
#endif
}

// Packs op(A) rows [0, mc), columns [0, kc) (A already offset to the block's
// corner) as MR-row slivers.
void pack_a(bool trans, int mc, int kc, const float* A, int lda, float* dst) {
  if (trans) {
    // op(A)(i,k) = A[k*lda + i]: row k of A holds entry k of every sliver;
    // read each row once, left to right. Only mc of each row's lda floats are
    // read, which the hardware prefetchers follow poorly: ask for the row 8
    // ahead (measured 10-25% faster on the conv weight gradient, K=3136).
    for (int k = 0; k < kc; ++k) {
      const float* src = A + static_cast<size_t>(k) * lda;
      if (k + 8 < kc)
        for (int i = 0; i < mc; i += 16) __builtin_prefetch(src + 8 * static_cast<size_t>(lda) + i);
      for (int i0 = 0; i0 < mc; i0 += MR)
        copy_padded<MR>(dst + i0 * kc + k * MR, src + i0, std::min(MR, mc - i0));
    }
    return;
  }
  // op(A)(i,k) = A[i*lda + k]: a sliver is a transpose of MR rows of A.
  for (int i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int mr = std::min(MR, mc - i0);
    const float* src = A + static_cast<size_t>(i0) * lda;
    int k = 0;
#if defined(__AVX512F__)
    // (MR,16) blocks of A through registers: rows MR..15 are zeros and are
    // not stored (mask keeps MR lanes).
    if (mr == MR) {
      for (; k + 16 <= kc; k += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i)
          r[i] = i < MR ? _mm512_loadu_ps(src + static_cast<size_t>(i) * lda + k)
                        : _mm512_setzero_ps();
        transpose16(r);
        for (int t = 0; t < 16; ++t)
          _mm512_mask_storeu_ps(dst + (k + t) * MR, (1u << MR) - 1, r[t]);
      }
    }
#endif
    for (int r = 0; r < mr; ++r)
      for (int kk = k; kk < kc; ++kk) dst[kk * MR + r] = src[static_cast<size_t>(r) * lda + kk];
    for (int r = mr; r < MR; ++r)
      for (int kk = 0; kk < kc; ++kk) dst[kk * MR + r] = 0.0f;
  }
}

// Packs op(B) rows [0, kc), columns [0, nc) as NR-column slivers.
void pack_b(bool trans, int kc, int nc, const float* B, int ldb, float* dst) {
  for (int j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int nr = std::min(NR, nc - j0);
    if (!trans) {  // op(B)(k,j) = B[k*ldb + j]: NR contiguous floats per k
      for (int k = 0; k < kc; ++k) {
        const float* src = B + static_cast<size_t>(k) * ldb + j0;
        if (nr == NR)
          std::memcpy(dst + k * NR, src, sizeof(float) * NR);
        else
          for (int c = 0; c < NR; ++c) dst[k * NR + c] = c < nr ? src[c] : 0.0f;
      }
      continue;
    }
    // op(B)(k,j) = B[j*ldb + k]: a sliver is a transpose of NR rows of B.
    const float* src = B + static_cast<size_t>(j0) * ldb;
    int k = 0;
#if defined(__AVX512F__)
    // (16,16) blocks of B through registers, two per 16 values of k.
    if (nr == NR) {
      for (; k + 16 <= kc; k += 16) {
        for (int h = 0; h < NR; h += 16) {
          __m512 r[16];
          for (int i = 0; i < 16; ++i)
            r[i] = _mm512_loadu_ps(src + static_cast<size_t>(h + i) * ldb + k);
          transpose16(r);
          for (int t = 0; t < 16; ++t) _mm512_store_ps(dst + (k + t) * NR + h, r[t]);
        }
      }
    }
#endif
    for (int c = 0; c < nr; ++c)
      for (int kk = k; kk < kc; ++kk) dst[kk * NR + c] = src[static_cast<size_t>(c) * ldb + kk];
    for (int c = nr; c < NR; ++c)
      for (int kk = 0; kk < kc; ++kk) dst[kk * NR + c] = 0.0f;
  }
}

// Micro-kernel: C tile (MR,NR) = alpha * A sliver (MR,kc) * B sliver (kc,NR)
// + beta * C tile. With beta == 0, C is not read. c has row stride ldc.
#if defined(__AVX512F__)
void kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int ldc,
            float alpha, float beta) {
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  // Pull the C tile towards L1 while the products are computed.
  for (int r = 0; r < MR; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
  }
  for (int k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(b);
    __m512 b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      __m512 ar = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
    a += MR;
    b += NR;
  }
  __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(va, acc[r][0]));
      _mm512_storeu_ps(c + r * ldc + 16, _mm512_mul_ps(va, acc[r][1]));
    }
  } else {
    __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      float* row = c + r * ldc;
      _mm512_storeu_ps(row, _mm512_fmadd_ps(va, acc[r][0], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      _mm512_storeu_ps(row + 16,
                       _mm512_fmadd_ps(va, acc[r][1], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
    }
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
void kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int ldc,
            float alpha, float beta) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(b);
    __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      __m256 ar = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
    a += MR;
    b += NR;
  }
  __m256 va = _mm256_set1_ps(alpha);
  __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    float* row = c + r * ldc;
    for (int h = 0; h < 2; ++h) {
      __m256 v = _mm256_mul_ps(va, acc[r][h]);
      if (beta != 0.0f) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8 * h), v);
      _mm256_storeu_ps(row + 8 * h, v);
    }
  }
}
#else
void kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int ldc,
            float alpha, float beta) {
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j] += a[r] * b[j];
    a += MR;
    b += NR;
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float prior = beta == 0.0f ? 0.0f : beta * c[r * ldc + j];
      c[r * ldc + j] = alpha * acc[r][j] + prior;
    }
}
#endif

// C = beta * C over (M,N), for K == 0 or alpha == 0; beta == 0 writes zeros.
void scale_c(int M, int N, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    float* row = C + static_cast<size_t>(i) * ldc;
    if (beta == 0.0f)
      std::fill(row, row + N, 0.0f);
    else if (beta != 1.0f)
      for (int j = 0; j < N; ++j) row[j] *= beta;
  }
}

}  // namespace

const char* gemm_simd_isa() { return kIsa; }

void gemm_simd(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  // Nothing to multiply: C = beta * C, and (as in BLAS) A and B are not read.
  if (K <= 0 || alpha == 0.0f) return scale_c(M, N, beta, C, ldc);

  static thread_local Scratch scratch;
  const int kc_block = even_block(K, KC, 1);
  const int mc_block = even_block(M, MC, MR);
  const int nc_block = std::min(round_up(N, NR), NC);
  float* a_pack = scratch.a;
  float* b_pack = scratch.b_buffer(static_cast<size_t>(kc_block) * nc_block);
  alignas(64) float edge[MR * NR] = {};  // an edge tile of C, padded to (MR,NR)

  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += kc_block) {
      const int kc = std::min(kc_block, K - pc);
      const float beta_pass = pc == 0 ? beta : 1.0f;  // later K slices accumulate
      // B panel: op(B) rows [pc, pc+kc), columns [jc, jc+nc).
      const float* b_src = trans_b ? B + static_cast<size_t>(jc) * ldb + pc
                                   : B + static_cast<size_t>(pc) * ldb + jc;
      pack_b(trans_b, kc, nc, b_src, ldb, b_pack);
      for (int ic = 0; ic < M; ic += mc_block) {
        const int mc = std::min(mc_block, M - ic);
        // A block: op(A) rows [ic, ic+mc), columns [pc, pc+kc).
        const float* a_src = trans_a ? A + static_cast<size_t>(pc) * lda + ic
                                     : A + static_cast<size_t>(ic) * lda + pc;
        pack_a(trans_a, mc, kc, a_src, lda, a_pack);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          const float* b_sliver = b_pack + static_cast<size_t>(jr) * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            const float* a_sliver = a_pack + static_cast<size_t>(ir) * kc;
            float* c = C + static_cast<size_t>(ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              kernel(kc, a_sliver, b_sliver, c, ldc, alpha, beta_pass);
              continue;
            }
            // Edge tile: through a full-size buffer, with the kernel's own
            // alpha/beta arithmetic so results do not depend on tile position.
            if (beta_pass != 0.0f)
              for (int r = 0; r < mr; ++r) std::memcpy(edge + r * NR, c + r * ldc, sizeof(float) * nr);
            kernel(kc, a_sliver, b_sliver, edge, NR, alpha, beta_pass);
            for (int r = 0; r < mr; ++r) std::memcpy(c + r * ldc, edge + r * NR, sizeof(float) * nr);
          }
        }
      }
    }
  }
}

}  // namespace ck
