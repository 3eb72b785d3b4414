#include "data/file_io.h"

#include <fmt/format.h>
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

File open_regular_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("{} is a directory, not a file", path);
  // A FIFO or device would block or never end: only regular files are read.
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) fail("{} is not a regular file", path);
  File file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) fail("cannot open {}: {}", path, std::strerror(errno));
  return file;
}

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not one.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  const size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                        : lead >= 0xE0 && lead <= 0xEF ? 3
                        : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                       : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return length;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  File file = open_regular_file(path);
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

std::vector<uint8_t> read_file_head(const std::string& path, size_t max_bytes) {
  File file = open_regular_file(path);
  std::vector<uint8_t> bytes(max_bytes);
  bytes.resize(std::fread(bytes.data(), 1, max_bytes, file.get()));
  if (std::ferror(file.get())) fail("cannot read {}: {}", path, std::strerror(errno));
  return bytes;
}

FileKind sniff_file_kind(std::span<const uint8_t> head, uint64_t file_size) {
  // safetensors: little-endian header length, then a JSON object, which the
  // format requires to begin with '{'.
  if (head.size() >= 9 && head[8] == '{') {
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | head[i];
    if (length >= 2 && length <= file_size - 8) return FileKind::safetensors;
  }
  size_t control = 0;
  for (uint8_t b : head) {
    if (b == 0) return FileKind::binary;
    if (b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v') ++control;
  }
  return control * 100 > head.size() ? FileKind::binary : FileKind::text;
}

std::string printable_excerpt(std::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0, i = 0;
  for (; i < text.size() && chars < max_chars; ++chars) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    const size_t length = b < 0x80 ? 1 : utf8_sequence_length(text, i);
    if ((b < 0x20 && b != '\t') || b == 0x7F || length == 0) {
      out += fmt::format("\\x{:02X}", b);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return i < text.size() ? out + "..." : out;
}

}  // namespace ck
