#pragma once
// svctl's command tree, built in one place so main() and the unit tests (tests/unit/cli) see the
// same commands, options and help.
#include <CLI/CLI.hpp>

#include "cli/context.hpp"

namespace svc::cli {

// The global options (--host, --token, -o), the footer with the exit codes, and every command:
// the real ones first, then those of features not built yet under their own heading.
void build_app(CLI::App& app, Globals& globals, Context& ctx);

}  // namespace svc::cli
