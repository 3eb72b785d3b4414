#pragma once
// Every convkit subcommand is registered in one table (apps/commands.cpp).
// A command file provides one setup function that declares the command's
// options on `cmd` and its callback; errors are thrown as ck::Error.

#include <span>
#include <string>

// CLI11 is declared, not included: its header costs every file that includes
// it about 10 s of compiling (CLI11 2.1 defines its validators in the header),
// so only the files that declare options include <CLI/CLI.hpp>.
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace ck {

struct Command {
  const char* name;
  const char* help;
  void (*setup)(CLI::App& cmd);
};

std::span<const Command> commands();

// Declares --threads (and --gemm for commands that run a model) and applies
// them before the command's callback runs.
void add_compute_options(CLI::App& cmd, bool gemm = true);

// Checks that a whole-number option is at least `min`, e.g.
// "--batch: must be a whole number >= 1, got 0". (CLI11's PositiveNumber says
// "Value 0 not in range 0.000000 to 17976931348623157081...".) `name` is what
// --help shows after the type: POSITIVE, NONNEGATIVE.
CLI::Validator at_least(long long min, const std::string& name);
// For every --seed (a uint64): CLI11 would read "-1" as 18446744073709551615.
CLI::Validator seed_value();
// The same for a real-number option: "--lr: must be a number > 0, got 0".
CLI::Validator number_above(double min, bool or_equal, const std::string& name);

// The model of a command that takes it first or after --model (evaluate,
// summary): one of the two, or both when they are the same. Neither gives
// `fallback`, or when that is empty throws saying how to give one.
std::string one_model_file(const std::string& first, const std::string& flag,
                           const std::string& command, const std::string& fallback = "");

}  // namespace ck
