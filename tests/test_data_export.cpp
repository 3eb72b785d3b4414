// convkit data export is all or nothing: Ctrl-C or a failed write midway
// leaves no partial dataset that training would accept.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "data/export.h"
#include "data/synthetic.h"
#include "data_helpers.h"
#include "helpers.h"

namespace ck {

namespace fs = std::filesystem;
using test::contains;

namespace {

// Starts convkit with `args` in the background, stdout and stderr to `log`.
pid_t spawn_convkit(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(nullptr);  // else the child writes the test's buffered output again
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(CONVKIT_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(log.c_str(), "w", stdout) || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(126);
    execv(CONVKIT_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int64_t files_under(const fs::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    n += it->is_regular_file(ec) ? 1 : 0;
  return n;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Dataset synthetic_images(int64_t count) {
  return make_synthetic(
      parse_synthetic(fmt::format("synthetic:images={},shape=8x8x1,values=0-255,classes=3", count)),
      count, 0);
}

}  // namespace

TEST_CASE("data export: Ctrl-C stops between files and removes the partial export") {
  test::TempDir dir;
  const std::string to = dir / "bigexp", log = dir / "log.txt";
  // All 60,000 training images: far more than are written before the signal.
  const pid_t pid = spawn_convkit({"data", "export", "--to", to, "--format", "png"}, log);
  bool signalled = false;
  for (int i = 0; i < 3000 && !signalled; ++i) {
    if (files_under(to) >= 20) {
      kill(pid, SIGINT);
      signalled = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(signalled);
  const std::string out = read_all(log);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(contains(out, "convkit: interrupted: data export stopped after "));
  CHECK(contains(out, fmt::format(" files; removed {}, so no partial export is left\n", to)));
  CHECK_FALSE(fs::exists(to));
}

TEST_CASE("data export: a write that fails midway removes what the export wrote") {
  test::TempDir dir;
  const std::string to = dir / "exp";
  // Files over 32 blocks (16 or 32 KiB) fail with EFBIG, SIGXFSZ ignored:
  // small random sizes are written, the first large one fails the export.
  const std::string command = fmt::format(
      "ulimit -f 32; trap '' XFSZ; exec {} data export --to {} --format png --limit 300 "
      "--random-size 8-400 > {} 2>&1",
      CONVKIT_BINARY, to, dir / "log.txt");
  const int status = std::system(command.c_str());
  const std::string out = read_all(dir / "log.txt");
  INFO(out);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(contains(out, "File too large"));
  CHECK(contains(out, fmt::format("; removed {}, so no partial export is left\n", to)));
  CHECK_FALSE(fs::exists(to));
}

TEST_CASE("data export: the rollback removes only what was added to a folder") {
  test::TempDir dir;
  const Dataset data = synthetic_images(30);
  ExportOptions o;
  int asked = 0;
  o.stop_requested = [&] { return ++asked > 10; };
  const test::ThreadScope one_thread(1);  // files in order: exactly 10 before the stop
  SUBCASE("a new folder is removed whole") {
    ExportRollback rollback(dir / "new");
    const ExportResult r = export_images(data, dir / "new", o);
    CHECK(r.stopped);
    CHECK(r.files == 10);
    CHECK(files_under(dir / "new") == 10);
    CHECK_FALSE(fs::exists(dir.path / "new" / "export.json"));
    CHECK(rollback.undo() == fmt::format("removed {}, so no partial export is left", dir / "new"));
    CHECK_FALSE(fs::exists(dir / "new"));
    CHECK(rollback.undo().empty());
  }
  SUBCASE("an existing folder keeps its own entries; an empty one given is emptied again") {
    test::write_text((dir.path / "both" / "notes.txt").string(), "mine");
    fs::create_directories(dir.path / "both" / "train");
    {
      ExportRollback rollback(dir / "both");
      CHECK(export_images(data, (dir.path / "both" / "train").string(), o).stopped);
      CHECK(files_under(dir.path / "both" / "train") == 10);
    }  // destroyed without keep(): undone
    CHECK(fs::exists(dir.path / "both" / "notes.txt"));
    CHECK(fs::is_empty(dir.path / "both" / "train"));
  }
  SUBCASE("a file given as the target is refused and left alone") {
    test::write_text(dir / "file", "mine");
    ExportRollback rollback(dir / "file");
    CHECK(test::contains(test::error_of([&] { export_images(data, dir / "file", o); }),
                         "it is a file, not a folder; the export writes a folder of class "
                         "folders: name a new folder (e.g. --to " + dir / "file" +
                             "-images), or remove the file first"));
    CHECK(rollback.undo().empty());
    CHECK(fs::file_size(dir / "file") == 4);
  }
  SUBCASE("keep() keeps a finished export") {
    o.stop_requested = nullptr;
    int64_t written = 0;
    {
      ExportRollback rollback(dir / "done");
      const ExportResult r = export_images(data, dir / "done", o);
      CHECK_FALSE(r.stopped);
      written = r.files;
      rollback.keep();
    }
    CHECK(written > 10);
    CHECK(files_under(dir / "done") == written + 1);  // and export.json
  }
}

}  // namespace ck
