// The sandbox a task's launch spec becomes: its request is a CPU weight, only a limit a quota.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/adapters/task_runtime.hpp"

using namespace svc;
using namespace svc::daemon;

namespace {

scheduler::LaunchSpec launch_spec(const TempDir& root) {
  scheduler::LaunchSpec l;
  l.id = "abcd1234";
  l.args = {"/bin/sleep", "1"};
  l.lower_dirs = {root.path().string()};
  l.user = "0:0";
  return l;
}

}  // namespace

TEST_CASE("a flagless task's sandbox: the smallest weight, no CFS quota, its memory limit",
          "[adapters][resources]") {
  TempDir root;
  auto l = launch_spec(root);
  l.cpu_request_millis = 1;
  l.cpu_millis = 0;
  l.memory_request_bytes = 16ULL << 20;
  l.memory_bytes = 512ULL << 20;
  l.pids = 1024;
  auto s = TaskRuntimeAdapter::to_sandbox_spec(l).value();
  CHECK(s.resources.cpu_millis == 0);
  CHECK(s.resources.cpu_shares == 2);
  CHECK(s.resources.memory_bytes == 512ULL << 20);
  CHECK(s.resources.pids == 1024);
}

TEST_CASE("a task with --cpu 1.5 gets a quota of 1.5 vCPU and the weight of 1.5 vCPU",
          "[adapters][resources]") {
  TempDir root;
  auto l = launch_spec(root);
  l.cpu_request_millis = 1500;
  l.cpu_millis = 1500;
  l.memory_bytes = 256ULL << 20;
  auto s = TaskRuntimeAdapter::to_sandbox_spec(l).value();
  CHECK(s.resources.cpu_millis == 1500);
  CHECK(s.resources.cpu_shares == 1536);
  CHECK(scheduler::cpu_shares_for(0) == 2);
  CHECK(scheduler::cpu_shares_for(1'000'000) == 262'144);
}

TEST_CASE(
    "a task gets its own /etc/hosts and /etc/resolv.conf, on the bridge with the host's "
    "reachable nameservers",
    "[adapters][network]") {
  TempDir root;
  auto l = launch_spec(root);
  auto priv = TaskRuntimeAdapter::to_sandbox_spec(l).value();
  CHECK(priv.etc.generate);
  CHECK(priv.etc.nameservers.empty());  // no network: nothing to resolve with
  REQUIRE(write_file_atomic(root.path() / "resolv.conf",
                            "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch lan.example\n"));
  TaskRuntimeAdapter::Dns dns;
  dns.host_resolv_conf = root.path() / "resolv.conf";
  l.network = scheduler::NetworkMode::kBridge;
  auto bridged = TaskRuntimeAdapter::to_sandbox_spec(l, dns).value();
  CHECK(bridged.etc.generate);
  CHECK(bridged.etc.nameservers == std::vector<std::string>{"192.0.2.1"});
  CHECK(bridged.etc.search == std::vector<std::string>{"lan.example"});
  dns.nameservers = {"198.51.100.53"};
  CHECK(TaskRuntimeAdapter::to_sandbox_spec(l, dns).value().etc.nameservers ==
        std::vector<std::string>{"198.51.100.53"});
}
