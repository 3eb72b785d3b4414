// convkit: train, evaluate, predict, inspect and diagnose convolutional networks.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <new>

#include "apps/commands.h"
#include "core/error.h"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
