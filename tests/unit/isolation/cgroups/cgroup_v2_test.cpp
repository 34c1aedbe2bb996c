#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "fake_cgroupfs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_v2_controllers.hpp"

using namespace svc;
using namespace svc::isolation;
using svc::test::FakeCgroupFs;
namespace fs = std::filesystem;
namespace v2 = svc::isolation::cgroups::v2;

namespace {

struct V2Tree {
  explicit V2Tree(FakeCgroupFs::Options o = {},
                  std::string_view controllers = "cpuset cpu io memory hugetlb pids")
      : fs_(o) {
    root = fs_.add_v2(controllers);
    driver = make_cgroup_v2(root, "svc", fs_.ops());
  }
  fs::path dir(const char* rel = "sb1") const { return root / "svc" / rel; }
  FakeCgroupFs fs_;
  fs::path root;
  std::unique_ptr<CgroupDriver> driver;
};

std::string get(const fs::path& p) { return FakeCgroupFs::get(p); }

}  // namespace

TEST_CASE("v2 cpu: cpu.max is \"quota period\", or \"max period\" without a limit",
          "[cgroups][v2]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "cpu.max", "max 100000\n");
  CgroupLimits l;
  l.cpu_millis = 200;
  REQUIRE(v2::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.max") == "20000 100000");
  l.cpu_millis = 0;
  REQUIRE(v2::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.max") == "max 100000");
}

TEST_CASE("v2 cpu: shares become cpu.weight as runc converts them", "[cgroups][v2]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "cpu.max", "max 100000\n");
  FakeCgroupFs::put(d.path() / "cpu.weight", "100\n");
  CgroupLimits l;
  l.cpu_shares = 2;
  REQUIRE(v2::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.weight") == "1");
  CHECK(get(d.path() / "cpu.max") == "max 100000");
  l.cpu_shares = 262'144;
  REQUIRE(v2::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.weight") == "10000");
  l.cpu_shares = 1024;
  l.cpu_millis = 500;
  REQUIRE(v2::apply_cpu(l, d.path()));
  CHECK(get(d.path() / "cpu.weight") == "39");
  CHECK(get(d.path() / "cpu.max") == "50000 100000");
  CHECK(v2::needed_by(l).count("cpu") == 1);
  CgroupLimits weight_only;
  weight_only.cpu_shares = 2;
  CHECK(v2::needed_by(weight_only).count("cpu") == 1);
}

TEST_CASE("v2 memory: memory.max and swap off - swap.max only when the kernel has it",
          "[cgroups][v2]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "memory.max", "max\n");
  FakeCgroupFs::put(d.path() / "memory.swap.max", "max\n");
  CgroupLimits l;
  l.memory_bytes = 256 << 20;
  REQUIRE(v2::apply_memory(l, d.path()));
  CHECK(get(d.path() / "memory.max") == "268435456");
  CHECK(get(d.path() / "memory.swap.max") == "0");
  l.memory_bytes = 0;
  REQUIRE(v2::apply_memory(l, d.path()));
  CHECK(get(d.path() / "memory.max") == "max");
  CHECK(get(d.path() / "memory.swap.max") == "max");

  fs::remove(d.path() / "memory.swap.max");
  l.memory_bytes = 1 << 20;
  REQUIRE(v2::apply_memory(l, d.path()));
  CHECK_FALSE(fs::exists(d.path() / "memory.swap.max"));
}

TEST_CASE("v2 subtree_control: only missing controllers are enabled, unoffered ones refused",
          "[cgroups][v2]") {
  TempDir d;
  FakeCgroupFs::put(d.path() / "cgroup.controllers", "cpu memory pids\n");
  FakeCgroupFs::put(d.path() / "cgroup.subtree_control", "memory\n");
  REQUIRE(v2::enable_controllers(d.path(), {"cpu", "memory", "pids"}));
  CHECK(get(d.path() / "cgroup.subtree_control") == "+cpu +pids");
  FakeCgroupFs::put(d.path() / "cgroup.subtree_control", "cpu memory pids\n");
  FakeCgroupFs::put(d.path() / "cgroup.controllers", "");  // nothing to write: not read
  REQUIRE(v2::enable_controllers(d.path(), {"cpu", "memory", "pids"}));
  CHECK(get(d.path() / "cgroup.subtree_control") == "cpu memory pids");

  FakeCgroupFs::put(d.path() / "cgroup.controllers", "hugetlb\n");
  FakeCgroupFs::put(d.path() / "cgroup.subtree_control", "");
  auto r = v2::enable_controllers(d.path(), {"pids"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(r.error().message().find("pids") != std::string::npos);
}

TEST_CASE("v2 driver: create enables cpu, memory, pids down the tree and applies limits",
          "[cgroups][v2]") {
  V2Tree t;
  CHECK(t.driver->version() == "v2");
  CgroupLimits l;
  l.cpu_millis = 500;
  l.memory_bytes = 64 << 20;
  l.pids = 100;
  REQUIRE(t.driver->create("sb1", l));
  // The mount and the base both give the three controllers to their children.
  CHECK(get(t.root / "cgroup.subtree_control") == "+cpu +memory +pids");
  CHECK(get(t.root / "svc/cgroup.subtree_control") == "+cpu +memory +pids");
  CHECK(get(t.dir() / "cpu.max") == "50000 100000");
  CHECK(get(t.dir() / "memory.max") == "67108864");
  CHECK(get(t.dir() / "memory.swap.max") == "0");
  CHECK(get(t.dir() / "pids.max") == "100");

  CHECK(t.driver->create("sb1", l).error().code() == Code::kAlreadyExists);

  // A second sandbox finds the controllers enabled and writes nothing to the ancestors.
  FakeCgroupFs::put(t.root / "svc/cgroup.subtree_control", "cpu memory pids\n");
  REQUIRE(t.driver->create("sb2", l));
  CHECK(get(t.root / "svc/cgroup.subtree_control") == "cpu memory pids");

  l.cpu_millis = 0;
  l.pids = 0;
  REQUIRE(t.driver->update("sb1", l));
  CHECK(get(t.dir() / "cpu.max") == "max 100000");
  CHECK(get(t.dir() / "pids.max") == "max");
}

TEST_CASE("v2 driver: set_cpu_quota writes cpu.max alone, as the idle throttle does",
          "[cgroups][v2]") {
  V2Tree t;
  CgroupLimits l;
  l.cpu_millis = 0;
  l.memory_bytes = 64 << 20;
  l.pids = 100;
  REQUIRE(t.driver->create("sb1", l));
  REQUIRE(t.driver->set_cpu_quota("sb1", 10));
  CHECK(get(t.dir() / "cpu.max") == "1000 100000");
  CHECK(get(t.dir() / "memory.max") == "67108864");
  CHECK(get(t.dir() / "pids.max") == "100");
  REQUIRE(t.driver->set_cpu_quota("sb1", 0));
  CHECK(get(t.dir() / "cpu.max") == "max 100000");
  CHECK_FALSE(t.driver->set_cpu_quota("sb1", 5));
}

TEST_CASE("v2 driver: on a hybrid host's hugetlb-only cgroup2, limits are refused, not dropped",
          "[cgroups][v2]") {
  V2Tree t({}, "hugetlb");
  CgroupLimits l;  // pids = 1024 by default
  auto r = t.driver->create("sb1", l);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(r.error().message().find("pids") != std::string::npos);
  CHECK_FALSE(fs::exists(t.dir()));

  // Without limits it is a plain cgroup: no controllers enabled anywhere.
  l.pids = 0;
  REQUIRE(t.driver->create("sb1", l));
  CHECK(get(t.root / "cgroup.subtree_control").empty());
  auto s = t.driver->stats("sb1");
  REQUIRE(s);
  CHECK(s->memory_bytes == 0u);
  CHECK(s->pids == 0u);
}

TEST_CASE("v2 driver: stats from cpu.stat, memory.current/peak/events and pids.current",
          "[cgroups][v2]") {
  V2Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  FakeCgroupFs::put(t.dir() / "cpu.stat", "usage_usec 2250000\nuser_usec 2000000\n");
  FakeCgroupFs::put(t.dir() / "memory.current", "1000\n");
  FakeCgroupFs::put(t.dir() / "memory.peak", "5000\n");
  FakeCgroupFs::put(t.dir() / "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  FakeCgroupFs::put(t.dir() / "pids.current", "7\n");
  auto s = t.driver->stats("sb1");
  REQUIRE(s);
  CHECK(s->cpu_seconds == Approx(2.25));
  CHECK(s->memory_bytes == 1000u);
  CHECK(s->memory_peak_bytes == 5000u);
  CHECK(s->oom_kills == 1u);
  CHECK(s->pids == 7u);
}

TEST_CASE("v2 driver: before memory.peak (5.19) the peak is at least the current usage",
          "[cgroups][v2]") {
  FakeCgroupFs::Options o;
  o.v2_peak = false;
  V2Tree t(o);
  REQUIRE(t.driver->create("sb1", {}));
  FakeCgroupFs::put(t.dir() / "memory.current", "4096\n");
  CHECK(t.driver->stats("sb1")->memory_peak_bytes == 4096u);
}

TEST_CASE("v2 driver: kill_all uses cgroup.kill for SIGKILL", "[cgroups][v2]") {
  V2Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  REQUIRE(t.driver->kill_all("sb1", SIGKILL));
  CHECK(get(t.dir() / "cgroup.kill") == "1");
}

TEST_CASE("v2 driver: without cgroup.kill, kill_all freezes, signals and thaws", "[cgroups][v2]") {
  FakeCgroupFs::Options o;
  o.v2_kill = false;
  V2Tree t(o);
  REQUIRE(t.driver->create("sb1", {}));
  pid_t child = svc::test::spawn_pausing_child();
  FakeCgroupFs::put(t.dir() / "cgroup.procs", std::to_string(child) + "\n");
  FakeCgroupFs::put(t.dir() / "cgroup.events", "populated 1\nfrozen 1\n");  // as the kernel would
  auto r = t.driver->kill_all("sb1", SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(r);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
  CHECK(get(t.dir() / "cgroup.freeze") == "0");
}

TEST_CASE("v2 driver: procs, dir fd, remove", "[cgroups][v2]") {
  V2Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  REQUIRE(t.driver->add_process("sb1", 777));
  CHECK(get(t.dir() / "cgroup.procs") == "777");
  CHECK(t.driver->pids("sb1") == std::vector<pid_t>{777});
  auto fds = t.driver->open_procs_files("sb1");
  REQUIRE(fds);
  CHECK(fds->size() == 1);
  auto self = t.driver->open_self_join_files("sb1");  // v2 has no "tasks": cgroup.procs
  REQUIRE(self);
  REQUIRE(self->size() == 1);
  CHECK(fs::read_symlink("/proc/self/fd/" + std::to_string(self->front().get())) ==
        t.dir() / "cgroup.procs");
  auto dfd = t.driver->dir_fd("sb1");
  REQUIRE(dfd);
  CHECK(dfd->get() >= 0);
  FakeCgroupFs::put(t.dir() / "cgroup.procs", "");
  REQUIRE(t.driver->remove("sb1"));
  CHECK_FALSE(fs::exists(t.dir()));
  CHECK(fs::is_directory(t.root / "svc"));
}

TEST_CASE("v2 driver: the OOM notifier wakes when memory.events changes", "[cgroups][v2]") {
  V2Tree t;
  REQUIRE(t.driver->create("sb1", {}));
  auto fd = t.driver->open_oom_notifier("sb1");
  REQUIRE(fd);
  struct pollfd p {
    fd->get(), POLLIN, 0
  };
  CHECK(::poll(&p, 1, 0) == 0);
  // write_file_atomic renames over the file; write in place as the kernel would.
  {
    FILE* f = std::fopen((t.dir() / "memory.events").c_str(), "w");
    REQUIRE(f);
    std::fputs("oom_kill 1\n", f);
    std::fclose(f);
  }
  CHECK(::poll(&p, 1, 1000) == 1);

  V2Tree no_memory({}, "cpu pids");
  REQUIRE(no_memory.driver->create("sb1", {}));
  CHECK(no_memory.driver->open_oom_notifier("sb1").error().code() == Code::kFailedPrecondition);
}

TEST_CASE("driver factory: picks v1 or v2 from the probed layout", "[cgroups]") {
  TempDir root;
  for (const char* d : {"cpu,cpuacct", "memory", "pids", "freezer", "unified"})
    fs::create_directories(root.path() / d);
  CgroupLayout layout;
  layout.root = root.path();
  layout.unified = root.path() / "unified";
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer", "devices"})
    layout.controllers.push_back({c, "v1", true});
  layout.controllers.push_back({"hugetlb", "v2", true});
  layout.driver = "v1";
  auto d1 = make_cgroup_driver(layout);
  REQUIRE(d1);
  CHECK((*d1)->version() == "v1");

  layout.driver = "v2";
  auto d2 = make_cgroup_driver(layout);
  REQUIRE(d2);
  CHECK((*d2)->version() == "v2");

  layout.driver = "";
  CHECK(make_cgroup_driver(layout).error().code() == Code::kFailedPrecondition);
  layout.driver = "v1";
  CHECK(make_cgroup_driver(layout, "../x").error().code() == Code::kInvalidArgument);
  fs::remove(root.path() / "pids");
  auto missing = make_cgroup_driver(layout);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("pids") != std::string::npos);
}
