#include "core/kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "core/parallel.h"
#include "core/simd.h"

namespace ck {

std::string activation_name(Activation act) {
  switch (act) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::softmax: return "softmax";
  }
  return "?";
}

std::optional<Activation> parse_activation(const std::string& name) {
  for (Activation a : {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh,
                       Activation::softmax})
    if (activation_name(a) == name) return a;
  return std::nullopt;
}

// The last n % kLanes values go through one masked vector, not a scalar
// loop: im2col and col2im call these for runs of KW*C (30 for LeNet's second
// convolution), where the scalar tail cost as much as the vectors.
void copy_row(float* dst, const float* src, int64_t n) {
  int64_t j = 0;
  for (; j + simd::kLanes <= n; j += simd::kLanes) simd::store(dst + j, simd::load(src + j));
  if (j < n) {
    const int tail = static_cast<int>(n - j);
    simd::store_first(dst + j, simd::load_first(src + j, tail), tail);
  }
}

void add_row(float* row, const float* other, int64_t n) {
  int64_t j = 0;
  for (; j + simd::kLanes <= n; j += simd::kLanes)
    simd::store(row + j, simd::add(simd::load(row + j), simd::load(other + j)));
  if (j < n) {
    const int tail = static_cast<int>(n - j);
    simd::store_first(row + j, simd::add(simd::load_first(row + j, tail), simd::load_first(other + j, tail)),
                      tail);
  }
}

namespace {

float sigmoid(float x) {
  // Two branches keep exp() from overflowing for large |x|.
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  float e = std::exp(x);
  return e / (1.0f + e);
}

// Scalar activation of one value (not softmax).
float activate(float x, Activation act) {
  switch (act) {
    case Activation::relu: return x < 0.0f ? 0.0f : x;  // keeps NaN
    case Activation::sigmoid: return sigmoid(x);
    case Activation::tanh: return std::tanh(x);
    default: return x;
  }
}

void relu_bias_row(float* row, const float* bias, int64_t cols) {
  const simd::vec zero = simd::set1(0.0f);
  int64_t j = 0;
  if (bias) {
    for (; j + simd::kLanes <= cols; j += simd::kLanes)
      simd::store(row + j, simd::max(zero, simd::add(simd::load(row + j), simd::load(bias + j))));
    for (; j < cols; ++j) row[j] = activate(row[j] + bias[j], Activation::relu);
  } else {
    for (; j + simd::kLanes <= cols; j += simd::kLanes)
      simd::store(row + j, simd::max(zero, simd::load(row + j)));
    for (; j < cols; ++j) row[j] = activate(row[j], Activation::relu);
  }
}

void softmax_row(const float* z, float* p, int64_t cols) {
  float top = z[0];
  for (int64_t j = 1; j < cols; ++j) top = std::max(top, z[j]);
  if (std::isnan(top)) top = 0.0f;  // let NaN flow through to the output
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) {
    p[j] = std::exp(z[j] - top);
    sum += p[j];
  }
  float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < cols; ++j) p[j] *= inv;
}

}  // namespace

void softmax_rows(const float* z, float* p, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) softmax_row(z + i * cols, p + i * cols, cols);
}

void bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, Activation act) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = y + i * cols;
    if (act == Activation::relu) {
      relu_bias_row(row, bias, cols);
      continue;
    }
    if (bias) add_row(row, bias, cols);
    if (act == Activation::softmax)
      softmax_row(row, row, cols);
    else if (act != Activation::linear)
      for (int64_t j = 0; j < cols; ++j) row[j] = activate(row[j], act);
  }
}

void bias_activation_reference(float* y, const float* bias, int64_t rows, int64_t cols,
                               Activation act) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = y + i * cols;
    for (int64_t j = 0; j < cols; ++j) row[j] += bias ? bias[j] : 0.0f;
    if (act == Activation::softmax) {
      double top = row[0], sum = 0.0;
      for (int64_t j = 1; j < cols; ++j) top = std::max<double>(top, row[j]);
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - top);
      for (int64_t j = 0; j < cols; ++j) row[j] = static_cast<float>(std::exp(row[j] - top) / sum);
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] = activate(row[j], act);
    }
  }
}

