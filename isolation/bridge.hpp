#pragma once
// NetworkMode::kBridge: a veth pair per sandbox, the host end on a Linux bridge (created on first
// use and kept while sandboxes use it), the sandbox end renamed eth0 with an address from a
// private range, a default route via the bridge, and NAT for traffic leaving the range. Links,
// addresses and port flags are made over rtnetlink (netlink.hpp), the packet filter through
// libnftables (bridge_rules.hpp has what it says): no `ip` or `iptables` process. Addresses are
// allocated in a small file (like the uid pool) so they survive restarts.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc::isolation {

class NetnsWorker;

struct BridgeOptions {
  std::string name = "svc0";
  std::string subnet = "10.88.0.0/16";  // the bridge takes the first host address (.1)
  std::filesystem::path ipam_file;      // empty: <state dir>/bridge-addresses
  bool masquerade = true;
  bool reach_host = false;        // bridge tasks may connect to the host's own services
  bool reach_each_other = false;  // bridge tasks may connect to each other
};

struct BridgeAttachment {
  std::string host_veth;  // the host end, e.g. "svc1a2b3c4d"
  std::string address;    // "10.88.0.2"
  int prefix = 16;
  std::string gateway;  // "10.88.0.1"
};

class Bridge {
 public:
  Bridge(BridgeOptions options, NetnsWorker& worker);
  // Connects the namespace netns_fd to the bridge; owner names the address allocation.
  Result<BridgeAttachment> attach(std::string_view owner, int netns_fd);
  // Deletes the host end (the sandbox end goes with it) and frees the address. Idempotent.
  Result<> detach(std::string_view owner, std::string_view host_veth);

 private:
  Result<> ensure_bridge();

  BridgeOptions options_;
  NetnsWorker& worker_;
  std::mutex mu_;
  bool ready_ = false;
};

// Deletes the bridge and its nftables table. net.ipv4.ip_forward is left as it is.
Result<> remove_bridge(const BridgeOptions& options);
// The same, only when no sandbox is attached to the bridge any more (what a stopping svcd
// does); true when it was removed (or was not there).
Result<bool> remove_bridge_if_unused(const BridgeOptions& options,
                                     const std::filesystem::path& sys = "/sys");

}  // namespace svc::isolation
