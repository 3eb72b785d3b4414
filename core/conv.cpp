#include "core/conv.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "core/conv_direct.h"
#include "core/conv_direct_common.h"
#include "core/conv_planar.h"
#include "core/conv_tiled.h"
#include "core/conv_winograd.h"
#include "core/gemm.h"
#include "core/parallel.h"

namespace ck {

ConvGeometry conv_geometry(int64_t H, int64_t W, int64_t C, int KH, int KW, int SH, int SW,
                           bool same, int64_t F) {
  ConvGeometry g;
  g.H = H, g.W = W, g.C = C, g.KH = KH, g.KW = KW, g.SH = SH, g.SW = SW, g.F = F;
  if (same) {
    g.OH = (H + SH - 1) / SH;
    g.OW = (W + SW - 1) / SW;
    g.pad_top = static_cast<int>(std::max<int64_t>((g.OH - 1) * SH + KH - H, 0) / 2);
    g.pad_left = static_cast<int>(std::max<int64_t>((g.OW - 1) * SW + KW - W, 0) / 2);
  } else {
    g.OH = H >= KH ? (H - KH) / SH + 1 : 0;
    g.OW = W >= KW ? (W - KW) / SW + 1 : 0;
  }
  return g;
}

void im2col(const float* x, const ConvGeometry& g, int64_t first, int64_t count, float* col) {
  const int64_t run = g.KW * g.C;  // one kernel row of the patch
  for (int64_t pixel = first; pixel < first + count; ++pixel) {
    const int64_t oh = pixel / g.OW, ow = pixel % g.OW;
    float* dst = col + (pixel - first) * g.patch();
    const int64_t iw0 = ow * g.SW - g.pad_left;
    for (int kh = 0; kh < g.KH; ++kh, dst += run) {
      const int64_t ih = oh * g.SH - g.pad_top + kh;
      if (ih < 0 || ih >= g.H) {
        std::memset(dst, 0, run * sizeof(float));
        continue;
      }
      const float* src = x + ih * g.W * g.C;
      if (iw0 >= 0 && iw0 + g.KW <= g.W) {
        // The whole kernel row is inside the image: one contiguous copy.
        copy_row(dst, src + iw0 * g.C, run);
        continue;
      }
      for (int kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = iw0 + kw;
        if (iw < 0 || iw >= g.W)
          std::memset(dst + kw * g.C, 0, g.C * sizeof(float));
        else
          copy_row(dst + kw * g.C, src + iw * g.C, g.C);
      }
    }
  }
}

void col2im_add(const float* dcol, const ConvGeometry& g, int64_t first, int64_t count, float* dx) {
  const int64_t run = g.KW * g.C;  // one kernel row of the patch
  for (int64_t pixel = first; pixel < first + count; ++pixel) {
    const int64_t oh = pixel / g.OW, ow = pixel % g.OW;
    const float* src = dcol + (pixel - first) * g.patch();
    const int64_t iw0 = ow * g.SW - g.pad_left;
    for (int kh = 0; kh < g.KH; ++kh, src += run) {
      const int64_t ih = oh * g.SH - g.pad_top + kh;
      if (ih < 0 || ih >= g.H) continue;
      float* dst = dx + ih * g.W * g.C;
      if (iw0 >= 0 && iw0 + g.KW <= g.W) {
        // The whole kernel row is inside the image: one contiguous add.
        add_row(dst + iw0 * g.C, src, run);
        continue;
      }
      for (int kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = iw0 + kw;
        if (iw >= 0 && iw < g.W) add_row(dst + iw * g.C, src + kw * g.C, g.C);
      }
    }
  }
}

namespace {

// A 1x1 stride-1 unpadded convolution needs no im2col: x is already col.
bool is_pointwise(const ConvGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.pad_top == 0 && g.pad_left == 0;
}

// One buffer per part. Called before the parallel region: growing the vector
// from inside it would race between the parts.
void make_parts(std::vector<Tensor>& buffers, int parts) {
  if (static_cast<int>(buffers.size()) < parts) buffers.resize(parts);
}

float* scratch(std::vector<Tensor>& buffers, int part, int64_t size) {
  Tensor& t = buffers[part];
  if (t.capacity() < size) t.resize({size});
  return t.data();
}

// Output pixels per im2col + GEMM (forward) and per im2col + two GEMMs +
// col2im (backward). An image whose col fits the core's L2 (1 MB: Fashion-MNIST's second
// layer, 627 KB) goes whole; a larger one in even chunks of about 256 KB, at
// least 64 pixels (shorter GEMMs spend their time packing the weights).
constexpr int64_t kColFitsL2 = int64_t{256} << 10;  // floats: 1 MB

int pixel_chunk(const ConvGeometry& g) {
  const int64_t rows = g.OH * g.OW, patch = std::max<int64_t>(1, g.patch());
  const int64_t target = int64_t{64} << 10;  // floats
  if (rows * patch <= kColFitsL2) return static_cast<int>(rows);
  const int64_t chunks = (rows * patch + target - 1) / target;
  return static_cast<int>(std::max<int64_t>(64, (rows + chunks - 1) / chunks));
}

}  // namespace

namespace {
std::atomic<bool> winograd_enabled{true};
}  // namespace

void set_conv_winograd(bool on) { winograd_enabled = on; }
bool conv_winograd_enabled() { return winograd_enabled; }

bool conv_uses_winograd(const ConvGeometry& g) {
  return conv_winograd_enabled() && conv_winograd_applies(g);
}

// Above this size the layer that reads the output next starts with its first
// image, long gone from the caches by then, and ordinary stores would first
// read every line they write (learning-rate-10's first layer writes 205 MB per
// batch). Fashion-MNIST's training batches (6.4 MB) stay below it.
constexpr int64_t kStreamBytes = int64_t{16} << 20;

bool conv_streams_output(int64_t N, int64_t size, const float* out) {
  return N * size * static_cast<int64_t>(sizeof(float)) > kStreamBytes &&
         reinterpret_cast<std::uintptr_t>(out) % 64 == 0;
}

namespace {

// w packed for the tiled kernel or Winograd's (flipped: for the data
// gradient), into the calling thread's scratch: packed once per call, read
// only during it, so all of a model's layers share one buffer, the largest
// layer's (VGG16's 512 -> 512: 37.7 MB of Winograd filters; a copy per
// layer and pass had cost 415 MB).
const float* pack_filters(const float* w, const ConvGeometry& g, bool winograd, bool flipped) {
  // The same size either way: n*n*C*F (or KH*KW*C*F) floats, flipped or not.
  const int64_t size = winograd ? conv_winograd_packed_size(g) : g.patch() * g.F;
  float* packed = direct::thread_scratch(6, size);
  if (winograd)
    (flipped ? conv_winograd_pack_flipped : conv_winograd_pack)(w, g, packed);
  else
    (flipped ? conv_tiled_pack_flipped : conv_tiled_pack)(w, g, packed);
  return packed;
}

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, Activation act, float* y,
                    int64_t N, const ConvGeometry& g, ConvWorkspace& ws) {
  const int parts = std::min<int64_t>(threads(), N);
  const int rows = static_cast<int>(g.OH * g.OW), K = static_cast<int>(g.patch()),
            F = static_cast<int>(g.F);
  make_parts(ws.col, parts);
  // A batch's output too large to be read back from the caches goes past
  // them: the tiled kernel streams it. Then it is also the faster kernel for
  // a first layer with few channels (224x224x3 -> 32, 3x3: 56-61 against 43
  // GFLOP/s on one core), which otherwise keeps the direct kernel.
  const bool stream = conv_streams_output(N, g.out_size(), y);
  if (conv_direct_applies(g) && !(stream && conv_tiled_applies(g, false))) {
    const auto direct = conv_planar_applies(g) ? conv2d_forward_planar : conv2d_forward_direct;
    parallel_parts(N, parts, [&](int, int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n)
        direct(x + n * g.in_size(), w, b, act, y + n * g.out_size(), g);
    });
    return;
  }
  const bool winograd = conv_uses_winograd(g);
  if (winograd || conv_tiled_applies(g, false)) {
    // The weights packed once for the whole batch: Winograd's transformed
    // filters, or the tiled kernel's slivers.
    const float* packed = pack_filters(w, g, winograd, false);
    parallel_parts(N, parts, [&](int, int64_t begin, int64_t end) {
      if (winograd)  // a part's images together: its bands of tiles span them
        return conv2d_forward_winograd(x + begin * g.in_size(), end - begin, packed, b, act,
                                       y + begin * g.out_size(), g, stream);
      for (int64_t n = begin; n < end; ++n)
        conv2d_forward_tiled(x + n * g.in_size(), packed, b, act, y + n * g.out_size(), g,
                             stream);
    });
    return;
  }
  // Each part convolves whole images, one at a time, in chunks of output
  // pixels: y_n[chunk] (pixels, F) = col (pixels, K) * w. A chunk's col fits
  // the core's cache, where a whole 109x109x288 image's (14 MB) went to memory
  // and back. Each output is the same dot product over K whatever the chunk.
  const int chunk = is_pointwise(g) ? rows : pixel_chunk(g);
  parallel_parts(N, parts, [&](int part, int64_t begin, int64_t end) {
    float* col = is_pointwise(g) ? nullptr : scratch(ws.col, part, int64_t{chunk} * K);
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * g.in_size();
      float* yn = y + n * g.out_size();
      for (int first = 0; first < rows; first += chunk) {
        const int count = std::min(chunk, rows - first);
        if (col) im2col(xn, g, first, count, col);
        gemm(false, false, count, F, K, 1.0f, col ? col : xn, K, w, F, 0.0f,
             yn + int64_t{first} * F, F);
      }
      bias_activation(yn, b, rows, F, act);
    }
  });
}

