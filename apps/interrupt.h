#pragma once
// Ctrl-C (SIGINT) and SIGTERM during long work.
//
// Outside a StopPoint scope a signal ends the process at once, as it would
// without convkit's handler. Inside one (a training loop, a data export) the
// first signal only asks the work to stop at its next safe point, between two
// steps or two files, so it can leave its files whole and say how to go on;
// a second signal ends the process at once.
#include "core/error.h"

namespace ck {

// Thrown at a safe point after an interrupt; apps/main.cpp prints
// "convkit: interrupted: <message>" and exits 130 after Ctrl-C, or
// "convkit: terminated (SIGTERM): <message>" and exits 143 after SIGTERM,
// as a shell expects (128 + the signal).
struct Interrupted : Error {
  using Error::Error;
};

// Installs the handler for SIGINT and SIGTERM. Called once, by main.
void install_interrupt_handler();

// While one lives, the first signal is deferred to throw_if_interrupted().
// Requires: created and destroyed on the main thread; scopes may nest.
class StopPoint {
 public:
  StopPoint();
  ~StopPoint();
  StopPoint(const StopPoint&) = delete;
  StopPoint& operator=(const StopPoint&) = delete;
};

// True once a signal arrived inside a StopPoint scope.
bool interrupt_requested();
// That signal (SIGINT or SIGTERM), or 0.
int interrupt_signal();
// What stopped the work, as messages and records name it: "interrupted"
// (Ctrl-C, or no signal) or "terminated (SIGTERM)".
const char* interrupt_name();
// Throws Interrupted(what_happened) when interrupt_requested().
void throw_if_interrupted(const std::string& what_happened);

}  // namespace ck
