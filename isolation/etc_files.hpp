#pragma once
// The /etc/hosts and /etc/resolv.conf a sandbox is given (SandboxSpec::etc): written by the
// runtime into the sandbox dir and bound over the root's, as Docker and Podman do, so that a
// task resolves its own name and, on the bridge, the world's, whatever its image ships.
#include <string>
#include <string_view>
#include <vector>

namespace svc::isolation {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool operator==(const ResolvConf&) const = default;
};

// resolv.conf(5): "nameserver", "search" (and "domain", as a search list of one) and "options"
// lines; comments and anything else are skipped.
ResolvConf parse_resolv_conf(std::string_view text);

// What a sandbox can use of the host's resolver configuration: loopback nameservers
// (systemd-resolved's 127.0.0.53, a local dnsmasq) answer only in the host's own network
// namespace, so they are dropped; `configured` ([network] dns), when given, replaces the list.
ResolvConf sandbox_resolv_conf(const ResolvConf& host, const std::vector<std::string>& configured);

std::string format_resolv_conf(const ResolvConf& conf);

// localhost for IPv4 and IPv6, and the sandbox's hostname on its bridge address (or 127.0.1.1,
// as Debian does, without one).
std::string format_hosts(std::string_view hostname, std::string_view address);

}  // namespace svc::isolation
