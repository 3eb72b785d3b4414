#include "data/loader.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace ck {

namespace {
constexpr uint64_t kAugment = uint64_t{0xa06} << 32;
constexpr uint64_t kResample = 0x5a3b1e;
}  // namespace

Loader::Loader(const Dataset& data, std::vector<int64_t> indices, int batch_size,
               const Preprocessing& preprocessing, bool shuffle, uint64_t seed)
    : Loader(data, std::move(indices), preprocessing,
             LoaderOptions{batch_size, shuffle, seed, nullptr, Resample::none, true}) {}

Loader::Loader(const Dataset& data, std::vector<int64_t> indices, const Preprocessing& preprocessing,
               const LoaderOptions& options)
    : data_(data), indices_(std::move(indices)), pre_(preprocessing), options_(options) {
  if (options.batch_size <= 0) fail("--batch must be a positive number, got {}", options.batch_size);
  if (options.augment && !options.augment->empty() && !data.is_image())
    fail("--augment transforms images; {} holds {} features", data.description, data.sample_size());
  epoch_size_ = static_cast<int64_t>(indices_.size());
  if (options.resample != Resample::none) {
    if (data.class_names.empty()) fail("--resample needs class labels; this data has numeric targets");
    by_class_.resize(data.class_names.size());
    for (int64_t i : indices_) by_class_[data.label(i)].push_back(i);
    epoch_size_ = resampled_size(by_class_, options.resample);
  }
  order_ = indices_;
}

Loader::~Loader() { drain(); }

void Loader::drain() {
  if (!pending_.valid()) return;
  try {
    pending_.get();
  } catch (...) {
    // A batch nobody will read; its error is not this caller's.
  }
}

void Loader::start_epoch(int epoch, int64_t skip) {
  drain();
  epoch_ = epoch;
  if (options_.resample != Resample::none) {
    Rng rng = Rng::derive(options_.seed, kResample, static_cast<uint64_t>(epoch));
    order_ = resample(by_class_, options_.resample, rng);
  } else {
    order_ = indices_;
  }
  if (options_.shuffle) {
    Rng rng = Rng::derive(options_.seed, 0x5eed, static_cast<uint64_t>(epoch));
    rng.shuffle(std::span<int64_t>(order_));
  }
  cursor_ = std::min<int64_t>(skip * options_.batch_size, samples());
  launch();
}

void Loader::launch() {
  if (!options_.prefetch || cursor_ >= samples()) return;
  const int64_t begin = cursor_, n = std::min<int64_t>(options_.batch_size, samples() - cursor_);
  const int epoch = epoch_;
  pending_ = std::async(std::launch::async, [this, begin, n, epoch] { prepare(ready_, begin, n, epoch); });
}

bool Loader::next(Batch& batch) {
  if (cursor_ >= samples()) return false;
  const int64_t n = std::min<int64_t>(options_.batch_size, samples() - cursor_);
  const auto start = std::chrono::steady_clock::now();
  if (pending_.valid()) {
    pending_.get();  // rethrows the preparation's error
    std::swap(batch, ready_);
  } else {
    prepare(batch, cursor_, n, epoch_);
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cursor_ += n;
  launch();
  return true;
}

void Loader::prepare(Batch& batch, int64_t begin, int64_t n, int epoch) const {
  const Shape input = pre_.input_shape().empty() ? data_.sample_shape : pre_.input_shape();
  const int64_t stored_size = data_.sample_size(), input_size = shape_size(input);
  const int64_t ts = data_.target_size;
  Shape shape = {n};
  shape.insert(shape.end(), input.begin(), input.end());
  batch.x.resize(shape);
  batch.indices.assign(order_.begin() + begin, order_.begin() + begin + n);
  batch.targets.resize(n * ts);
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(data_.targets.begin() + batch.indices[i] * ts, ts, batch.targets.begin() + i * ts);
  const Augmentation* augment = options_.augment && !options_.augment->empty() ? options_.augment : nullptr;
  // Straight copies when nothing reshapes the sample: the common 8-bit case.
  const bool direct = !augment && input_size == stored_size && data_.is_u8();
  const int64_t grain = data_.streamed() ? 2 : std::max<int64_t>(1, 8192 / std::max<int64_t>(stored_size, 1));
  parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
    std::vector<float> stored(direct ? 0 : stored_size), work;
    for (int64_t i = lo; i < hi; ++i) {
      float* out = batch.x.data() + i * input_size;
      if (direct) {
        data_.copy_sample(batch.indices[i], out);
      } else {
        data_.copy_sample(batch.indices[i], stored.data());
        if (!data_.is_u8() && !pre_.stored_shape.empty()) pre_.impute_missing(stored.data(), 1);
        if (augment) {
          Rng rng = Rng::derive(options_.seed, kAugment | static_cast<uint64_t>(epoch),
                                static_cast<uint64_t>(begin + i));
          augment->apply(stored.data(), data_.sample_shape, out, rng, work);
        } else if (pre_.crop_height > 0) {
          pre_.finish_geometry(stored.data(), out);
        } else {
          std::copy_n(stored.data(), stored_size, out);
        }
      }
      pre_.scale(out, 1, input_size);
    }
  });
  batch.weights.clear();
  if (!class_weights_.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      const auto label = static_cast<size_t>(batch.targets[i * ts]);
      batch.weights.push_back(label < class_weights_.size() ? class_weights_[label] : 1.0f);
    }
  }
}

}  // namespace ck
