#include "data/idx.h"

#include <zlib.h>

#include <filesystem>
#include <memory>

#include "core/error.h"

namespace ck {

const std::vector<std::string> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

namespace {

std::string missing_hint(const std::string& path) {
  if (path.rfind(kFashionMnistDir, 0) == 0)
    return "; it comes with Debian's dataset-fashion-mnist package "
           "(apt-get install dataset-fashion-mnist)";
  return "";
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{} not found{}", path, missing_hint(path));
  if (fs::is_directory(path, ec)) fail("{} is a directory, not an IDX file", path);
  // gzread reads both gzip and uncompressed files.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) fail("cannot open {}: {}", path, std::strerror(errno));
  auto read_exact = [&](void* buffer, unsigned bytes) -> unsigned {
    int got = gzread(file.get(), buffer, bytes);
    if (got < 0) {
      int code = 0;
      fail("{} is corrupt: {}", path, gzerror(file.get(), &code));
    }
    return static_cast<unsigned>(got);
  };
  uint8_t magic[4] = {};
  if (read_exact(magic, 4) != 4 || magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 8)
    fail("{} is not an IDX file (it starts with {:02x} {:02x} {:02x} {:02x}; IDX files start "
         "with 00 00, a type byte and a rank)",
         path, magic[0], magic[1], magic[2], magic[3]);
  if (magic[2] != 0x08)
    fail("{} holds IDX elements of type 0x{:02x}; convkit reads unsigned-byte (0x08) IDX files",
         path, magic[2]);
  IdxArray array;
  uint64_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t b[4];
    if (read_exact(b, 4) != 4) fail("{} is truncated inside its IDX header", path);
    uint64_t dim = (uint64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    total *= dim;
    if (total > (uint64_t{1} << 32))
      fail("{} declares more than 4 GiB of data in its IDX header; it is corrupt or not a dataset",
           path);
    array.dims.push_back(static_cast<int64_t>(dim));
  }
  // Grow as data actually arrives, so a lying header cannot make us allocate.
  uint64_t have = 0;
  while (have < total) {
    uint64_t want = std::min<uint64_t>(total - have, 1 << 24);
    array.data.resize(have + want);
    unsigned got = read_exact(array.data.data() + have, static_cast<unsigned>(want));
    have += got;
    if (got < want) break;
  }
  if (have < total)
    fail("{} is truncated: its header declares {} bytes of data, it holds {}", path, total, have);
  uint8_t extra;
  if (read_exact(&extra, 1) != 0)
    fail("{} has data past what its IDX header declares; it is corrupt", path);
  array.data.resize(total);
  return array;
}

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3 && images.dims.size() != 4)
    fail("{} holds a rank-{} array; images must be (N, H, W) or (N, H, W, C)", images_path,
         images.dims.size());
  if (labels.dims.size() != 1)
    fail("{} holds a rank-{} array; labels must be (N)", labels_path, labels.dims.size());
  if (images.dims[0] != labels.dims[0])
    fail("{} has {} images but {} has {} labels", images_path, images.dims[0], labels_path,
         labels.dims[0]);
  Dataset d;
  d.sample_shape = {images.dims[1], images.dims[2], images.dims.size() == 4 ? images.dims[3] : 1};
  d.pixels = std::move(images.data);
  int max_label = 0;
  d.targets.reserve(labels.data.size());
  for (uint8_t l : labels.data) {
    d.targets.push_back(l);
    max_label = std::max<int>(max_label, l);
  }
  if (class_names.empty())
    for (int k = 0; k <= max_label; ++k) class_names.push_back(std::to_string(k));
  if (max_label >= static_cast<int>(class_names.size()))
    fail("{} has label {}, but the dataset has only {} classes", labels_path, max_label,
         class_names.size());
  d.class_names = std::move(class_names);
  d.description = images_path;
  return d;
}

Dataset load_idx_dir(const std::string& dir, bool train,
                     const std::vector<std::string>& class_names) {
  namespace fs = std::filesystem;
  const std::string prefix = train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    fs::path plain = fs::path(dir) / stem, gz = fs::path(dir) / (stem + ".gz");
    std::error_code ec;
    if (fs::exists(gz, ec)) return gz.string();
    if (fs::exists(plain, ec)) return plain.string();
    fail("{} not found (nor {}.gz){}", plain.string(), stem, missing_hint(dir));
  };
  // Images first, so a directory missing both names the images file.
  const std::string images = find(prefix + "-images-idx3-ubyte");
  const std::string labels = find(prefix + "-labels-idx1-ubyte");
  Dataset d = load_idx_pair(images, labels, class_names);
  d.description = fs::path(dir).string() + " (" + (train ? "train" : "test") + ")";
  return d;
}

}  // namespace ck
