#include "apps/interrupt.h"

#include <unistd.h>

#include <csignal>

#include "core/atomic_file.h"

namespace ck {

namespace {

volatile std::sig_atomic_t scopes = 0;     // live StopPoints
volatile std::sig_atomic_t requested = 0;  // the signal that arrived inside one, or 0

void on_signal(int signal) {
  if (scopes > 0 && !requested) {
    requested = signal;
    // write() is async-signal-safe; fmt and stdio are not. A SIGTERM comes
    // from a program (kill, a scheduler), not a keyboard: name it, and do not
    // tell its sender to press Ctrl-C.
    if (signal == SIGTERM) {
      const char note[] =
          "\nconvkit: terminated (SIGTERM): stopping at the next safe point (a second signal quits "
          "at once)\n";
      [[maybe_unused]] ssize_t n = write(STDERR_FILENO, note, sizeof note - 1);
    } else {
      const char note[] =
          "\nconvkit: stopping at the next safe point (press Ctrl-C again to quit at once)\n";
      [[maybe_unused]] ssize_t n = write(STDERR_FILENO, note, sizeof note - 1);
    }
    return;
  }
  // Ending now: no temporary ".<name>.tmp.<pid>" file is left behind.
  remove_unfinished_files();
  if (requested) {
    const char note[] = "\nconvkit: quit at once; files being written were removed\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, note, sizeof note - 1);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

StopPoint::StopPoint() { scopes = scopes + 1; }
StopPoint::~StopPoint() { scopes = scopes - 1; }

bool interrupt_requested() { return requested != 0; }

int interrupt_signal() { return requested; }

const char* interrupt_name() {
  return requested == SIGTERM ? "terminated (SIGTERM)" : "interrupted";
}

void throw_if_interrupted(const std::string& what_happened) {
  if (requested) throw Interrupted(what_happened);
}

}  // namespace ck
