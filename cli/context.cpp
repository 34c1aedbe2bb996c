#include "cli/context.hpp"

#include <iostream>

#include "cli/cli_config.hpp"

namespace svc::cli {

namespace {
// The exit code of the command that ran, carried out of CLI11's callbacks.
int g_exit_code = kExitOk;
}  // namespace

int& exit_code_slot() { return g_exit_code; }
bool& syntax_only_slot() {
  static bool syntax_only = false;
  return syntax_only;
}

api::Client& Context::client() {
  if (!client_) {
    auto config = load_cli_config(cli_config_path());
    if (!config) throw CLI::ValidationError("--context", config.error().message());
    auto endpoint = resolve_endpoint(
        {globals_.host, globals_.context, globals_.ca, globals_.cert, globals_.key, globals_.token},
        *config);
    if (!endpoint) throw CLI::ValidationError("--context", endpoint.error().message());
    auto c = api::Client::connect(endpoint->host, endpoint->token, endpoint->tls);
    if (!c) {
      // A bad --host is a usage error; surface it through CLI11 so it prints like one.
      throw CLI::ValidationError("--host", c.error().message());
    }
    client_ = std::move(*c);
  }
  return *client_;
}

int Context::report(const Error& error) const {
  std::cerr << "svctl: " << error.message() << "\n";
  switch (error.code()) {
    case Code::kUnavailable:
      return error.message().starts_with("cannot reach") ? kExitUnreachable : kExitFailed;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return kExitUnauthorized;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kInvalidArgument:
      return kExitFailed;
    default:
      return kExitFailed;
  }
}

int Context::report(const grpc::Status& status) { return report(client().error(status)); }

void set_runner(CLI::App* app, Runner runner) {
  app->callback([runner = std::move(runner)] {
    if (!syntax_only_slot()) g_exit_code = runner();
  });
}

}  // namespace svc::cli
