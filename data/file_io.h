#pragma once
// Whole-file reads with a size limit. (Writes go through
// core/atomic_file.h, which never leaves a partial file behind.)
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ck {

// Throws ck::Error naming the file when it is missing, a directory,
// unreadable, or larger than `max_bytes`.
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes);

// What a file's first bytes show it to be, to refuse the wrong kind of file
// before reading it as something it is not.
enum class FileKind {
  text,         // no NUL bytes and few control characters
  safetensors,  // an 8-byte header length that fits the file, then '{' (a model file)
  binary,       // anything else: an image, an archive, ...
};
// Requires: `head` is the start of the file (a few KiB are enough).
FileKind sniff_file_kind(std::span<const uint8_t> head, uint64_t file_size);
// Up to the first `max_bytes` of the file at `path` (fewer when it is shorter);
// throws as read_file_bytes.
std::vector<uint8_t> read_file_head(const std::string& path, size_t max_bytes);

// `text` cut to `max_chars` ("..." marks a cut) with control characters and
// bytes that are not UTF-8 written as \xNN: safe to print in a message.
std::string printable_excerpt(std::string_view text, size_t max_chars);

}  // namespace ck
