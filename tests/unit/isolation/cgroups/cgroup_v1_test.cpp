#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "fake_cgroupfs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_v1_controllers.hpp"

using namespace svc;
using namespace svc::isolation;
using svc::test::FakeCgroupFs;
namespace fs = std::filesystem;
namespace v1 = svc::isolation::cgroups::v1;

namespace {

// This machine's layout: one hierarchy per controller.
struct V1Tree {
  explicit V1Tree(FakeCgroupFs::Options o = {}) : fs_(o) {
    for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) fs_.add_v1(c);
    driver = make_cgroup_v1(fs_.v1_mounts(), "svc", fs_.ops());
  }
  fs::path dir(const char* hierarchy, const char* rel = "sb1") const {
    return fs_.root() / hierarchy / "svc" / rel;
  }
  FakeCgroupFs fs_;
  std::unique_ptr<CgroupDriver> driver;
};

std::string get(const fs::path& p) { return FakeCgroupFs::get(p); }

}  // namespace

TEST_CASE("v1 cpu: quota and period from millicpus - no limit is quota -1", "[cgroups][v1]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "cpu.cfs_period_us", "100000\n");
  FakeCgroupFs::put(d.path() / "cpu.cfs_quota_us", "-1\n");
  CgroupLimits l;
  l.cpu_millis = 1500;
  l.cpu_period_us = 20'000;
  REQUIRE(v1::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.cfs_period_us") == "20000");
  CHECK(get(d.path() / "cpu.cfs_quota_us") == "30000");
  l.cpu_millis = 0;
  REQUIRE(v1::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.cfs_quota_us") == "-1");
}

TEST_CASE("v1 cpu: shares are the weight under contention, apart from any quota", "[cgroups][v1]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "cpu.cfs_period_us", "100000\n");
  FakeCgroupFs::put(d.path() / "cpu.cfs_quota_us", "-1\n");
  FakeCgroupFs::put(d.path() / "cpu.shares", "1024\n");
  CgroupLimits l;
  l.cpu_shares = 2;  // a request without a limit: the smallest weight, no quota
  REQUIRE(v1::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.shares") == "2");
  CHECK(get(d.path() / "cpu.cfs_quota_us") == "-1");
  l.cpu_shares = 0;  // not set: left as it is
  FakeCgroupFs::put(d.path() / "cpu.shares", "1024\n");
  REQUIRE(v1::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.shares") == "1024");
  l.cpu_shares = 1;  // below the kernel's minimum
  CHECK(v1::apply_cpu(l, d.path()).error().code() == Code::kInvalidArgument);
}

TEST_CASE("v1 memory: memsw equal to the limit (no swap) when the kernel has it", "[cgroups][v1]") {
  TempDir d;
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"})
    FakeCgroupFs::put(d.path() / f, "9223372036854771712\n");
  FakeCgroupFs::put(d.path() / "memory.swappiness", "60\n");
  CgroupLimits l;
  l.memory_bytes = 64 << 20;
  REQUIRE(v1::apply_memory(l, d.path()));
  CHECK(get(d.path() / "memory.limit_in_bytes") == "67108864");
  CHECK(get(d.path() / "memory.memsw.limit_in_bytes") == "67108864");
  CHECK(get(d.path() / "memory.swappiness") == "60");  // memsw does the job
  l.memory_bytes = 0;
  REQUIRE(v1::apply_memory(l, d.path()));
  CHECK(get(d.path() / "memory.limit_in_bytes") == "-1");
  CHECK(get(d.path() / "memory.memsw.limit_in_bytes") == "-1");
}

TEST_CASE("v1 memory: without swap accounting, swappiness 0 keeps the sandbox out of swap",
          "[cgroups][v1]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "memory.limit_in_bytes", "9223372036854771712\n");
  FakeCgroupFs::put(d.path() / "memory.swappiness", "60\n");
  CgroupLimits l;
  l.memory_bytes = 1 << 30;
  REQUIRE(v1::apply_memory(l, d.path()));
  CHECK(get(d.path() / "memory.limit_in_bytes") == "1073741824");
  CHECK(get(d.path() / "memory.swappiness") == "0");
  CHECK_FALSE(fs::exists(d.path() / "memory.memsw.limit_in_bytes"));
}

TEST_CASE("v1 pids: pids.max is the limit or \"max\"", "[cgroups][v1]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "pids.max", "max\n");
  CgroupLimits l;
  REQUIRE(v1::apply_pids(l, d.path()));
  CHECK(get(d.path() / "pids.max") == "1024");  // the default limit
  l.pids = 0;
  REQUIRE(v1::apply_pids(l, d.path()));
  CHECK(get(d.path() / "pids.max") == "max");
}

TEST_CASE("v1 driver: create makes the cgroup in every hierarchy with its limits",
          "[cgroups][v1]") {
  V1Tree t;
  CHECK(t.driver->version() == "v1");
  CgroupLimits l;
  l.cpu_millis = 250;
  l.memory_bytes = 128 << 20;
  l.pids = 64;
  REQUIRE(t.driver->create("sb1", l));
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    INFO(h);
    CHECK(fs::is_directory(t.dir(h)));
  }
  CHECK(get(t.dir("cpu") / "cpu.cfs_quota_us") == "25000");
  CHECK(get(t.dir("memory") / "memory.limit_in_bytes") == "134217728");
  CHECK(get(t.dir("memory") / "memory.memsw.limit_in_bytes") == "134217728");
  CHECK(get(t.dir("pids") / "pids.max") == "64");

  auto again = t.driver->create("sb1", l);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Code::kAlreadyExists);

  l.pids = 10;
  l.memory_bytes = 0;
  REQUIRE(t.driver->update("sb1", l));
  CHECK(get(t.dir("pids") / "pids.max") == "10");
  CHECK(get(t.dir("memory") / "memory.limit_in_bytes") == "-1");
}

TEST_CASE("v1 driver: set_cpu_quota changes the CPU quota alone, as the idle throttle does",
          "[cgroups][v1]") {
  V1Tree t;
  CgroupLimits l;
  l.cpu_millis = 1000;
  l.cpu_shares = 512;
  l.memory_bytes = 128 << 20;
  l.pids = 64;
  REQUIRE(t.driver->create("sb1", l));
  REQUIRE(t.driver->set_cpu_quota("sb1", 10));  // 0.01 vCPU: the kernel's least, 1 ms
  CHECK(get(t.dir("cpu") / "cpu.cfs_quota_us") == "1000");
  CHECK(get(t.dir("cpu") / "cpu.shares") == "512");
  CHECK(get(t.dir("memory") / "memory.limit_in_bytes") == "134217728");
  CHECK(get(t.dir("pids") / "pids.max") == "64");
  REQUIRE(t.driver->set_cpu_quota("sb1", 0));  // back to none
  CHECK(get(t.dir("cpu") / "cpu.cfs_quota_us") == "-1");
  auto tiny = t.driver->set_cpu_quota("sb1", 5);  // 0.5 ms: below the kernel's minimum
  REQUIRE_FALSE(tiny);
  CHECK(tiny.error().message().find("sb1") != std::string::npos);
  CHECK_FALSE(t.driver->set_cpu_quota("../x", 10));
}

TEST_CASE("v1 driver: nested names make intermediate directories", "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("tenant/sb2", {}));
  CHECK(fs::is_directory(t.fs_.root() / "memory/svc/tenant/sb2"));
  REQUIRE(t.driver->remove("tenant/sb2"));
  CHECK_FALSE(fs::exists(t.fs_.root() / "memory/svc/tenant/sb2"));
}

TEST_CASE("v1 driver: bad names and limits are refused before anything is made", "[cgroups][v1]") {
  V1Tree t;
  CHECK(t.driver->create("../escape", {}).error().code() == Code::kInvalidArgument);
  CgroupLimits tiny;
  tiny.cpu_millis = 1;
  CHECK(t.driver->create("sb1", tiny).error().code() == Code::kInvalidArgument);
  CHECK_FALSE(fs::exists(t.dir("cpu")));
}

TEST_CASE("v1 driver: a limit the kernel refuses leaves no directory behind", "[cgroups][v1]") {
  FakeCgroupFs::Options o;
  o.v1_pids_max = false;  // pids.max missing: the pids limit cannot be written
  V1Tree t(o);
  auto r = t.driver->create("sb1", {});
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("pids.max") != std::string::npos);
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    INFO(h);
    CHECK_FALSE(fs::exists(t.dir(h)));
  }
}

