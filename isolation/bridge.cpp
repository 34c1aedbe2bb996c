#include "isolation/bridge.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "isolation/netlink.hpp"
#include "isolation/netns.hpp"
#include "isolation/uid_pool.hpp"

extern char** environ;

namespace svc::isolation {

namespace {

// Runs a short command (iptables) and returns its exit code. Only at bridge set-up and
// teardown, never per sandbox.
int run_command(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The NAT and forwarding rules, as iptables arguments after the table/verb.
std::vector<std::vector<std::string>> rules(const BridgeOptions& o) {
  return {
      {"-t", "nat", "POSTROUTING", "-s", o.subnet, "!", "-o", o.name, "-j", "MASQUERADE"},
      {"-t", "filter", "FORWARD", "-i", o.name, "-j", "ACCEPT"},
      {"-t", "filter", "FORWARD", "-o", o.name, "-m", "conntrack", "--ctstate",
       "RELATED,ESTABLISHED", "-j", "ACCEPT"},
  };
}

std::vector<std::string> iptables(const std::string& verb, std::vector<std::string> rule) {
  // rule = {"-t", table, chain, ...}: iptables -t table <verb> chain ...
  std::vector<std::string> out = {"iptables", "-w", rule[0], rule[1], verb};
  out.insert(out.end(), rule.begin() + 2, rule.end());
  return out;
}

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
    for (const auto& r : rules(options_)) {
      if (run_command(iptables("-C", r)) == 0) continue;
      if (run_command(iptables("-A", r)) != 0)
        return fail(Code::kUnavailable,
                    "iptables could not add the NAT rule for {} (is the iptables package "
                    "installed?)",
                    options_.subnet);
    }
  }
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
  if (options.masquerade)
    for (const auto& r : rules(options))
      while (run_command(iptables("-C", r)) == 0)
        if (run_command(iptables("-D", r)) != 0) break;
  return {};
}

}  // namespace svc::isolation
