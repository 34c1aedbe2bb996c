#include "cli/cli_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace svc::cli {

namespace {

using json = nlohmann::json;

std::string field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A relative PEM path in the file would mean something else from every directory.
Result<> absolute_paths(const std::string& name, const ContextEntry& e) {
  for (auto [flag, path] : {std::pair<const char*, const std::string*>{"ca", &e.ca},
                            {"cert", &e.cert},
                            {"key", &e.key}}) {
    if (!path->empty() && path->front() != '/')
      return fail(Code::kInvalidArgument, "context {}: {} {} must be an absolute path", name, flag,
                  *path);
  }
  return {};
}

}  // namespace

std::filesystem::path cli_config_path() {
  if (const char* p = std::getenv("SVC_CONFIG"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::filesystem::path(x) / "svc" / "config.json";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/") / ".config" / "svc" / "config.json";
}

Result<CliConfig> load_cli_config(const std::filesystem::path& path) {
  CliConfig c;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  auto text = SVC_TRY(read_file(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Code::kInvalidArgument,
                "{}: not svctl's config (JSON with \"contexts\"): fix or remove it", path.string());
  c.current = field(j, "current");
  if (auto it = j.find("contexts"); it != j.end() && it->is_object()) {
    for (const auto& [name, v] : it->items()) {
      if (!v.is_object()) continue;
      ContextEntry e{field(v, "host"), field(v, "ca"), field(v, "cert"), field(v, "key"),
                     field(v, "token")};
      c.contexts.emplace(name, std::move(e));
    }
  }
  return c;
}

Result<> save_cli_config(const std::filesystem::path& path, const CliConfig& c) {
  json j;
  j["current"] = c.current;
  j["contexts"] = json::object();
  for (const auto& [name, e] : c.contexts)
    j["contexts"][name] = {
        {"host", e.host}, {"ca", e.ca}, {"cert", e.cert}, {"key", e.key}, {"token", e.token}};
  std::string text = j.dump(2) + "\n";
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return fail(Code::kInternal, "create {}: {}", path.parent_path().string(), ec.message());
  std::string tmp = path.string() + ".tmp";
  // 0600 from the start: the file may hold a token.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno(fmt::format("write {}", tmp));
  ::fchmod(fd, 0600);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()) || !synced) {
    ::unlink(tmp.c_str());
    return fail_errno(err, fmt::format("write {}", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail_errno(e, fmt::format("rename {} to {}", tmp, path.string()));
  }
  return {};
}

Result<> check_context_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name != kDefaultContext;
  for (char ch : name)
    ok =
        ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
  if (!ok)
    return fail(Code::kInvalidArgument,
                "context name \"{}\": use 1-64 letters, digits, '-', '_' or '.' (and not "
                "\"default\", which is the local socket)",
                name);
  return {};
}

Result<Endpoint> resolve_endpoint(const EndpointFlags& f, const CliConfig& c) {
  Endpoint e;
  auto flags_over = [&](Endpoint& out) {
    if (!f.ca.empty()) out.tls.ca = f.ca;
    if (!f.cert.empty()) out.tls.cert = f.cert;
    if (!f.key.empty()) out.tls.key = f.key;
    if (!f.token.empty()) out.token = f.token;
  };
  if (!f.host.empty()) {
    e.host = f.host;
    flags_over(e);
    return e;
  }
  std::string name = !f.context.empty() ? f.context : c.current;
  if (name.empty() || name == kDefaultContext) {
    e.host = api::kDefaultHost;
    flags_over(e);
    return e;
  }
  auto it = c.contexts.find(name);
  if (it == c.contexts.end())
    return fail(Code::kNotFound,
                "no context \"{}\" in {}: see `svctl context ls`, or create it with `svctl "
                "context create {} --host ...`",
                name, cli_config_path().string(), name);
  SVC_TRY(absolute_paths(name, it->second));
  e.host = it->second.host;
  e.tls = {it->second.ca, it->second.cert, it->second.key};
  e.token = it->second.token;
  e.context = name;
  flags_over(e);
  return e;
}

}  // namespace svc::cli
