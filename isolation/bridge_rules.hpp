#pragma once
// The packet filter of bridge networking, as data: one nftables table of svc's own per bridge
// ("ip svc_<bridge>"), so nothing of the host's rules is touched and tearing down is one
// "delete table". Applied through libnftables (nftables.hpp), never by spawning iptables.
//
// What it says (bridge.hpp has the options):
//   - outbound: traffic from the bridge's subnet leaving by another interface is masqueraded;
//   - nothing from outside reaches a bridge task except replies (conntrack established);
//   - a bridge task reaches no service of the host (input from the bridge is dropped, but
//     replies), unless reach_host;
//   - bridge tasks do not reach each other, unless reach_each_other: routed through the host
//     here, and on the bridge itself by port isolation (Netlink::set_port_isolated).
#include <string>

namespace svc::isolation {

struct BridgeOptions;

// "svc_<bridge name>", with anything but letters, digits and '_' made '_'.
std::string bridge_table_name(const BridgeOptions& options);

// A script that replaces the bridge's table in one transaction (creating it when missing).
std::string bridge_ruleset(const BridgeOptions& options);

// A script that deletes the bridge's table (nothing when it does not exist).
std::string bridge_ruleset_removal(const BridgeOptions& options);

}  // namespace svc::isolation
