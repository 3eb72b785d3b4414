#pragma once
// Helpers for tests that run the convkit binary in the background and signal
// it (tests/helpers.h starts it: spawn_convkit).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/helpers.h"

namespace ck::test {

// Polls generously (a loaded machine is slow to start); false if `ready` never held.
inline bool wait_for(const std::function<bool()>& ready) {
  for (int i = 0; i < 12000; ++i) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Sends `signal` once `ready` holds; returns the exit code, or -(the signal)
// when the process was killed by one.
inline int signal_when(pid_t pid, int signal, const std::function<bool()>& ready) {
  const bool sent = wait_for(ready) && kill(pid, signal) == 0;
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(sent);
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

}  // namespace ck::test
