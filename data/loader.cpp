#include "data/loader.h"

#include <algorithm>

#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace ck {

Loader::Loader(const Dataset& data, std::vector<int64_t> indices, int batch_size,
               const Preprocessing& preprocessing, bool shuffle, uint64_t seed)
    : data_(data),
      indices_(std::move(indices)),
      batch_size_(batch_size),
      pre_(preprocessing),
      shuffle_(shuffle),
      seed_(seed) {
  if (batch_size <= 0) fail("--batch must be a positive number, got {}", batch_size);
  order_ = indices_;
}

void Loader::start_epoch(int epoch, int64_t skip) {
  order_ = indices_;
  if (shuffle_) {
    Rng rng = Rng::derive(seed_, 0x5eed, static_cast<uint64_t>(epoch));
    rng.shuffle(std::span<int64_t>(order_));
  }
  cursor_ = std::min<int64_t>(skip * batch_size_, samples());
}

bool Loader::next(Batch& batch) {
  if (cursor_ >= samples()) return false;
  const int64_t n = std::min<int64_t>(batch_size_, samples() - cursor_);
  const int64_t size = data_.sample_size(), ts = data_.target_size;
  Shape shape = {n};
  shape.insert(shape.end(), data_.sample_shape.begin(), data_.sample_shape.end());
  batch.x.resize(shape);
  batch.indices.assign(order_.begin() + cursor_, order_.begin() + cursor_ + n);
  batch.targets.resize(n * ts);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = batch.indices[i];
    std::copy_n(data_.targets.begin() + s * ts, ts, batch.targets.begin() + i * ts);
  }
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) data_.copy_sample(batch.indices[i], batch.x.data() + i * size);
    pre_.apply(batch.x.data() + begin * size, end - begin, size);
  });
  batch.weights.clear();
  if (!class_weights_.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      const auto label = static_cast<size_t>(batch.targets[i * ts]);
      batch.weights.push_back(label < class_weights_.size() ? class_weights_[label] : 1.0f);
    }
  }
  cursor_ += n;
  return true;
}

}  // namespace ck
