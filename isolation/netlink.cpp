#include "isolation/netlink.hpp"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>  // before the linux headers: glibc's IFF_* and linux/if.h's collide
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace svc::isolation {

namespace {

// Appends netlink attributes to a message buffer; nested ones are closed by end().
class Builder {
 public:
  Builder(std::vector<char>& buf) : buf_(buf) {}
  template <class T>
  T* header() {
    std::size_t off = buf_.size();
    buf_.resize(off + NLMSG_ALIGN(sizeof(T)));
    return reinterpret_cast<T*>(buf_.data() + off);
  }
  void attr(unsigned short type, const void* data, std::size_t len) {
    std::size_t off = buf_.size();
    buf_.resize(off + RTA_ALIGN(RTA_LENGTH(len)));
    auto* rta = reinterpret_cast<struct rtattr*>(buf_.data() + off);
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    if (len) std::memcpy(RTA_DATA(rta), data, len);
  }
  void str(unsigned short type, std::string_view s) {
    std::string z(s);
    attr(type, z.c_str(), z.size() + 1);
  }
  template <class T>
  void value(unsigned short type, T v) {
    attr(type, &v, sizeof v);
  }
  std::size_t begin(unsigned short type) {
    std::size_t off = buf_.size();
    attr(type, nullptr, 0);
    return off;
  }
  void end(std::size_t off) {
    reinterpret_cast<struct rtattr*>(buf_.data() + off)->rta_len =
        static_cast<unsigned short>(buf_.size() - off);
  }

 private:
  std::vector<char>& buf_;
};

std::vector<char> start(std::uint16_t type, std::uint16_t flags) {
  std::vector<char> buf(NLMSG_HDRLEN);
  auto* h = reinterpret_cast<struct nlmsghdr*>(buf.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
  return buf;
}

Result<> name_ok(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail(Code::kInvalidArgument, "interface name \"{}\": 1 to {} characters", name,
                IFNAMSIZ - 1);
  return {};
}

}  // namespace

Result<Netlink> Netlink::open() {
  Netlink n;
  n.fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!n.fd_) return fail_errno("open a netlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(n.fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    return fail_errno("bind the netlink socket");
  return n;
}

Result<> Netlink::request(std::vector<char>& msg, std::string_view what) {
  auto* h = reinterpret_cast<struct nlmsghdr*>(msg.data());
  h->nlmsg_len = static_cast<std::uint32_t>(msg.size());
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return fail_errno(fmt::format("netlink: {}", what));
  alignas(struct nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t got = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail_errno(fmt::format("netlink: {}: read the answer", what));
    int n = static_cast<int>(got);
    for (auto* r = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(r, n); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != seq_) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<struct nlmsgerr*>(NLMSG_DATA(r));
        if (e->error == 0) return {};
        return fail_errno(-e->error, fmt::format("netlink: {}", what));
      }
    }
  }
}

Result<int> Netlink::link_index(std::string_view name) {
  SVC_TRY(name_ok(name));
  unsigned idx = ::if_nametoindex(std::string(name).c_str());
  return static_cast<int>(idx);  // 0: none (if_nametoindex reads this thread's namespace)
}

