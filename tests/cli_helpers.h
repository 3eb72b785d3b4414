#pragma once
// Running the convkit binary from a test, with stdout and stderr apart.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/helpers.h"

namespace ck::test {

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs `convkit <args>` (a shell fragment), stdin empty.
inline Run convkit(const std::string& args) {
  const TempDir temp;
  const std::string err_file = temp / "stderr";
  const std::string command =
      std::string(CONVKIT_BINARY) + " " + args + " 2>" + err_file + " </dev/null";
  Run r;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  std::stringstream s;
  s << f.rdbuf();
  r.err = s.str();
  return r;
}

}  // namespace ck::test
