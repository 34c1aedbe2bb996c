// The CPU idle throttle's limiter over a real cgroup driver on a fake cgroupfs tree: it finds
// the sandbox's cgroup from its state and changes its CPU quota (cpu.max) and nothing else; an
// unknown sandbox, or one without a cgroup, is an error naming it.
#include <catch2/catch.hpp>

#include "daemon/adapters/cgroup_cpu_limiter.hpp"
#include "tests/unit/isolation/cgroups/fake_cgroupfs.hpp"

using namespace svc;
using namespace svc::isolation;
using svc::daemon::CgroupCpuLimiter;
namespace fs = std::filesystem;

TEST_CASE("the cgroup CPU limiter throttles and restores a sandbox's quota alone",
          "[daemon][cpu_idle]") {
  test::FakeCgroupFs cgfs;
  fs::path root = cgfs.add_v2("cpu memory pids");
  auto driver = make_cgroup_v2(root, "svc", cgfs.ops());
  CgroupLimits l;
  l.cpu_millis = 1500;
  l.memory_bytes = 64 << 20;
  REQUIRE(driver->create("instances/hello-00001-aaaa0001", l));
  CgroupCpuLimiter limiter(*driver, [](const std::string& id) -> Result<std::string> {
    if (id == "hello-00001-aaaa0001") return std::string("instances/") + id;
    if (id == "bare") return std::string();
    return fail(Code::kNotFound, "no sandbox {}", id);
  });
  fs::path dir = root / "svc/instances/hello-00001-aaaa0001";
  REQUIRE(limiter.set_cpu_limit("hello-00001-aaaa0001", 10));
  CHECK(test::FakeCgroupFs::get(dir / "cpu.max") == "1000 100000");
  CHECK(test::FakeCgroupFs::get(dir / "memory.max") == "67108864");
  REQUIRE(limiter.set_cpu_limit("hello-00001-aaaa0001", 1500));
  CHECK(test::FakeCgroupFs::get(dir / "cpu.max") == "150000 100000");
  REQUIRE(limiter.set_cpu_limit("hello-00001-aaaa0001", 0));
  CHECK(test::FakeCgroupFs::get(dir / "cpu.max") == "max 100000");

  auto missing = limiter.set_cpu_limit("nope", 10);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("nope") != std::string::npos);
  auto bare = limiter.set_cpu_limit("bare", 10);
  REQUIRE_FALSE(bare);
  CHECK(bare.error().message().find("no cgroup") != std::string::npos);
}
