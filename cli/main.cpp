// svctl: the svc command line. Talks to svcd's API (gRPC) on the unix socket or over TCP.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/app.hpp"
#include "cli/suggest.hpp"
#include "common/cli_reference.hpp"

namespace svc::cli {
int& exit_code_slot();
bool& syntax_only_slot();  // context.cpp: parse the command line, run nothing
void separate_exec_command(std::vector<char*>& args);  // commands/exec.cpp
}  // namespace svc::cli

using namespace svc::cli;

int main(int argc, char** argv) {
  Globals globals;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  // Empty = not given: the endpoint is then the context's, else the local socket
  // (cli/cli_config.hpp).
  globals.host = env("SVC_HOST");
  globals.token = env("SVC_TOKEN");
  globals.context = env("SVC_CONTEXT");
  globals.ca = env("SVC_CA");
  globals.cert = env("SVC_CERT");
  globals.key = env("SVC_KEY");

  CLI::App app{"svctl: run containers as tasks and services on an svc node"};
  Context ctx(globals);
  build_app(app, globals, ctx);

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
        "group svc may use it), or to a TCP address given with --host: tcp:// on loopback, or "
        "tcps:// (TLS) with --ca and, when svcd asks for one, a client certificate (--cert, "
        "--key); a bearer token (--token) or a client certificate is needed there. `svctl "
        "context` saves such endpoints under a name.";
    info.files =
        "/run/svcd/svcd.sock\tthe API socket of the local svcd\n"
        "~/.config/svc/config.json\tsaved contexts (svctl context; $SVC_CONFIG overrides)";
    info.see_also = "svcd(8), svc-runtime(1)";
    std::string out;
    if (!svc::cli_reference::generate(app, info, argv[2], out)) {
      std::cerr << "svctl: --generate takes man, bash-completion, zsh-completion or markdown\n";
      return kExitUsage;
    }
    std::cout << out;
    return 0;
  }

  std::vector<char*> args(argv, argv + argc);
  // Hidden: `svctl --check-syntax COMMAND...` parses a command line with the real definitions
  // and runs nothing (exit 0 when it parses, 2 when not): how the docs' examples are checked
  // against the CLI (tests/docs/doc_commands.py).
  if (args.size() > 1 && std::string_view(args[1]) == "--check-syntax") {
    syntax_only_slot() = true;
    args.erase(args.begin() + 1);
  }
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