Result<> Netlink::create_bridge(std::string_view name) {
  SVC_TRY(name_ok(name));
  auto msg = start(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  b.str(IFLA_IFNAME, name);
  auto info = b.begin(IFLA_LINKINFO);
  b.str(IFLA_INFO_KIND, "bridge");
  b.end(info);
  return request(msg, fmt::format("create bridge {}", name));
}

Result<> Netlink::create_veth(std::string_view host_name, std::string_view peer_name,
                              int peer_netns_fd) {
  SVC_TRY(name_ok(host_name));
  SVC_TRY(name_ok(peer_name));
  auto msg = start(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  b.str(IFLA_IFNAME, host_name);
  auto info = b.begin(IFLA_LINKINFO);
  b.str(IFLA_INFO_KIND, "veth");
  auto data = b.begin(IFLA_INFO_DATA);
  auto peer = b.begin(VETH_INFO_PEER);
  auto* peer_ifi = b.header<struct ifinfomsg>();
  peer_ifi->ifi_family = AF_UNSPEC;
  b.str(IFLA_IFNAME, peer_name);
  b.value<std::uint32_t>(IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns_fd));
  b.end(peer);
  b.end(data);
  b.end(info);
  return request(msg, fmt::format("create veth {}", host_name));
}

Result<> Netlink::set_up(int index) {
  auto msg = start(RTM_NEWLINK, 0);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return request(msg, fmt::format("bring link {} up", index));
}

Result<> Netlink::set_master(int index, int master) {
  auto msg = start(RTM_NEWLINK, 0);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  b.value<std::uint32_t>(IFLA_MASTER, static_cast<std::uint32_t>(master));
  return request(msg, fmt::format("attach link {} to {}", index, master));
}

Result<> Netlink::set_port_isolated(int index, bool isolated) {
  // What `bridge link set dev X isolated on` sends: the port's protocol info, nested, on an
  // AF_BRIDGE RTM_SETLINK. Isolated ports forward only to ports that are not isolated (the
  // bridge's own port: the host side), never to each other (kernel 4.18, br_private.h
  // BR_ISOLATED).
  auto msg = start(RTM_SETLINK, 0);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = index;
  auto info = b.begin(IFLA_PROTINFO | NLA_F_NESTED);
  b.value<std::uint8_t>(IFLA_BRPORT_ISOLATED, isolated ? 1 : 0);
  b.end(info);
  return request(
      msg, fmt::format("make bridge port {} {}", index, isolated ? "isolated" : "not isolated"));
}

Result<> Netlink::delete_link(int index) {
  auto msg = start(RTM_DELLINK, 0);
  Builder b(msg);
  auto* ifi = b.header<struct ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return request(msg, fmt::format("delete link {}", index));
}

Result<> Netlink::add_address(int index, in_addr address, int prefix) {
  auto msg = start(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  Builder b(msg);
  auto* ifa = b.header<struct ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_index = static_cast<unsigned>(index);
  b.value(IFA_LOCAL, address);
  b.value(IFA_ADDRESS, address);
  auto r =
      request(msg, fmt::format("add address {}/{}", ipv4_to_string(ntohl(address.s_addr)), prefix));
  if (!r && r.error().sys_errno() == EEXIST) return {};
  return r;
}

Result<> Netlink::add_default_route(int index, in_addr gateway) {
  auto msg = start(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  Builder b(msg);
  auto* rt = b.header<struct rtmsg>();
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  b.value(RTA_GATEWAY, gateway);
  b.value<std::uint32_t>(RTA_OIF, static_cast<std::uint32_t>(index));
  return request(msg, "add the default route");
}

Result<Ipv4Net> parse_ipv4_net(std::string_view text) {
  auto bad = [&] {
    return fail(Code::kInvalidArgument, "\"{}\" is not an IPv4 network (like 10.88.0.0/16)", text);
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  Ipv4Net n;
  std::string addr(text.substr(0, slash));
  if (::inet_pton(AF_INET, addr.c_str(), &n.network) != 1) return bad();
  auto [p, ec] = std::from_chars(text.data() + slash + 1, text.data() + text.size(), n.prefix);
  if (ec != std::errc() || p != text.data() + text.size() || n.prefix < 8 || n.prefix > 30)
    return bad();
  std::uint32_t mask = n.prefix == 0 ? 0 : ~0u << (32 - n.prefix);
  n.network.s_addr = htonl(ntohl(n.network.s_addr) & mask);
  return n;
}

std::string ipv4_to_string(std::uint32_t host_order) {
  return fmt::format("{}.{}.{}.{}", host_order >> 24, (host_order >> 16) & 255,
                     (host_order >> 8) & 255, host_order & 255);
}

}  // namespace svc::isolation
