// svctl: the svc command line. Talks to svcd's API (gRPC) on the unix socket or over TCP.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/context.hpp"

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
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--host,-H", globals.host,
                 "svcd address: unix:///path or tcp://HOST:PORT (env SVC_HOST)")
      ->capture_default_str();
  app.add_option("--token", globals.token, "API token for a TCP address (env SVC_TOKEN)");
  app.add_option("-o,--output", globals.output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.footer(
      "Exit codes:\n"
      "  0    success\n"
      "  1    svcd refused or failed the request (the message says why)\n"
      "  2    bad command line\n"
      "  3    svcd could not be reached at --host\n"
      "  4    not authorised: missing, bad or revoked token, or no permission\n"
      "  5    the task, image, service or token named does not exist\n"
      "  run, wait, exec, attach: the process's own exit code; 128+N when a signal N ended it;\n"
      "  125 when the task could not be started at all");

  Context ctx(globals);
  add_version_command(app, ctx);
  add_node_commands(app, ctx);
  add_run_command(app, ctx);
  add_task_commands(app, ctx);
  add_logs_command(app, ctx);
  add_token_commands(app, ctx);
  add_image_commands(app, ctx);
  add_exec_commands(app, ctx);

  std::vector<char*> args(argv, argv + argc);
  separate_exec_command(args);
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  return exit_code_slot();
}
