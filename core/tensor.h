#pragma once
// Tensor: a float32 array with a shape, stored contiguously in row-major order.
// Images are NHWC: the last dimension (channels) varies fastest.
//
// Storage is 64-byte aligned (one cache line, one AVX-512 register) and shared
// between a tensor and its views, so a batch slice costs no copy and no
// allocation. A default-constructed tensor is empty (no storage, rank 0).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ck {

// A shape; -1 marks a dimension that is not known until data arrives (Keras's
// None), e.g. (-1, -1, 3) for images of any size.
using Shape = std::vector<int64_t>;

// Product of the dimensions. Requires: every dimension known (>= 0).
int64_t shape_size(const Shape& shape);
bool shape_known(const Shape& shape);
// "(28, 28, 1)"; unknown dimensions print as None, as in Keras.
std::string shape_str(const Shape& shape);
// "28x28x1", the form used on the command line.
std::string shape_compact(const Shape& shape);
// Parses "28x28x1" or "784"; throws ck::Error naming `what` on a bad string.
Shape parse_shape(const std::string& text, const std::string& what);

class Tensor {
 public:
  Tensor() = default;
  // Ensures: a new zero-filled tensor of `shape` with its own storage.
  explicit Tensor(Shape shape);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Elements per index of the first dimension (one sample for a batch).
  int64_t row_size() const { return shape_.empty() || shape_[0] == 0 ? 0 : size_ / shape_[0]; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // A view of rows [begin, begin + count) of the first dimension, sharing storage.
  // Requires: 0 <= begin, begin + count <= dim(0).
  Tensor slice(int64_t begin, int64_t count) const;
  // A view with another shape of the same size, sharing storage.
  Tensor reshaped(Shape shape) const;
  // A deep copy with its own storage.
  Tensor clone() const;

  void fill(float value);
  void zero() { fill(0.0f); }
  // Copies the values of `other`. Requires: same size.
  void copy_from(const Tensor& other);

  // Makes this tensor hold `shape`, reusing the current storage when it is
  // large enough: the training loop allocates no storage in steady state
  // (tests/alloc counts it).
  // Contents are unspecified afterwards.
  void resize(const Shape& shape);
  // Elements the current storage can hold.
  int64_t capacity() const { return capacity_; }

 private:
  std::shared_ptr<float> storage_;
  float* data_ = nullptr;
  Shape shape_;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

}  // namespace ck
