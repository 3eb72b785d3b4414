#pragma once
// IDX files (the MNIST format), raw or gzip-compressed:
//   bytes 0-1: 0, byte 2: element type (0x08 = unsigned byte), byte 3: rank,
//   then rank big-endian uint32 dimensions, then the elements.
// convkit reads unsigned-byte IDX files, which is what MNIST-style datasets use.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ck {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Throws ck::Error naming the file: missing, unreadable, not IDX, an element
// type other than unsigned byte, a declared size over 4 GiB, or data shorter
// or longer than the header declares.
IdxArray read_idx(const std::string& path);

// Images (N,H,W) or (N,H,W,C) + labels (N) -> a dataset of (H,W,C) samples
// with classes 0..max label. `class_names` may be empty (names become "0".."9").
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names = {});

// The Fashion-MNIST copy installed by Debian's dataset-fashion-mnist package.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
extern const std::vector<std::string> kFashionMnistClasses;

// A directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]: `train` picks the
// first pair, otherwise the t10k pair.
Dataset load_idx_dir(const std::string& dir, bool train,
                     const std::vector<std::string>& class_names = {});

}  // namespace ck
