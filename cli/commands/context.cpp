// svctl context: saved endpoints (host, CA, client certificate, token) in svctl's config file
// (cli/cli_config.hpp), so that `svctl --context lab ps`, or `svctl context use lab` once, replaces
// retyping --host tcps://... --ca ... --cert ... --key ... --token ....
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli_config.hpp"
#include "cli/context.hpp"

namespace svc::cli {

namespace {

// An absolute path to a readable file, or an error naming the flag.
Result<std::string> pem_path(const char* flag, const std::string& path) {
  if (path.empty()) return std::string();
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec || ::access(abs.c_str(), R_OK) != 0)
    return fail(Code::kInvalidArgument, "{} {}: cannot read it", flag, path);
  return abs.lexically_normal().string();
}

int save(const CliConfig& config) {
  auto path = cli_config_path();
  if (auto ok = save_cli_config(path, config); !ok) {
    std::cerr << "svctl: " << ok.error().message() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

// Loads the config, printing the error and setting rc when it cannot.
std::optional<CliConfig> load(int& rc) {
  auto c = load_cli_config(cli_config_path());
  if (!c) {
    std::cerr << "svctl: " << c.error().message() << "\n";
    rc = kExitFailed;
    return std::nullopt;
  }
  return *c;
}

int usage_error(const Error& e) {
  std::cerr << "svctl: " << e.message() << "\n";
  return kExitUsage;
}

}  // namespace

void add_context_commands(CLI::App& app, Context& ctx) {
  auto* context = app.add_subcommand(
      "context", "saved svcd endpoints (host, CA, client certificate, token) to switch between");
  context->require_subcommand(1);

  struct CreateOpts {
    std::string name, host, ca, cert, key, token;
    bool use = false;
  };
  auto co = std::make_shared<CreateOpts>();
  auto* create = context->add_subcommand("create", "save an endpoint under a name");
  create->add_option("name", co->name, "the context's name (letters, digits, - _ .)")->required();
  create->add_option("--host", co->host, "svcd's address: tcps://HOST:PORT, tcp://... or unix://")
      ->required();
  create->add_option("--ca", co->ca, "the PEM CA that signed svcd's certificate");
  create->add_option("--cert", co->cert, "a PEM client certificate");
  create->add_option("--key", co->key, "the client certificate's PEM key");
  create->add_option("--token", co->token, "an API token (kept in the config file, mode 0600)");
  create->add_flag("--use", co->use, "make it the current context");
  set_runner(create, [co]() -> int {
    if (auto ok = check_context_name(co->name); !ok) return usage_error(ok.error());
    auto addr = parse_address(co->host);
    if (!addr) return usage_error(addr.error().context("--host"));
    ContextEntry e;
    e.host = addr->str();
    for (auto [flag, in, out] :
         {std::tuple<const char*, std::string*, std::string*>{"--ca", &co->ca, &e.ca},
          {"--cert", &co->cert, &e.cert},
          {"--key", &co->key, &e.key}}) {
      auto p = pem_path(flag, *in);
      if (!p) return usage_error(p.error());
      *out = *p;
    }
    if (!addr->tls && (!e.ca.empty() || !e.cert.empty()))
      return usage_error(Error(Code::kInvalidArgument,
                               "--ca, --cert and --key are for TLS: write --host as tcps://..."));
    if (e.cert.empty() != e.key.empty())
      return usage_error(Error(Code::kInvalidArgument, "--cert and --key go together"));
    e.token = co->token;
    int rc = kExitOk;
    auto config = load(rc);
    if (!config) return rc;
    bool replaced = config->contexts.count(co->name) > 0;
    config->contexts[co->name] = e;
    if (co->use) config->current = co->name;
    if (int saved = save(*config); saved != kExitOk) return saved;
    std::cout << (replaced ? "Replaced" : "Created") << " context " << co->name << " (" << e.host
              << ")" << (co->use ? "; it is now the current context" : "") << "\n";
    return kExitOk;
  });

  auto use_name = std::make_shared<std::string>();
  auto* use = context->add_subcommand(
      "use", "make a context the current one (\"default\": the local socket)");
  use->add_option("name", *use_name, "the context's name")->required();
  set_runner(use, [use_name]() -> int {
    int rc = kExitOk;
    auto config = load(rc);
    if (!config) return rc;
    if (*use_name != kDefaultContext && !config->contexts.count(*use_name)) {
      std::cerr << "svctl: no context \"" << *use_name << "\": see `svctl context ls`\n";
      return kExitNotFound;
    }
    config->current = *use_name == kDefaultContext ? "" : *use_name;
    if (int saved = save(*config); saved != kExitOk) return saved;
    std::cout << "Current context: " << *use_name << "\n";
    return kExitOk;
  });

  auto* ls = context->add_subcommand("ls", "list the contexts (never their tokens)");
  set_runner(ls, [&ctx]() -> int {
    int rc = kExitOk;
    auto config = load(rc);
    if (!config) return rc;
    const std::string current = config->current.empty() ? kDefaultContext : config->current;
    if (ctx.json()) {
      nlohmann::json j;
      j["current"] = current;
      j["contexts"] = nlohmann::json::array();
      j["contexts"].push_back({{"name", kDefaultContext}, {"host", api::kDefaultHost}});
      for (const auto& [name, e] : config->contexts)
        j["contexts"].push_back({{"name", name},
                                 {"host", e.host},
                                 {"ca", e.ca},
                                 {"cert", e.cert},
                                 {"key", e.key},
                                 {"hasToken", !e.token.empty()}});
      std::cout << j.dump(2) << "\n";
      return kExitOk;
    }
    Table t({"", "NAME", "HOST", "CA", "CLIENT CERT", "TOKEN"});
    t.add(
        {current == kDefaultContext ? "*" : "", kDefaultContext, api::kDefaultHost, "-", "-", "-"});
    for (const auto& [name, e] : config->contexts) {
      bool tls = e.host.starts_with("tcps://");
      t.add({current == name ? "*" : "", name, e.host, tls ? (e.ca.empty() ? "system" : e.ca) : "-",
             e.cert.empty() ? "-" : e.cert, e.token.empty() ? "-" : "saved"});
    }
    t.print(std::cout);
    return kExitOk;
  });

  auto rm_name = std::make_shared<std::string>();
  auto* rm = context->add_subcommand("rm", "forget a context");
  rm->add_option("name", *rm_name, "the context's name")->required();
  set_runner(rm, [rm_name]() -> int {
    int rc = kExitOk;
    auto config = load(rc);
    if (!config) return rc;
    if (!config->contexts.erase(*rm_name)) {
      std::cerr << "svctl: no context \"" << *rm_name << "\": see `svctl context ls`\n";
      return kExitNotFound;
    }
    if (config->current == *rm_name) config->current.clear();
    if (int saved = save(*config); saved != kExitOk) return saved;
    std::cout << "Removed context " << *rm_name << "\n";
    return kExitOk;
  });
}

}  // namespace svc::cli