TEST_CASE("v1 driver: a missing required hierarchy is a clear precondition failure",
          "[cgroups][v1]") {
  FakeCgroupFs f;
  for (const char* c : {"cpu", "cpuacct", "memory"}) f.add_v1(c);
  auto driver = make_cgroup_v1(f.v1_mounts(), "svc", f.ops());
  auto r = driver->create("sb1", {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(r.error().message().find("pids") != std::string::npos);
}

TEST_CASE("v1 driver: co-mounted cpu,cpuacct is one directory", "[cgroups][v1]") {
  FakeCgroupFs f;
  for (const char* c : {"cpu,cpuacct", "memory", "pids"}) f.add_v1(c);
  auto driver = make_cgroup_v1(f.v1_mounts(), "svc", f.ops());
  CgroupLimits l;
  l.cpu_millis = 500;
  REQUIRE(driver->create("sb1", l));
  CHECK(get(f.root() / "cpu,cpuacct/svc/sb1/cpu.cfs_quota_us") == "50000");
  auto fds = driver->open_procs_files("sb1");
  REQUIRE(fds);
  CHECK(fds->size() == 3);  // one per distinct hierarchy
  FakeCgroupFs::put(f.root() / "cpu,cpuacct/svc/sb1/cpuacct.usage", "2500000000\n");
  CHECK(driver->stats("sb1")->cpu_seconds == Approx(2.5));
}

TEST_CASE("v1 driver: add_process and open_procs_files reach every hierarchy", "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  REQUIRE(t.driver->add_process("sb1", 4242));
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    INFO(h);
    CHECK(get(t.dir(h) / "cgroup.procs") == "4242");
  }
  CHECK(t.driver->add_process("sb1", 0).error().code() == Code::kInvalidArgument);
  auto fds = t.driver->open_procs_files("sb1");
  REQUIRE(fds);
  CHECK(fds->size() == 5);
  for (const auto& fd : *fds) CHECK(fd.get() >= 0);
  // A process moving itself gets each hierarchy's "tasks" file (cgroup_driver.hpp).
  auto self = t.driver->open_self_join_files("sb1");
  REQUIRE(self);
  REQUIRE(self->size() == 5);
  for (const auto& fd : *self)
    CHECK(std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd.get())).filename() ==
          "tasks");
  CHECK(t.driver->dir_fd("sb1").error().code() == Code::kUnimplemented);
}

