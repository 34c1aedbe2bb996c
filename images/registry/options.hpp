#pragma once
// How svcd reaches registries: the [registries] keys of svcd.toml (DESIGN.md "Configuration")
// plus timeouts and retries, and the list of endpoints (mirrors first, then the registry itself)
// tried for one registry host.
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace svc::images::registry {

struct RegistryOptions {
  std::string default_registry = "docker.io";
  std::vector<std::string> insecure;  // hosts spoken to over plain HTTP ("10.0.0.5:5000")
  std::map<std::string, std::vector<std::string>> mirrors;  // "docker.io" -> {"https://m.example"}
  std::string auth_file;                                    // docker-style config.json with "auths"
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer that receives nothing for this long is cut and retried: a hung registry ends
  // with a clear error instead of a pull that never finishes.
  std::chrono::milliseconds stall_timeout{30'000};
  int max_attempts = 4;                          // per request, for resets and 5xx/429
  std::chrono::milliseconds retry_backoff{250};  // doubled after each failed attempt, up to 5 s
  std::string user_agent = "svcd";
};

struct Endpoint {
  std::string base_url;  // "https://registry-1.docker.io", "http://127.0.0.1:5000", a mirror
  bool mirror = false;
};

// Mirrors (in config order) then the registry; docker.io's API lives at registry-1.docker.io.
std::vector<Endpoint> endpoints_for(const RegistryOptions& options, std::string_view registry);

// Listed in insecure, or on this machine's loopback: as Docker does, a registry at 127.0.0.0/8,
// [::1] or localhost is spoken to over plain HTTP without being listed. Nothing leaves the
// host, and the local registry people start first (docker-registry, `registry:2`) has no TLS.
bool is_insecure(const RegistryOptions& options, std::string_view registry);
// 127.0.0.0/8, [::1] or localhost, with or without a port.
bool is_loopback_registry(std::string_view registry);

}  // namespace svc::images::registry
