// Requests apart from limits, as a user sees them: a 2-core node admits hundreds of flagless
// idle tasks; --cpu and --memory stay hard limits and reservations. A real svcd and svctl, real
// sandboxes and cgroups (root; skipped otherwise, reported to ctest as skipped).
#include <unistd.h>

#include <iostream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A daemon with the busybox image imported (no registry needed: nothing is pulled here).
std::unique_ptr<DaemonFixture> start_daemon(const std::string& config = "") {
  DaemonFixture::Options o;
  o.extra_config = config;
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  fs::path layout = d->dir() / "layout";
  busybox_image().write_layout(layout, "e2e/busybox:1");
  auto r = d->svctl({"image", "import", layout.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return d;
}

json inspect(const DaemonFixture& d, const std::string& task) {
  auto r = d.svctl({"inspect", task, "-o", "json"});
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

int count_running(const DaemonFixture& d) {
  auto r = d.svctl({"ps", "-o", "json"});
  if (r.exit_code != 0) {
    std::cout << "svctl ps: " << r.exit_code << " " << r.err << std::endl;
    return -1;
  }
  json ps = json::parse(r.out);  // kept: a range-for over a temporary's member would dangle
  int n = 0;
  for (const auto& t : ps["tasks"]) n += t["state"] == "RUNNING" ? 1 : 0;
  return n;
}

// A control file of a task's sandbox cgroup: v1 under the controller's hierarchy, else v2.
std::string cgroup_file(const DaemonFixture& d, const std::string& id, const std::string& v1,
                        const std::string& file) {
  fs::path rel = fs::path(d.cgroup_base()) / "sandboxes" / id / file;
  for (const fs::path& p :
       {fs::path("/sys/fs/cgroup") / v1 / rel, fs::path("/sys/fs/cgroup") / rel})
    if (auto text = read_file(p)) {
      std::string v = *text;
      while (!v.empty() && v.back() == '\n') v.pop_back();
      return v;
    }
  return "(missing: " + rel.string() + ")";
}

bool v1_cpu(const DaemonFixture& d, const std::string& id) {
  return fs::exists(fs::path("/sys/fs/cgroup/cpu") / d.cgroup_base() / "sandboxes" / id);
}

}  // namespace

TEST_CASE("200 sleeping tasks started with no flags are all admitted and running",
          "[e2e][resources]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon();  // the node as it is: all CPUs, 90 % of RAM
  DaemonFixture& d = *daemon;
  const int kTasks = std::getenv("SVC_E2E_TASKS") ? std::atoi(std::getenv("SVC_E2E_TASKS")) : 200;
  for (int i = 0; i < kTasks; ++i) {
    auto r = d.svctl(
        {"run", "-d", "--name", fmt::format("idle-{}", i), "e2e/busybox:1", "--", "sleep", "3600"});
    INFO("task " << i << ": " << r.err);
    REQUIRE(r.exit_code == 0);
  }
  int running = 0;
  CHECK(wait_for([&] { return (running = count_running(d)) == kTasks; }, 120s));
  CHECK(running == kTasks);

  // What each one asked for by default: a small request, no CPU limit, a memory limit.
  json t = inspect(d, "idle-0");
  CHECK(t["resources"]["cpuRequestMillis"] == "1");  // int64 is a JSON string in proto3
  CHECK(t["resources"]["cpuLimitMillis"] == "0");    // no CFS quota
  CHECK(t["resources"]["memoryRequestBytes"] == std::to_string(16ULL << 20));
  CHECK(t["resources"]["memoryLimitBytes"] == std::to_string(512ULL << 20));
  // ... and what its cgroup enforces: the smallest weight, no quota, the memory limit.
  std::string id = t["id"];
  if (v1_cpu(d, id)) {
    CHECK(cgroup_file(d, id, "cpu", "cpu.shares") == "2");
    CHECK(cgroup_file(d, id, "cpu", "cpu.cfs_quota_us") == "-1");
    CHECK(cgroup_file(d, id, "memory", "memory.limit_in_bytes") == std::to_string(512ULL << 20));
  } else {
    CHECK(cgroup_file(d, id, "", "cpu.weight") == "1");
    CHECK(cgroup_file(d, id, "", "cpu.max").starts_with("max "));
    CHECK(cgroup_file(d, id, "", "memory.max") == std::to_string(512ULL << 20));
  }

  // svctl node info shows the requests, limits and what is free.
  auto info = json::parse(d.svctl({"node", "info", "-o", "json"}).out);
  const json& cap = info["capacity"];
  CHECK(cap["admitted"] == kTasks);
  CHECK(cap["requestedCpuMillis"] == std::to_string(kTasks));
  CHECK(cap["requestedMemoryBytes"] == std::to_string(kTasks * (16ULL << 20)));
  CHECK(cap["withoutCpuLimit"] == kTasks);
  CHECK(cap["limitedMemoryBytes"] == std::to_string(kTasks * (512ULL << 20)));
  auto table = d.svctl({"node", "info"});
  CHECK(table.out.find("Requested") != std::string::npos);
  CHECK(table.out.find("0.2 vCPU") != std::string::npos);
  CHECK(table.out.find("Free") != std::string::npos);
  CHECK(table.out.find("200 without a CPU limit") != std::string::npos);
}

TEST_CASE("a task with --cpu 1.5 on a node with 1 vCPU free is refused with a clear message",
          "[e2e][resources]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon("[node]\ncpus = 2\nmemory = \"4Gi\"\n");
  DaemonFixture& d = *daemon;
  REQUIRE(
      d.svctl({"run", "-d", "--name", "one", "--cpu", "1", "e2e/busybox:1", "--", "sleep", "3600"})
          .exit_code == 0);
  auto refused = d.svctl({"run", "--name", "big", "--cpu", "1.5", "e2e/busybox:1", "--", "true"});
  CHECK(refused.exit_code == 125);
  CHECK(refused.err.find("not enough capacity: the task requests 1.5 vCPU") != std::string::npos);
  CHECK(refused.err.find("the node has 1 vCPU") != std::string::npos);
  CHECK(refused.err.find("--queue") != std::string::npos);
  CHECK(d.svctl({"inspect", "big"}).exit_code == 5);  // nothing stored
  // --cpu is a hard limit: the quota of 1 vCPU.
  std::string id = inspect(d, "one")["id"];
  if (v1_cpu(d, id)) {
    CHECK(cgroup_file(d, id, "cpu", "cpu.cfs_quota_us") == "100000");
    CHECK(cgroup_file(d, id, "cpu", "cpu.shares") == "1024");
  } else {
    CHECK(cgroup_file(d, id, "", "cpu.max") == "100000 100000");
  }
  // A flagless task still fits in what is left.
  auto small = d.svctl({"run", "--rm", "e2e/busybox:1", "--", "true"});
  INFO(small.err);
  CHECK(small.exit_code == 0);
  // More than the node can ever give is refused as such.
  auto never = d.svctl({"run", "--cpu", "3", "e2e/busybox:1", "--", "true"});
  CHECK(never.exit_code == 125);
  CHECK(never.err.find("more than this node can ever give") != std::string::npos);
}
