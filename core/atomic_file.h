#pragma once
// Atomic file writes: a temporary file in the same directory (".<name>.tmp.<pid>"),
// fsync, rename over the target, fsync of the directory. A crash at any moment
// leaves either the old file or the complete new one, never a partial file.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ck {

// Writes bytes to the temporary file; throws ck::Error naming the target.
using WriteBytes = std::function<void(const char* data, size_t size)>;

// `produce` writes the whole content through the function it is given. On any
// exception the temporary file is removed and the target is left untouched.
void write_file_atomically(const std::string& path, const std::function<void(const WriteBytes&)>& produce);
void write_file_atomically(const std::string& path, std::string_view content);

// Unlinks the temporary files of the writes in progress, leaving their targets
// as they were. Async-signal-safe: for a signal handler about to end the
// process (a second Ctrl-C), which would otherwise leave ".<name>.tmp.<pid>".
void remove_unfinished_files();

// For a check before long work (training, then --save): throws ck::Error
// when `path` cannot be written because its directory is missing or is not
// a directory, saying so and how to fix it.
void check_writable_path(const std::string& path);

}  // namespace ck
