#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ck {

namespace {

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write {}: {}", path, errno_text());
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomically(const std::string& path,
                           const std::function<void(const WriteBytes&)>& produce) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // Appended piecewise: "." + string trips a false -Wrestrict in g++ 12.
  std::string temp_name = ".";
  temp_name += target.filename().string();
  temp_name += ".tmp." + std::to_string(::getpid());
  const std::string temp = (dir / temp_name).string();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write {}: {}", path, errno_text());
  try {
    produce([&](const char* data, size_t size) { write_all(fd, data, size, path); });
    if (::fsync(fd) != 0) fail("cannot write {}: {}", path, errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(temp.c_str());
    fail("cannot write {}: {}", path, why);
  }
  // Make the rename itself durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void check_writable_path(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::exists(dir, ec))
    fail("cannot write {}: the directory {} does not exist (create it first: mkdir -p {})", path,
         dir.string(), dir.string());
  if (!fs::is_directory(dir, ec)) fail("cannot write {}: {} is not a directory", path, dir.string());
  if (fs::is_directory(target, ec)) fail("cannot write {}: it is a directory; name a file", path);
}

void write_file_atomically(const std::string& path, std::string_view content) {
  write_file_atomically(path, [&](const WriteBytes& write) { write(content.data(), content.size()); });
}

}  // namespace ck
