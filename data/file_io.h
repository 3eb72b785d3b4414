#pragma once
// Whole-file reads with a size limit, and writes that never leave a partial
// file behind: bytes go to a temporary file in the same directory, which is
// renamed over the target only once it is complete.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ck {

// Throws ck::Error naming the file when it is missing, a directory,
// unreadable, or larger than `max_bytes`.
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes);

// Ensures: `path` holds exactly `bytes`, or is untouched when this throws.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace ck
