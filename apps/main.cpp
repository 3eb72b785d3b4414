// convkit: train, evaluate, predict, inspect and diagnose convolutional networks.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "apps/commands.h"
#include "apps/interrupt.h"
#include "core/error.h"
#include "core/spec_tokens.h"
#include "version.h"

namespace {

// The innermost command given ("bench model") and the app that parsed it,
// whose options a hint names.
std::pair<const CLI::App*, std::string> innermost_command(const CLI::App& app) {
  const CLI::App* command = &app;
  std::string name;
  while (!command->get_subcommands().empty()) {
    command = command->get_subcommands()[0];
    name += (name.empty() ? "" : " ") + command->get_name();
  }
  return {command, name};
}

// What convkit says for a CLI11 parse error: one "convkit..." message and
// where to look, never CLI11's "Run with --help for more information.".
std::string parse_error_message(const CLI::App& app, const CLI::ParseError& e) {
  const auto [command, name] = innermost_command(app);
  const std::string help = name.empty() ? "convkit --help" : "convkit " + name + " --help";
  // "The following arguments were not expected: 2 --epoch" names no fix:
  // point each unknown --flag at the command's nearest option.
  std::string hints;
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    std::vector<std::string> flags;
    for (const CLI::Option* option : command->get_options())
      for (const std::string& long_name : option->get_lnames()) flags.push_back("--" + long_name);
    for (const std::string& arg : command->remaining())
      if (arg.starts_with("--")) {
        const std::string flag = arg.substr(0, arg.find('='));
        std::string best = ck::closest_word(flag, flags);
        // A shortened name is far from the whole one ("--label" from
        // "--label-column"): the one option it begins, if only one.
        if (best.empty()) {
          std::vector<std::string> longer;
          for (const std::string& f : flags)
            if (f.starts_with(flag + "-")) longer.push_back(f);
          if (longer.size() == 1) best = longer[0];
        }
        hints += fmt::format("convkit {}: unknown option {}{}\n", name, flag,
                             best.empty() ? "" : fmt::format(" (did you mean {}?)", best));
      }
    if (!hints.empty()) return fmt::format("{}see {}\n", hints, help);
  }
  // CLI11's "A subcommand is required" does not say which there are.
  if (command->get_require_subcommand_min() > 0 && command->get_subcommands().empty()) {
    std::string names;
    for (const CLI::App* sub : command->get_subcommands([](const CLI::App*) { return true; }))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    std::string unknown;
    for (const std::string& arg : command->remaining())
      if (arg.starts_with("-")) unknown += (unknown.empty() ? "" : ", ") + arg;
    return fmt::format("convkit: {}{}: {}; see {}\n",
                       unknown.empty() ? "" : fmt::format("unknown option {}; ", unknown),
                       name.empty() ? "give a command" : name + " needs a command", names, help);
  }
  // "--epochs: 1 required INT:POSITIVE missing" (an option given last, without its value).
  std::string what = e.what();
  const size_t colon = what.find(": 1 required ");
  if (colon != std::string::npos && what.ends_with(" missing"))
    what = fmt::format("{} needs a value ({})", what.substr(0, colon),
                       what.substr(colon + 13, what.size() - colon - 13 - 8));
  return fmt::format("convkit: {}; see {}\n", what, help);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "convkit: train, evaluate, predict, inspect and diagnose convolutional networks.\n"
      "Run `convkit train` to train the default model on Fashion-MNIST.",
      "convkit"};
  app.set_version_flag("--version", std::string("convkit ") + ck::kVersion);
  app.require_subcommand(1);
  for (const ck::Command& command : ck::commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    command.setup(*sub);
  }
  // Without a command, show what there is (CLI11 would only say "A
  // subcommand is required").
  if (argc == 1) {
    fmt::print(stderr, "{}", app.help());
    return 1;
  }
  // CLI11 answers an unknown command with "A subcommand is required", which
  // reads as if none was given: name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const ck::Command& command : ck::commands()) names.emplace_back(command.name);
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      // The guess also knows the nested commands: "export" means "data export".
      std::vector<std::string> words = names, full = names;
      for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
        for (const CLI::App* sub : command->get_subcommands([](const CLI::App*) { return true; })) {
          words.push_back(sub->get_name());
          full.push_back(command->get_name() + " " + sub->get_name());
        }
      std::string best = ck::closest_word(argv[1], words);
      if (!best.empty()) best = full[std::find(words.begin(), words.end(), best) - words.begin()];
      fmt::print(stderr, "convkit: unknown command \"{}\"{}; commands: {} (see convkit --help)\n",
                 argv[1], best.empty() ? "" : fmt::format(" (did you mean {}?)", best),
                 fmt::join(names, ", "));
      return 1;
    }
  }
  ck::install_interrupt_handler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with code 0: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    // Every other parse error is a user error like convkit's own: "convkit:
    // ..." and exit 1 (CLI11 would exit 105, 106, 109... by error kind).
    fmt::print(stderr, "{}", parse_error_message(app, e));
    return 1;
  } catch (const ck::Interrupted& e) {
    std::fflush(stdout);
    fmt::print(stderr, "convkit: {}: {}\n", ck::interrupt_name(), e.what());
    // 128 + the signal, what a shell reports: 130 for Ctrl-C, 143 for SIGTERM.
    return ck::interrupt_signal() == SIGTERM ? 128 + SIGTERM : 128 + SIGINT;
  } catch (const ck::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "convkit: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    fmt::print(stderr, "convkit: out of memory (try a smaller --batch or --limit)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "convkit: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
