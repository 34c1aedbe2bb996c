#pragma once
// Registry authentication pieces: credentials from a docker-style config.json ("auths": host ->
// {"auth": base64("user:password")} or {"username", "password"}), and the WWW-Authenticate
// challenge a registry answers 401 with (RFC 7235; the distribution token spec: Bearer with
// realm, service, scope).
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc::images::registry {

struct Credentials {
  std::string username;
  std::string password;
};

// Reads auths from a config.json; keys may be "host", "host:port" or URLs
// ("https://index.docker.io/v1/" means docker.io).
class CredentialStore {
 public:
  CredentialStore() = default;
  static Result<CredentialStore> load(const std::string& path);
  static Result<CredentialStore> parse(std::string_view json_text);
  std::optional<Credentials> find(std::string_view registry) const;
  void add(std::string registry, Credentials c) { by_host_[std::move(registry)] = std::move(c); }

 private:
  std::map<std::string, Credentials> by_host_;
};

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercase keys: realm, service, scope, error
};

// Parses one WWW-Authenticate header value (the first challenge when several are listed).
Result<Challenge> parse_challenge(std::string_view header);

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

}  // namespace svc::images::registry
