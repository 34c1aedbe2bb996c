#include "images/registry/options.hpp"

#include <algorithm>

namespace svc::images::registry {

bool is_insecure(const RegistryOptions& o, std::string_view registry) {
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
