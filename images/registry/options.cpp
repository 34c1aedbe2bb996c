#include "images/registry/options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace svc::images::registry {

bool is_loopback_registry(std::string_view registry) {
  // registry is "host", "host:port", "[v6]" or "[v6]:port", as a reference names it.
  std::string host;
  if (registry.starts_with('[')) {
    auto close = registry.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(registry.substr(1, close - 1));
    in6_addr a6{};
    return ::inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  }
  host = std::string(registry.substr(0, registry.find(':')));
  if (host == "localhost") return true;  // RFC 6761: always the loopback
  in_addr a4{};
  // inet_pton takes only the dotted quad: "127.1" or "0x7f.0.0.1" are names, not addresses.
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool is_insecure(const RegistryOptions& o, std::string_view registry) {
  if (is_loopback_registry(registry)) return true;
  return std::find(o.insecure.begin(), o.insecure.end(), registry) != o.insecure.end();
}

std::vector<Endpoint> endpoints_for(const RegistryOptions& o, std::string_view registry) {
  std::vector<Endpoint> out;
  if (auto it = o.mirrors.find(std::string(registry)); it != o.mirrors.end())
    for (std::string url : it->second) {
      while (!url.empty() && url.back() == '/') url.pop_back();
      out.push_back({url, true});
    }
  std::string host = registry == "docker.io" ? "registry-1.docker.io" : std::string(registry);
  out.push_back({(is_insecure(o, registry) ? "http://" : "https://") + host, false});
  return out;
}

}  // namespace svc::images::registry
