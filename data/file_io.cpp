#include "data/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace ck {

namespace {
using File = std::unique_ptr<FILE, int (*)(FILE*)>;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("{} is a directory, not a file", path);
  // A FIFO or device would block or never end: only regular files are read.
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) fail("{} is not a regular file", path);
  File file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) fail("cannot open {}: {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  // Read in chunks rather than trusting the reported size (pipes, files that grow).
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) {
    if (static_cast<int64_t>(bytes.size() + got) > max_bytes)
      fail("{} is larger than {} MiB; convkit refuses files that large here", path,
           max_bytes >> 20);
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  if (std::ferror(file.get())) fail("cannot read {}: {}", path, std::strerror(errno));
  return bytes;
}

}  // namespace ck
