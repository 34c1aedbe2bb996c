#include "isolation/bridge_rules.hpp"

#include <fmt/format.h>

#include "isolation/bridge.hpp"

namespace svc::isolation {

std::string bridge_table_name(const BridgeOptions& o) {
  std::string name = "svc_";
  for (char c : o.name)
    name += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
  return name;
}

std::string bridge_ruleset(const BridgeOptions& o) {
  std::string t = bridge_table_name(o);
  const std::string& br = o.name;
  std::string out;
  // "add" then "delete" then the table: one transaction that works whether it existed or not
  // and leaves no window without rules (nft(8), "atomic rule replacement").
  out += fmt::format("add table ip {t}\ndelete table ip {t}\n", fmt::arg("t", t));
  out += fmt::format("table ip {} {{\n", t);
  out += "  chain forward {\n";
  out += "    type filter hook forward priority filter; policy accept;\n";
  if (!o.reach_each_other)
    out += fmt::format(
        "    iifname \"{br}\" oifname \"{br}\" drop comment \"bridge tasks do not reach each "
        "other\"\n",
        fmt::arg("br", br));
  out += fmt::format("    oifname \"{}\" ct state established,related accept\n", br);
  // Only what comes from elsewhere: with br_netfilter (bridge-nf-call-iptables) the traffic
  // between two bridge ports passes this hook too, and is the rule above's to decide.
  out += fmt::format(
      "    iifname != \"{br}\" oifname \"{br}\" drop comment \"nothing from outside reaches a "
      "bridge task\"\n",
      fmt::arg("br", br));
  out += "  }\n";
  out += "  chain input {\n";
  out += "    type filter hook input priority filter; policy accept;\n";
  if (!o.reach_host) {
    out += fmt::format("    iifname \"{}\" ct state established,related accept\n", br);
    out += fmt::format(
        "    iifname \"{}\" drop comment \"bridge tasks do not reach the host's services\"\n", br);
  }
  out += "  }\n";
  if (o.masquerade) {
    out += "  chain postrouting {\n";
    out += "    type nat hook postrouting priority srcnat; policy accept;\n";
    out += fmt::format("    ip saddr {} oifname != \"{}\" masquerade\n", o.subnet, br);
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

std::string bridge_ruleset_removal(const BridgeOptions& o) {
  std::string t = bridge_table_name(o);
  return fmt::format("add table ip {t}\ndelete table ip {t}\n", fmt::arg("t", t));
}

}  // namespace svc::isolation
