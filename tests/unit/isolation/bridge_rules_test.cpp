// The bridge's packet filter as data: what a bridge task may reach, in one table of svc's own.
#include <catch2/catch.hpp>

#include "isolation/bridge.hpp"
#include "isolation/bridge_rules.hpp"

using namespace svc::isolation;

namespace {

bool has(const std::string& script, const std::string& line) {
  return script.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("bridge rules: by default tasks reach neither each other nor the host, and go out NATed",
          "[network]") {
  BridgeOptions o;
  o.name = "svc0";
  o.subnet = "10.88.0.0/16";
  std::string s = bridge_ruleset(o);
  INFO(s);
  // Replaced in one transaction, whether it existed or not; nothing of the host's touched.
  CHECK(s.starts_with("add table ip svc_svc0\ndelete table ip svc_svc0\ntable ip svc_svc0 {"));
  CHECK(has(s, "iifname \"svc0\" oifname \"svc0\" drop"));
  CHECK(has(s, "type filter hook input priority filter; policy accept;"));
  CHECK(has(s, "iifname \"svc0\" ct state established,related accept"));
  CHECK(has(s, "iifname \"svc0\" drop comment \"bridge tasks do not reach the host's services\""));
  CHECK(has(s, "oifname \"svc0\" ct state established,related accept"));
  CHECK(has(s, "iifname != \"svc0\" oifname \"svc0\" drop"));
  CHECK(has(s, "ip saddr 10.88.0.0/16 oifname != \"svc0\" masquerade"));
  CHECK(bridge_ruleset_removal(o) == "add table ip svc_svc0\ndelete table ip svc_svc0\n");
}

TEST_CASE("bridge rules: what an operator allows is allowed", "[network]") {
  BridgeOptions o;
  o.name = "svc-test.1";
  o.reach_host = true;
  o.reach_each_other = true;
  o.masquerade = false;
  CHECK(bridge_table_name(o) == "svc_svc_test_1");
  std::string s = bridge_ruleset(o);
  INFO(s);
  CHECK_FALSE(has(s, "oifname \"svc-test.1\" drop comment \"bridge tasks do not reach each"));
  CHECK_FALSE(has(s, "do not reach the host"));
  CHECK_FALSE(has(s, "masquerade"));
  // Still: nothing from outside reaches a bridge task unasked.
  CHECK(has(s,
            "iifname != \"svc-test.1\" oifname \"svc-test.1\" drop comment \"nothing from "
            "outside reaches a bridge task\""));
  // And what comes from another bridge task is not dropped by it (br_netfilter sends bridged
  // traffic through the forward hook).
  CHECK_FALSE(has(s, "    oifname \"svc-test.1\" drop"));
}
