// svctl: the svc command line. Talks to svcd's API (gRPC) on the unix socket or over TCP.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/context.hpp"
#include "common/cli_reference.hpp"

namespace svc::cli {
int& exit_code_slot();
}

using namespace svc::cli;

int main(int argc, char** argv) {
  Globals globals;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  globals.host = env("SVC_HOST");
  globals.token = env("SVC_TOKEN");
  globals.context = env("SVC_CONTEXT");
  globals.ca = env("SVC_CA");
  globals.cert = env("SVC_CERT");
  globals.key = env("SVC_KEY");

  CLI::App app{"svctl: run containers as tasks and services on an svc node"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--host,-H", globals.host,
                 "svcd address: unix:///path, tcp://HOST:PORT or, with TLS, tcps://HOST:PORT "
                 "(env SVC_HOST; default: the current context, else unix:///run/svcd/svcd.sock)");
  app.add_option("--token", globals.token, "API token for a TCP address (env SVC_TOKEN)");
  app.add_option("--context", globals.context,
                 "use this saved context (svctl context ls; env SVC_CONTEXT)");
  app.add_option("--ca", globals.ca,
                 "tcps://: the PEM CA that signed svcd's certificate (env SVC_CA; default: the "
                 "system's CAs)");
  app.add_option("--cert", globals.cert,
                 "tcps://: a PEM client certificate, for a svcd that asks for one (env SVC_CERT)");
  app.add_option("--key", globals.key, "tcps://: the client certificate's PEM key (env SVC_KEY)");
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
      "  run, wait: the task's own exit code; 128+N when a signal N ended it;\n"
      "  125 when the task could not be started at all");

  Context ctx(globals);
  add_version_command(app, ctx);
  add_node_commands(app, ctx);
  add_run_command(app, ctx);
  add_task_commands(app, ctx);
  add_logs_command(app, ctx);
  add_token_commands(app, ctx);
  add_image_commands(app, ctx);
  add_audit_command(app, ctx);
  add_context_commands(app, ctx);

  // Hidden: the man page, completions and CLI reference, from the definitions above.
  if (argc == 3 && std::string_view(argv[1]) == "--generate") {
    svc::cli_reference::ManInfo info;
    info.program = "svctl";
    info.section = 1;
    info.summary = "run containers as tasks and services on an svc node";
    info.description =
        "svctl drives svcd, the svc node daemon, through its API: it runs tasks (containers that "
        "run to completion), deploys services (HTTP endpoints that scale to zero), manages images "
        "and tokens, and reports usage.\n\n"
        "It talks gRPC to the unix socket /run/svcd/svcd.sock by default (root and members of "
        "group svc may use it), or to a TCP address given with --host (a bearer token is "
        "needed there).";
    info.files = "/run/svcd/svcd.sock\tthe API socket of the local svcd";
    info.see_also = "svcd(8), svc-runtime(1)";
    std::string out;
    if (!svc::cli_reference::generate(app, info, argv[2], out)) {
      std::cerr << "svctl: --generate takes man, bash-completion, zsh-completion or markdown\n";
      return kExitUsage;
    }
    std::cout << out;
    return 0;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  return exit_code_slot();
}
