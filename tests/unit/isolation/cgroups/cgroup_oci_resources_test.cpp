// What OCI bundles may ask of the cgroup drivers beyond svc's own limits (svc-runtime): cpu
// shares and the realtime budget, cpusets, memory reservation/swap/swappiness/OOM killer,
// device rules — on a fake cgroupfs.
#include <catch2/catch.hpp>

#include "fake_cgroupfs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_v1_controllers.hpp"
#include "isolation/cgroups/cgroup_v2_controllers.hpp"

using namespace svc;
using namespace svc::isolation;
using svc::test::FakeCgroupFs;
namespace fs = std::filesystem;

namespace {

std::string get(const fs::path& p) { return FakeCgroupFs::get(p); }

struct V1Tree {
  V1Tree() {
    for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer", "cpuset", "devices"})
      fs_.add_v1(c);
    driver = make_cgroup_v1(fs_.v1_mounts(), "", fs_.ops());
  }
  fs::path dir(const char* hierarchy, const char* rel) const {
    return fs_.root() / hierarchy / rel;
  }
  FakeCgroupFs fs_;
  std::unique_ptr<CgroupDriver> driver;
};

}  // namespace

TEST_CASE("device rules in the kernel's spelling", "[cgroups]") {
  CHECK(device_rule_text({false, 'a', -1, -1, "rwm"}) == "a");
  CHECK(device_rule_text({true, 'c', 1, 3, "rwm"}) == "c 1:3 rwm");
  CHECK(device_rule_text({true, 'c', 136, -1, "rw"}) == "c 136:* rw");
  CHECK(device_rule_text({true, 'b', -1, -1, "m"}) == "b *:* m");
}

TEST_CASE("v1: shares, the realtime budget and an explicit period without a quota",
          "[cgroups][v1]") {
  TempDir d;
  for (const char* f : {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cpu.rt_period_us",
                        "cpu.rt_runtime_us"})
    FakeCgroupFs::put(d.path() / f, "0\n");
  CgroupLimits l;
  l.cpu_shares = 2048;
  l.cpu_period_us = 500'000;
  l.cpu_rt_period_us = 1'000'000;
  l.cpu_rt_runtime_us = 950'000;
  REQUIRE(cgroups::v1::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.shares") == "2048");
  CHECK(get(d.path() / "cpu.cfs_period_us") == "500000");
  CHECK(get(d.path() / "cpu.cfs_quota_us") == "-1");
  CHECK(get(d.path() / "cpu.rt_period_us") == "1000000");
  CHECK(get(d.path() / "cpu.rt_runtime_us") == "950000");
}

TEST_CASE("v1: memory reservation, swap, swappiness and the OOM killer switch", "[cgroups][v1]") {
  V1Tree t;
  CgroupLimits l;
  l.memory_bytes = 50 << 20;
  l.memory_swap_bytes = 100 << 20;
  l.memory_reservation_bytes = 10 << 20;
  l.memory_swappiness = 10;
  l.memory_oom_kill_disable = true;
  REQUIRE(t.driver->create("c1", l));
  CHECK(get(t.dir("memory", "c1") / "memory.limit_in_bytes") == std::to_string(50 << 20));
  CHECK(get(t.dir("memory", "c1") / "memory.memsw.limit_in_bytes") == std::to_string(100 << 20));
  CHECK(get(t.dir("memory", "c1") / "memory.soft_limit_in_bytes") == std::to_string(10 << 20));
  CHECK(get(t.dir("memory", "c1") / "memory.swappiness") == "10");
  CHECK(get(t.dir("memory", "c1") / "memory.oom_control") == "1");
  l.memory_swap_bytes = -1;  // unlimited swap
  REQUIRE(t.driver->update("c1", l));
  CHECK(get(t.dir("memory", "c1") / "memory.memsw.limit_in_bytes") == "-1");
}

TEST_CASE("v1: cpuset and devices are joined only by cgroups whose limits use them",
          "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("plain", {}));
  CHECK_FALSE(fs::exists(t.dir("cpuset", "plain")));
  CHECK_FALSE(fs::exists(t.dir("devices", "plain")));
  CHECK(t.driver->open_procs_files("plain")->size() == 5);

  CgroupLimits l;
  l.cpuset_cpus = "1";
  l.devices = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}};
  REQUIRE(t.driver->create("a/b/c", l));
  // Every level of the cpuset hierarchy got its parent's cpus and mems, the leaf its own cpus.
  CHECK(get(t.dir("cpuset", "a") / "cpuset.cpus") == "0-1");
  CHECK(get(t.dir("cpuset", "a/b") / "cpuset.mems") == "0");
  CHECK(get(t.dir("cpuset", "a/b/c") / "cpuset.cpus") == "1");
  CHECK(get(t.dir("cpuset", "a/b/c") / "cpuset.mems") == "0");
  // The last rule written to each file (a fake file keeps only the last write).
  CHECK(get(t.dir("devices", "a/b/c") / "devices.deny") == "a");
  CHECK(get(t.dir("devices", "a/b/c") / "devices.allow") == "c 1:3 rwm");
  CHECK(t.driver->open_procs_files("a/b/c")->size() == 7);
  REQUIRE(t.driver->remove("a/b/c"));
  CHECK_FALSE(fs::exists(t.dir("cpuset", "a/b/c")));
  CHECK_FALSE(fs::exists(t.dir("devices", "a/b/c")));
}

TEST_CASE("v1: limits that need an unmounted controller are refused", "[cgroups][v1]") {
  FakeCgroupFs f;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) f.add_v1(c);
  auto driver = make_cgroup_v1(f.v1_mounts(), "svc", f.ops());
  CgroupLimits l;
  l.devices = {{false, 'a', -1, -1, "rwm"}};
  auto r = driver->create("x", l);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(r.error().message().find("devices") != std::string::npos);
}

TEST_CASE("v2: shares as cpu.weight, cpusets, memory.low and swap beyond memory", "[cgroups][v2]") {
  CHECK(cgroups::v2::shares_to_weight(2) == 1);
  CHECK(cgroups::v2::shares_to_weight(1024) == 39);
  CHECK(cgroups::v2::shares_to_weight(262144) == 10000);
  FakeCgroupFs f;
  f.add_v2();
  auto driver = make_cgroup_v2(f.root() / "unified", "", f.ops());
  CgroupLimits l;
  l.cpu_shares = 1024;
  l.cpuset_cpus = "0";
  l.cpuset_mems = "0";
  l.memory_bytes = 64 << 20;
  l.memory_swap_bytes = 96 << 20;
  l.memory_reservation_bytes = 16 << 20;
  REQUIRE(driver->create("c1", l));
  fs::path d = f.root() / "unified" / "c1";
  CHECK(get(d / "cpu.weight") == "39");
  CHECK(get(d / "cpuset.cpus") == "0");
  CHECK(get(d / "memory.low") == std::to_string(16 << 20));
  CHECK(get(d / "memory.swap.max") == std::to_string(32 << 20));
}

TEST_CASE("v2: what only v1 has is refused, not dropped", "[cgroups][v2]") {
  FakeCgroupFs f;
  f.add_v2();
  auto driver = make_cgroup_v2(f.root() / "unified", "svc", f.ops());
  CgroupLimits rt;
  rt.cpu_rt_runtime_us = 950'000;
  CHECK(driver->create("a", rt).error().code() == Code::kInvalidArgument);
  CgroupLimits sw;
  sw.memory_swappiness = 0;
  CHECK(driver->create("b", sw).error().message().find("swappiness") != std::string::npos);
  CHECK_FALSE(fs::exists(f.root() / "unified" / "svc" / "a"));
}