void conv2d_backward(const float* x, const float* w, const float* dz, float* dx, float* dw,
                     float* db, int64_t N, const ConvGeometry& g, ConvWorkspace& ws) {
  if (N <= 0) {  // no images: zero gradients (parallel_parts would run no part)
    std::fill(dw, dw + g.patch() * g.F, 0.0f);
    if (db) std::fill(db, db + g.F, 0.0f);
    return;
  }
  const int parts = std::min<int64_t>(threads(), N);
  const int rows = static_cast<int>(g.OH * g.OW), K = static_cast<int>(g.patch()),
            F = static_cast<int>(g.F);
  const int64_t wsize = int64_t{K} * F;
  make_parts(ws.col, parts);
  make_parts(ws.dw, parts);
  const int chunk = is_pointwise(g) ? rows : pixel_chunk(g);
  // Tiled (core/conv_tiled.h) where it applies, except for a first layer
  // whose kernel rows hold under 4 taps: its tiles would have fewer than 8
  // sums to interleave, too few to cover the FMA latency, and the direct
  // kernel is faster (28x28x1 -> 32, 3x3: 35 against 31 GFLOP/s; 5x5: 30
  // against 50).
  const bool tiled = conv_tiled_applies(g, dx != nullptr) &&
                     (dx || g.KW * g.C >= 4 || !conv_direct_applies(g));
  // Other layers with few channels and filters: dw directly, without im2col;
  // dx, if wanted, by dcol = dz * w^T and col2im below.
  const bool direct = !tiled && conv_direct_applies(g);
  // dcol = dz * w^T as a plain product with a transposed copy of w: OpenBLAS's
  // small-matrix kernels run it faster than with w transposed in the call
  // (LeNet's 100x150x16: 0.31 against 0.42 ms per batch), with the same sums.
  float* wt = nullptr;
  // The data gradient is a forward convolution of dz with the filters turned
  // around: by Winograd's transforms where they apply (3x3 and 5x5).
  const ConvGeometry gd = data_gradient_geometry(g);
  const bool winograd_dx = tiled && dx && conv_uses_winograd(gd);
  const float* flipped = tiled && dx ? pack_filters(w, g, winograd_dx, true) : nullptr;
  if (!tiled && dx && !is_pointwise(g)) {
    if (ws.wt.capacity() < wsize) ws.wt.resize({wsize});
    wt = ws.wt.data();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t f = 0; f < F; ++f) wt[f * K + k] = w[k * F + f];
  }
  // A part's images on the tiled kernels, in a lambda of its own: a
  // std::function copies its closure to the heap every step, and
  // tests/alloc allows 128 bytes of such bookkeeping, which the closure
  // below (16 references) already reaches.
  const bool winograd_dw = tiled && conv_uses_winograd(g);
  const auto tiled_part = [&, stream = dx && conv_streams_output(N, g.in_size(), dx)](
                              float* dw_part, int64_t begin, int64_t end) {
    const float* xb = x + begin * g.in_size();
    const float* dzb = dz + begin * g.out_size();
    if (winograd_dw)
      conv2d_backward_weights_winograd(xb, dzb, end - begin, dw_part, g);
    else
      conv2d_backward_weights_tiled(xb, dzb, end - begin, dw_part, g);
    if (!dx) return;
    if (winograd_dx)
      return conv2d_forward_winograd(dzb, end - begin, flipped, nullptr, Activation::linear,
                                     dx + begin * g.in_size(), gd, stream);
    for (int64_t n = begin; n < end; ++n)
      conv2d_backward_data_tiled(dz + n * g.out_size(), flipped, dx + n * g.in_size(), g, stream);
  };
  parallel_parts(N, parts, [&](int part, int64_t begin, int64_t end) {
    // Part 0 accumulates straight into dw; the others into partial buffers.
    float* dw_part = part == 0 ? dw : scratch(ws.dw, part, wsize);
    if (tiled) return tiled_part(dw_part, begin, end);
    if (direct) {
      std::fill(dw_part, dw_part + wsize, 0.0f);
      if (conv_planar_applies(g)) {
        conv2d_backward_weights_planar(x + begin * g.in_size(), dz + begin * g.out_size(),
                                       end - begin, dw_part, g);
      } else {
        for (int64_t n = begin; n < end; ++n)
          conv2d_backward_weights_direct(x + n * g.in_size(), dz + n * g.out_size(), dw_part, g);
      }
      if (!dx) return;
    }
    float* col = is_pointwise(g) ? nullptr : scratch(ws.col, part, int64_t{chunk} * K);
    // Each image in the forward pass's chunks of output pixels, whose col
    // stays in the core's cache from im2col through both products (a whole
    // 56x56x64 image's is 7 MB: summed in chunks, its weight gradient runs at
    // 70-79% of the FMA peak, against 53-70% in one product).
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * g.in_size();
      const float* dzn = dz + n * g.out_size();
      float* dxn = dx ? dx + n * g.in_size() : nullptr;
      if (dxn && col) std::memset(dxn, 0, g.in_size() * sizeof(float));
      for (int first = 0; first < rows; first += chunk) {
        const int count = std::min(chunk, rows - first);
        const float* dzc = dzn + int64_t{first} * F;
        if (!direct) {
          const float* cn = xn + int64_t{first} * K;  // pointwise: x is col
          if (col) {
            im2col(xn, g, first, count, col);
            cn = col;
          }
          // dw (K,F) += col^T (K,count) * dz_chunk (count,F)
          const float beta = n == begin && first == 0 ? 0.0f : 1.0f;
          gemm(true, false, K, F, count, 1.0f, cn, K, dzc, F, beta, dw_part, F);
        }
        if (!dxn) continue;
        if (!col) {
          // dx_chunk (count,C) = dz_chunk (count,F) * w^T (F,C)
          gemm(false, true, count, K, F, 1.0f, dzc, F, w, F, 0.0f, dxn + int64_t{first} * K, K);
          continue;
        }
        // dcol (count,K) = dz_chunk (count,F) * wt (F,K) into the col buffer
        // (free again), scattered into dx_n.
        gemm(false, false, count, K, F, 1.0f, dzc, F, wt, K, 0.0f, col, K);
        col2im_add(col, g, first, count, dxn);
      }
    }
  });
  // Reduce the partial weight gradients in part order: deterministic.
  for (int part = 1; part < parts; ++part) {
    if (N * part / parts == N * (part + 1) / parts) continue;  // an empty part
    const float* p = ws.dw[part].data();
    for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
  }
  if (db) bias_grad(dz, N * rows, F, db);
}

