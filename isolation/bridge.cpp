#include "isolation/bridge.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "isolation/bridge_rules.hpp"
#include "isolation/netlink.hpp"
#include "isolation/netns.hpp"
#include "isolation/nftables.hpp"
#include "isolation/uid_pool.hpp"

namespace svc::isolation {

namespace {

// The host end's name: "svc" + 8 hex digits of a hash of the owner (fits IFNAMSIZ).
std::string veth_name(std::string_view owner, unsigned salt) {
  std::uint32_t h = 2166136261u ^ salt;
  for (unsigned char c : owner) h = (h ^ c) * 16777619u;
  return fmt::format("svc{:08x}", h);
}

// Addresses come from a pool file like the id ranges: one-address "ranges" from the first
// host address after the gateway.
UidPool address_pool(const BridgeOptions& o, const Ipv4Net& net) {
  UidPool::Options p;
  p.file = o.ipam_file;
  p.base = net.host_order() + 2;
  p.block = 1;
  p.count = (1u << (32 - net.prefix)) - 3;  // minus network, gateway and broadcast
  return UidPool(p);
}

}  // namespace

Bridge::Bridge(BridgeOptions options, NetnsWorker& worker)
    : options_(std::move(options)), worker_(worker) {}

Result<> Bridge::ensure_bridge() {
  std::lock_guard lock(mu_);
  if (ready_) return {};
  Ipv4Net net = SVC_TRY(parse_ipv4_net(options_.subnet));
  Netlink nl = SVC_TRY(Netlink::open());
  int idx = SVC_TRY(nl.link_index(options_.name));
  if (idx == 0) {
    auto made = nl.create_bridge(options_.name);
    if (!made && made.error().sys_errno() != EEXIST) return made;
    idx = SVC_TRY(nl.link_index(options_.name));
  }
  in_addr gw{htonl(net.host_order() + 1)};
  SVC_TRY(nl.add_address(idx, gw, net.prefix));
  SVC_TRY(nl.set_up(idx));
  if (options_.masquerade) {
    // Outbound traffic is forwarded and NATed: the host must route.
    UniqueFd fwd(::open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC));
    if (!fwd || ::write(fwd.get(), "1", 1) != 1) return fail_errno("enable net.ipv4.ip_forward");
  }
  SVC_TRY_CTX(run_nftables(bridge_ruleset(options_)), "bridge {}: packet filter", options_.name);
  ready_ = true;
  return {};
}

Result<BridgeAttachment> Bridge::attach(std::string_view owner, int netns_fd) {
  SVC_TRY(ensure_bridge());
  Ipv4Net net = SVC_TRY(parse_ipv4_net(options_.subnet));
  UidPool pool = address_pool(options_, net);
  IdRange a = SVC_TRY_CTX(pool.allocate(owner), "allocate an address in {}", options_.subnet);
  BridgeAttachment out;
  out.address = ipv4_to_string(a.host_base);
  out.prefix = net.prefix;
  out.gateway = ipv4_to_string(net.host_order() + 1);
  Netlink nl = SVC_TRY(Netlink::open());
  auto undo = [&](Error e) {
    if (auto i = nl.link_index(out.host_veth); i && *i) (void)nl.delete_link(*i);
    (void)pool.release(owner);
    return tl::unexpected(std::move(e));
  };
  for (unsigned salt = 0;; ++salt) {
    out.host_veth = veth_name(owner, salt);
    auto made = nl.create_veth(out.host_veth, "eth0", netns_fd);
    if (made) break;
    if (made.error().sys_errno() != EEXIST || salt > 8) {
      out.host_veth.clear();
      return undo(made.error());
    }
  }
  int host_idx = SVC_TRY(nl.link_index(out.host_veth));
  int bridge_idx = SVC_TRY(nl.link_index(options_.name));
  if (auto r = nl.set_master(host_idx, bridge_idx); !r) return undo(r.error());
  if (!options_.reach_each_other)
    if (auto r = nl.set_port_isolated(host_idx, true); !r) return undo(r.error());
  if (auto r = nl.set_up(host_idx); !r) return undo(r.error());
  in_addr addr{htonl(a.host_base)};
  in_addr gw{htonl(net.host_order() + 1)};
  auto inside = worker_.run_in(netns_fd, [&]() -> Result<> {
    Netlink in = SVC_TRY(Netlink::open());
    int idx = SVC_TRY(in.link_index("eth0"));
    if (idx == 0) return fail(Code::kInternal, "eth0 did not appear in the sandbox");
    SVC_TRY(in.add_address(idx, addr, net.prefix));
    SVC_TRY(in.set_up(idx));
    SVC_TRY(in.add_default_route(idx, gw));
    return {};
  });
  if (!inside) return undo(inside.error());
  return out;
}

Result<> Bridge::detach(std::string_view owner, std::string_view host_veth) {
  Netlink nl = SVC_TRY(Netlink::open());
  if (!host_veth.empty()) {
    int idx = SVC_TRY(nl.link_index(host_veth));
    if (idx != 0) {
      auto r = nl.delete_link(idx);
      // Gone meanwhile: the sandbox's namespace took the pair with it.
      if (!r && r.error().sys_errno() != ENODEV) return r;
    }
  }
  auto net = parse_ipv4_net(options_.subnet);
  if (net) SVC_TRY(address_pool(options_, *net).release(owner));
  return {};
}

Result<> remove_bridge(const BridgeOptions& options) {
  Netlink nl = SVC_TRY(Netlink::open());
  int idx = SVC_TRY(nl.link_index(options.name));
  if (idx != 0) SVC_TRY(nl.delete_link(idx));
  SVC_TRY_CTX(run_nftables(bridge_ruleset_removal(options)), "bridge {}: remove its packet filter",
              options.name);
  return {};
}

Result<bool> remove_bridge_if_unused(const BridgeOptions& options,
                                     const std::filesystem::path& sys) {
  // A bridge's ports are listed in /sys/class/net/<bridge>/brif (one entry per attached link).
  std::filesystem::path link = sys / "class/net" / options.name;
  std::error_code ec;
  if (!std::filesystem::exists(link, ec)) return true;  // never made (or already gone)
  if (!std::filesystem::is_empty(link / "brif", ec)) return false;
  SVC_TRY(remove_bridge(options));
  return true;
}

}  // namespace svc::isolation
