// convkit: train, evaluate, predict, inspect and diagnose convolutional networks.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/interrupt.h"
#include "core/error.h"
#include "core/spec_tokens.h"
#include "version.h"

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
    std::string names;
    bool known = false;
    for (const ck::Command& command : ck::commands()) {
      known = known || command.name == std::string(argv[1]);
      names += (names.empty() ? "" : ", ") + std::string(command.name);
    }
    if (!known) {
      fmt::print(stderr, "convkit: unknown command \"{}\"; commands: {} (see convkit --help)\n",
                 argv[1], names);
      return 1;
    }
  }
  ck::install_interrupt_handler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    // "The following arguments were not expected: 2 --epoch" names no fix:
    // point each unknown --flag at the command's nearest option.
    // The innermost command given ("bench model"), whose options the hint names.
    const CLI::App* command = &app;
    std::string name;
    while (!command->get_subcommands().empty()) {
      command = command->get_subcommands()[0];
      name += (name.empty() ? "" : " ") + command->get_name();
    }
    std::vector<std::string> flags;
    for (const CLI::Option* option : command->get_options())
      for (const std::string& name : option->get_lnames()) flags.push_back("--" + name);
    std::string hints;
    for (const std::string& arg : command->remaining())
      if (arg.starts_with("--")) {
        const std::string flag = arg.substr(0, arg.find('='));
        const std::string best = ck::closest_word(flag, flags);
        hints += fmt::format("convkit {}: unknown option {}{}\n", name, flag,
                             best.empty() ? "" : fmt::format(" (did you mean {}?)", best));
      }
    if (hints.empty()) return app.exit(e);
    fmt::print(stderr, "{}see convkit {} --help\n", hints, name);
    return 1;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ck::Interrupted& e) {
    std::fflush(stdout);
    fmt::print(stderr, "convkit: interrupted: {}\n", e.what());
    return 130;  // 128 + SIGINT, what a shell reports for Ctrl-C
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