void conv2d_forward_reference(const float* x, const float* w, const float* b, float* y, int64_t N,
                              const ConvGeometry& g) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t f = 0; f < g.F; ++f) {
          double sum = b ? b[f] : 0.0;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              int64_t ih = oh * g.SH - g.pad_top + kh, iw = ow * g.SW - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (int64_t c = 0; c < g.C; ++c)
                sum += static_cast<double>(x[((n * g.H + ih) * g.W + iw) * g.C + c]) *
                       w[((kh * g.KW + kw) * g.C + c) * g.F + f];
            }
          y[((n * g.OH + oh) * g.OW + ow) * g.F + f] = static_cast<float>(sum);
        }
}

void conv2d_backward_reference(const float* x, const float* w, const float* dz, float* dx,
                               float* dw, float* db, int64_t N, const ConvGeometry& g) {
  std::fill(dw, dw + g.patch() * g.F, 0.0f);
  if (db) std::fill(db, db + g.F, 0.0f);
  if (dx) std::fill(dx, dx + N * g.in_size(), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t f = 0; f < g.F; ++f) {
          float d = dz[((n * g.OH + oh) * g.OW + ow) * g.F + f];
          if (db) db[f] += d;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              int64_t ih = oh * g.SH - g.pad_top + kh, iw = ow * g.SW - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (int64_t c = 0; c < g.C; ++c) {
                int64_t xi = ((n * g.H + ih) * g.W + iw) * g.C + c;
                int64_t wi = ((kh * g.KW + kw) * g.C + c) * g.F + f;
                dw[wi] += x[xi] * d;
                if (dx) dx[xi] += w[wi] * d;
              }
            }
        }
}

}  // namespace ck
