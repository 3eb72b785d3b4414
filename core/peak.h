#pragma once
// How fast could this machine go? Two measurements for `convkit bench gemm`:
// the FP32 FMA peak (the ceiling no GEMM can beat) and the GFLOP/s a GEMM
// backend actually reaches on a given shape.
#include "core/gemm.h"

namespace ck {

// FP32 peak in GFLOP/s of `threads` threads running concurrently (at most
// ck::threads() and the core count: threads beyond those cannot run at the
// same time and are not counted), measured with a loop of independent FMAs
// at the widest vector width this build was compiled for (AVX-512, AVX2; a
// portable build measures SSE multiply+add pairs instead). Counts 2 flops per
// FMA lane. Each thread, started together, times ~1 ms chunks for 0.2 s; the
// result is the sum over threads of their median chunk rates. Requires:
// threads >= 1.
double measure_fma_peak_gflops(int threads);

// GFLOP/s (2*M*N*K flops per call) of C = op(A)*op(B) with `backend` on
// random data of the given shape: gemm when threads == 1, gemm_parallel over
// `threads` threads otherwise. One warm-up call, then the median of repeats
// that together last at least `min_seconds`. The global backend and thread
// count are restored afterwards. Requires: M, N, K >= 1, threads >= 1.
double time_gemm_gflops(GemmBackend backend, int M, int N, int K, bool trans_a, bool trans_b,
                        int threads, double min_seconds);

}  // namespace ck