namespace {

void activation_backward_serial(const float* y, const float* dy, float* dz, int64_t rows,
                                int64_t cols, Activation act) {
  int64_t n = rows * cols;
  switch (act) {
    case Activation::linear:
      if (dz != dy) std::copy(dy, dy + n, dz);
      return;
    case Activation::relu: {
      int64_t i = 0;
      for (; i + simd::kLanes <= n; i += simd::kLanes)
        simd::store(dz + i, simd::gate_positive(simd::load(dy + i), simd::load(y + i)));
      for (; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    }
    case Activation::sigmoid: {
      const simd::vec one = simd::set1(1.0f);
      int64_t i = 0;
      for (; i + simd::kLanes <= n; i += simd::kLanes) {
        simd::vec yv = simd::load(y + i);
        simd::store(dz + i, simd::mul(simd::load(dy + i), simd::mul(yv, simd::sub(one, yv))));
      }
      for (; i < n; ++i) dz[i] = dy[i] * (y[i] * (1.0f - y[i]));
      return;
    }
    case Activation::tanh: {
      const simd::vec one = simd::set1(1.0f);
      int64_t i = 0;
      for (; i + simd::kLanes <= n; i += simd::kLanes) {
        simd::vec yv = simd::load(y + i);
        simd::store(dz + i, simd::mul(simd::load(dy + i), simd::sub(one, simd::mul(yv, yv))));
      }
      for (; i < n; ++i) dz[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    }
    case Activation::softmax:
      activation_backward_reference(y, dy, dz, rows, cols, act);
      return;
  }
}

// Below this many values a split costs more than it saves.
constexpr int64_t kParallelValues = int64_t{1} << 15;

}  // namespace

// Each row's gradient depends on that row alone, so splitting the rows across
// threads gives the same values at any thread count.
void activation_backward(const float* y, const float* dy, float* dz, int64_t rows, int64_t cols,
                         Activation act) {
  if (rows * cols < kParallelValues || threads() == 1)
    return activation_backward_serial(y, dy, dz, rows, cols, act);
  const int64_t grain = std::max<int64_t>(1, kParallelValues / std::max<int64_t>(cols, 1));
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    activation_backward_serial(y + begin * cols, dy + begin * cols, dz + begin * cols, end - begin,
                               cols, act);
  });
}

void activation_backward_reference(const float* y, const float* dy, float* dz, int64_t rows,
                                   int64_t cols, Activation act) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* yr = y + i * cols;
    const float* dyr = dy + i * cols;
    float* dzr = dz + i * cols;
    if (act == Activation::softmax) {
      double dot = 0.0;
      for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(dyr[j]) * yr[j];
      for (int64_t j = 0; j < cols; ++j) dzr[j] = yr[j] * (dyr[j] - static_cast<float>(dot));
      continue;
    }
    for (int64_t j = 0; j < cols; ++j) {
      float d = 1.0f;
      if (act == Activation::relu) d = yr[j] > 0.0f ? 1.0f : 0.0f;
      if (act == Activation::sigmoid) d = yr[j] * (1.0f - yr[j]);
      if (act == Activation::tanh) d = 1.0f - yr[j] * yr[j];
      dzr[j] = dyr[j] * d;
    }
  }
}

namespace {

// Columns [c0, c0 + NB * kLanes) of dz (rows, cols), of which the last vector
// holds `tail` real columns, summed over the rows in one pass: db[j] = sum_i
// dz[i][j], each block's running sum in a register. One pass, not one per
// block: learning-rate-10's first layer has 32 filters, 1.6M rows (205 MB)
// per batch, and a pass per block of 16 columns read it twice, each time
// waiting on a single chain of additions.
template <int NB>
void sum_column_blocks(const float* dz, int64_t rows, int64_t cols, int64_t c0, int tail,
                       float* db) {
  simd::vec sum[NB];
  for (int k = 0; k < NB; ++k) sum[k] = simd::set1(0.0f);
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = dz + i * cols + c0;
    for (int k = 0; k < NB - 1; ++k) sum[k] = simd::add(sum[k], simd::load(row + k * simd::kLanes));
    const float* last = row + (NB - 1) * simd::kLanes;
    sum[NB - 1] = simd::add(
        sum[NB - 1], tail == simd::kLanes ? simd::load(last) : simd::load_first(last, tail));
  }
  for (int k = 0; k < NB - 1; ++k) simd::store(db + c0 + k * simd::kLanes, sum[k]);
  simd::store_first(db + c0 + (NB - 1) * simd::kLanes, sum[NB - 1], tail);
}

constexpr int kBlocksPerPass = 8;  // running sums held in registers at once

template <std::size_t... I>
constexpr auto column_block_table(std::index_sequence<I...>) {
  return std::array{&sum_column_blocks<static_cast<int>(I) + 1>...};
}
constexpr auto kSumColumnBlocks = column_block_table(std::make_index_sequence<kBlocksPerPass>{});

}  // namespace

// One thread, each db[j] summed over the rows in order: the same additions
// in the same order as db[j] += dz[i][j] row by row, at any thread count.
// Threads splitting the columns were slower than one at every size
// measured (two threads, one core's time: 12544 x 64 0.30 against 0.15 ms,
// 25088 x 256 4.1 against 2.5, 6272 x 512 1.5 against 0.9; 1.6M x 32 the
// same): each pulled whole rows through its caches, the prefetchers
// fetching the other's columns too. Splitting the rows would change the
// sums' order with the thread count.
void bias_grad(const float* dz, int64_t rows, int64_t cols, float* db) {
  const int64_t block = simd::kLanes, blocks = (cols + block - 1) / block;
  for (int64_t b = 0; b < blocks; b += kBlocksPerPass) {
    const int nb = static_cast<int>(std::min<int64_t>(kBlocksPerPass, blocks - b));
    const int64_t c0 = b * block, c1 = std::min(cols, (b + nb) * block);
    const int tail = static_cast<int>(c1 - (c0 + (nb - 1) * block));
    kSumColumnBlocks[nb - 1](dz, rows, cols, c0, tail, db);
  }
}

}  // namespace ck
