#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace ck {

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool shape_known(const Shape& shape) {
  return std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? std::string("None") : std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string shape_compact(const Shape& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += "x";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s;
}

Shape parse_shape(const std::string& text, const std::string& what) {
  Shape shape;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('x', pos);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(pos, end - pos);
    char* stop = nullptr;
    long long value = part.empty() ? 0 : std::strtoll(part.c_str(), &stop, 10);
    if (part.empty() || *stop != '\0' || value <= 0 || value > (1 << 20))
      fail("{} \"{}\" is not a shape: write positive sizes joined by x, e.g. 28x28x1", what, text);
    shape.push_back(value);
    pos = end + 1;
  }
  return shape;
}

namespace {
std::shared_ptr<float> allocate(int64_t count) {
  if (count == 0) return {};
  // Round up so the allocation size is a multiple of the alignment, as
  // aligned_alloc requires.
  size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}
}  // namespace

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  if (!shape_known(shape_)) fail("cannot allocate a tensor of unknown shape {}", shape_str(shape_));
  size_ = shape_size(shape_);
  capacity_ = size_;
  storage_ = allocate(size_);
  data_ = storage_.get();
  if (size_) std::memset(data_, 0, size_ * sizeof(float));
}

Tensor Tensor::slice(int64_t begin, int64_t count) const {
  Tensor view;
  view.storage_ = storage_;
  view.shape_ = shape_;
  view.shape_[0] = count;
  int64_t row = row_size();
  view.data_ = data_ + begin * row;
  view.size_ = count * row;
  view.capacity_ = view.size_;
  return view;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_size(shape) != size_)
    fail("cannot reshape {} ({} values) to {}", shape_str(shape_), size_, shape_str(shape));
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

Tensor Tensor::clone() const {
  Tensor copy(shape_);
  if (size_) std::memcpy(copy.data_, data_, size_ * sizeof(float));
  return copy;
}

void Tensor::fill(float value) { std::fill(data_, data_ + size_, value); }

void Tensor::copy_from(const Tensor& other) {
  if (other.size_ != size_) fail("copy of {} values into a tensor of {}", other.size_, size_);
  if (size_) std::memmove(data_, other.data_, size_ * sizeof(float));
}

void Tensor::resize(const Shape& shape) {
  int64_t n = shape_size(shape);
  if (n > capacity_) {
    storage_ = allocate(n);
    data_ = storage_.get();
    capacity_ = n;
  }
  shape_ = shape;
  size_ = n;
}

}  // namespace ck
