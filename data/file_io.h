#pragma once
// Whole-file reads with a size limit. (Writes go through
// core/atomic_file.h, which never leaves a partial file behind.)
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ck {

// Throws ck::Error naming the file when it is missing, a directory,
// unreadable, or larger than `max_bytes`.
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes);

}  // namespace ck
