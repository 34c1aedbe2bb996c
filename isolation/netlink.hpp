#pragma once
// A small rtnetlink client: just the link, address and route requests bridge networking needs.
// Why not `ip`: a sandbox start would spawn 4-6 processes (each ~1 ms and a page-table copy of
// the daemon); netlink is a few syscalls on one socket. The socket belongs to the network
// namespace of the thread that opened it, so open one inside a sandbox (NetnsWorker::run_in) to
// configure that sandbox's side.
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

// Owns one NETLINK_ROUTE socket, closed by the destructor.
class Netlink {
 public:
  static Result<Netlink> open();

  // 0 when there is no such link.
  Result<int> link_index(std::string_view name);
  Result<> create_bridge(std::string_view name);
  // A veth pair: host_name here, peer_name created directly in the namespace peer_netns_fd.
  Result<> create_veth(std::string_view host_name, std::string_view peer_name, int peer_netns_fd);
  Result<> set_up(int index);
  Result<> set_master(int index, int master_index);
  // A bridge port that forwards to no other isolated port (IFLA_BRPORT_ISOLATED).
  Result<> set_port_isolated(int index, bool isolated);
  Result<> delete_link(int index);
  // IPv4 address/prefix on a link; EEXIST is success.
  Result<> add_address(int index, in_addr address, int prefix);
  Result<> add_default_route(int index, in_addr gateway);

 private:
  Result<> request(std::vector<char>& msg, std::string_view what);
  UniqueFd fd_;
  std::uint32_t seq_ = 1;
};

// "10.88.0.0/16" -> network address and prefix; INVALID_ARGUMENT otherwise.
struct Ipv4Net {
  in_addr network{};
  int prefix = 0;
  std::uint32_t host_order() const { return ntohl(network.s_addr); }
};
Result<Ipv4Net> parse_ipv4_net(std::string_view text);
std::string ipv4_to_string(std::uint32_t host_order);

}  // namespace svc::isolation