TEST_CASE("v1 driver: stats read usage, peak, pids and OOM kills", "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  FakeCgroupFs::put(t.dir("cpuacct") / "cpuacct.usage", "1500000000\n");
  FakeCgroupFs::put(t.dir("memory") / "memory.usage_in_bytes", "1048576\n");
  FakeCgroupFs::put(t.dir("memory") / "memory.max_usage_in_bytes", "4194304\n");
  FakeCgroupFs::put(t.dir("memory") / "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  FakeCgroupFs::put(t.dir("pids") / "pids.current", "3\n");
  auto s = t.driver->stats("sb1");
  REQUIRE(s);
  CHECK(s->cpu_seconds == Approx(1.5));
  CHECK(s->memory_bytes == 1048576u);
  CHECK(s->memory_peak_bytes == 4194304u);
  CHECK(s->oom_kills == 2u);
  CHECK(s->pids == 3u);
  CHECK(t.driver->stats("nope").error().code() == Code::kNotFound);
}

TEST_CASE("v1 driver: kill_all freezes, signals the listed processes, and thaws", "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  pid_t child = svc::test::spawn_pausing_child();
  FakeCgroupFs::put(t.dir("freezer") / "cgroup.procs", std::to_string(child) + "\n");
  CHECK(t.driver->pids("sb1") == std::vector<pid_t>{child});
  auto r = t.driver->kill_all("sb1", SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(r);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  CHECK(get(t.dir("freezer") / "freezer.state") == "THAWED");
  CHECK(t.driver->kill_all("sb1", 0).error().code() == Code::kInvalidArgument);
}

TEST_CASE("v1 driver: remove takes the leaf from every hierarchy and keeps the base",
          "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  REQUIRE(t.driver->remove("sb1"));
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    INFO(h);
    CHECK_FALSE(fs::exists(t.dir(h)));
    CHECK(fs::is_directory(t.fs_.root() / h / "svc"));
  }
  CHECK(t.driver->remove("sb1"));  // already gone: fine
}

TEST_CASE("v1 driver: the OOM notifier is an eventfd registered on memory.oom_control",
          "[cgroups][v1]") {
  V1Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  auto fd = t.driver->open_oom_notifier("sb1");
  REQUIRE(fd);
  // The registration line is "<eventfd> <oom_control fd>".
  std::string line = get(t.dir("memory") / "cgroup.event_control");
  CHECK(line.rfind(std::to_string(fd->get()) + " ", 0) == 0);
  struct pollfd p {
    fd->get(), POLLIN, 0
  };
  CHECK(::poll(&p, 1, 0) == 0);  // nothing happened yet
}
