// svctl: the svc command line. Talks to svcd's API (gRPC) on the unix socket or over TCP.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/app.hpp"
#include "cli/suggest.hpp"

namespace svc::cli {
int& exit_code_slot();
void separate_exec_command(std::vector<char*>& args);  // commands/exec.cpp
}  // namespace svc::cli

using namespace svc::cli;

int main(int argc, char** argv) {
  Globals globals;
  const char* env_host = std::getenv("SVC_HOST");
  const char* env_token = std::getenv("SVC_TOKEN");
  globals.host = env_host && *env_host ? env_host : svc::api::kDefaultHost;
  globals.token = env_token ? env_token : "";

  CLI::App app{"svctl: run containers as tasks and services on an svc node"};
  Context ctx(globals);
  build_app(app, globals, ctx);

  std::vector<char*> args(argv, argv + argc);
  separate_exec_command(args);
  // Bare `svctl` prints the help (as docker does); a mistyped command says so and suggests.
  auto words = check_command_words(app, std::vector<std::string>(args.begin() + 1, args.end()));
  if (words.error) {
    std::cerr << "svctl: " << *words.error << "\n";
    return kExitUsage;
  }
  try {
    app.parse(static_cast<int>(args.size()),
              args.data());  // without a command: the global options are still checked
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (!words.any) {
    std::cout << app.help();
    return kExitOk;
  }
  return exit_code_slot();
}
