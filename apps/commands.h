#pragma once
// Every convkit subcommand is registered in one table (apps/commands.cpp).
// A command file provides one setup function that declares the command's
// options on `cmd` and its callback; errors are thrown as ck::Error.
#include <CLI/CLI.hpp>

#include <span>

namespace ck {

struct Command {
  const char* name;
  const char* help;
  void (*setup)(CLI::App& cmd);
};

std::span<const Command> commands();

// Declares --threads, --gemm on any command that computes, and applies them
// before its callback runs.
void add_compute_options(CLI::App& cmd);

}  // namespace ck
