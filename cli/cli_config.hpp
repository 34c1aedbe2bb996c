#pragma once
// svctl's own config file: named contexts (a node's address, its CA, a client certificate and a
// token), so a user does not retype them, and which one is current. As docker contexts and
// kubeconfig do. JSON at $SVC_CONFIG, else $XDG_CONFIG_HOME/svc/config.json, else
// ~/.config/svc/config.json; written 0600 (it may hold a token), by write-then-rename.
//
//   {"current": "lab",
//    "contexts": {"lab": {"host": "tcps://node1:7070", "ca": "/home/me/svc/ca.pem",
//                         "cert": "", "key": "", "token": "svc_..."}}}
//
// Which endpoint a command uses: --host (or SVC_HOST) wins, with --ca/--cert/--key/--token as
// given; else the context named by --context (or SVC_CONTEXT), else the file's current one, with
// any of those flags overriding its fields; else the local socket. The context "default" is the
// local socket and is always there.
#include <filesystem>
#include <map>
#include <string>

#include "api/client/client.hpp"
#include "common/result.hpp"

namespace svc::cli {

struct ContextEntry {
  std::string host;
  std::string ca, cert, key;  // PEM file paths (absolute)
  std::string token;
};

struct CliConfig {
  std::string current;  // "" = default
  std::map<std::string, ContextEntry> contexts;
};

inline constexpr const char* kDefaultContext = "default";

// Where the file is (it need not exist).
std::filesystem::path cli_config_path();
// A missing file is an empty config; a broken one is an error naming it.
Result<CliConfig> load_cli_config(const std::filesystem::path& path);
Result<> save_cli_config(const std::filesystem::path& path, const CliConfig& config);

// Letters, digits, '-', '_', '.', 1 to 64 of them, not "default".
Result<> check_context_name(const std::string& name);

// What the flags and the environment asked for (empty = not given).
struct EndpointFlags {
  std::string host = {};
  std::string context = {};
  std::string ca = {};
  std::string cert = {};
  std::string key = {};
  std::string token = {};
};

struct Endpoint {
  std::string host;
  std::string token;
  api::ClientTls tls;
  std::string context;  // the context used; "" when --host decided
};

// The rule in the header comment.
Result<Endpoint> resolve_endpoint(const EndpointFlags& flags, const CliConfig& config);

}  // namespace svc::cli
