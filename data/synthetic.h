#pragma once
// Synthetic data as the articles make it with np.random, from a seed:
//
//   synthetic:images=100,shape=32x32x3,values=0-255,classes=10
//
//   images=N     samples (default 100)
//   shape=HxWxC  sample shape (default 32x32x3); a single number D gives features
//   values=0-255 uniform integers 0..255 (np.random.randint(0, 256)), stored as 8 bits
//   values=0-1   uniform floats in [0, 1) (np.random.random)
//   classes=K    labels uniform in 0..K-1 (np.random.randint(0, K)), default 10
//   test=N       also a test split of N samples (default none)
//   seed=S       default 0
// The values come from convkit's generator, not numpy's: same distributions,
// different numbers. Labels are independent of the images: there is nothing
// to learn, only to memorize.
#include <string>

#include "data/dataset.h"

namespace ck {

bool is_synthetic_spec(const std::string& spec);

struct SyntheticSpec {
  int64_t images = 100, test = 0;
  Shape shape = {32, 32, 3};
  bool bytes = true;  // 0-255 integers, else [0, 1) floats
  int classes = 10;
  uint64_t seed = 0;
};
// Throws ck::Error quoting the spec and naming the bad key.
SyntheticSpec parse_synthetic(const std::string& spec);
// `count` samples from stream `stream` (0: training, 1: test), in numpy's
// order: all the images, then all the labels.
Dataset make_synthetic(const SyntheticSpec& spec, int64_t count, uint64_t stream);

}  // namespace ck
