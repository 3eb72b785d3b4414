#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ck {

namespace {

std::string errno_text() { return std::strerror(errno); }

// The temporary files being written, in fixed slots (a signal handler may
// neither allocate nor lock): free -> claimed (path being copied) -> ready.
enum SlotState { kFree, kClaimed, kReady };
struct PendingSlot {
  std::atomic<int> state{kFree};
  char path[4096];
};
PendingSlot pending[16];

// Registers `temp` for remove_unfinished_files() while it lives. A path too
// long for a slot, or more writes at once than slots, are simply not
// registered: the write itself does not depend on it.
class PendingFile {
 public:
  explicit PendingFile(const std::string& temp) {
    if (temp.size() >= sizeof(PendingSlot::path)) return;
    for (PendingSlot& s : pending) {
      int expected = kFree;
      if (!s.state.compare_exchange_strong(expected, kClaimed)) continue;
      std::memcpy(s.path, temp.c_str(), temp.size() + 1);
      s.state.store(kReady, std::memory_order_release);
      slot_ = &s;
      return;
    }
  }
  ~PendingFile() {
    if (slot_) slot_->state.store(kFree, std::memory_order_release);
  }
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;

 private:
  PendingSlot* slot_ = nullptr;
};

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
  const PendingFile pending_file(temp);
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

void remove_unfinished_files() {
  for (PendingSlot& s : pending)
    if (s.state.load(std::memory_order_acquire) == kReady) ::unlink(s.path);
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
