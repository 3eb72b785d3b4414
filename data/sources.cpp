#include "data/sources.h"

#include <filesystem>

#include "core/error.h"
#include "data/idx.h"

namespace ck {

DataSplits load_data(const std::string& spec) {
  namespace fs = std::filesystem;
  DataSplits out;
  if (spec == "fashion-mnist" || spec == "fmnist") {
    out.train = load_idx_dir(kFashionMnistDir, true, kFashionMnistClasses);
    out.test = load_idx_dir(kFashionMnistDir, false, kFashionMnistClasses);
    out.name = "Fashion-MNIST";
    return out;
  }
  std::error_code ec;
  if (!fs::exists(spec, ec))
    fail("--data {}: no such file or directory; pass fashion-mnist or a directory of IDX files",
         spec);
  if (fs::is_directory(spec, ec)) {
    out.train = load_idx_dir(spec, true);
    std::error_code ec2;
    bool has_test = fs::exists(fs::path(spec) / "t10k-images-idx3-ubyte.gz", ec2) ||
                    fs::exists(fs::path(spec) / "t10k-images-idx3-ubyte", ec2);
    if (has_test) out.test = load_idx_dir(spec, false, out.train.class_names);
    out.name = spec;
    return out;
  }
  fail("--data {}: not a directory of IDX files; pass fashion-mnist or a directory holding "
       "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]",
       spec);
}

void limit_samples(Dataset& data, int64_t limit) {
  if (limit < 0) fail("--limit must be 0 (all) or a positive count, got {}", limit);
  if (limit == 0 || limit >= data.size()) return;
  std::vector<int64_t> first(limit);
  for (int64_t i = 0; i < limit; ++i) first[i] = i;
  data = data.subset(first);
}

}  // namespace ck
