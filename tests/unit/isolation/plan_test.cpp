#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "isolation/plan.hpp"

using namespace svc;
using namespace svc::isolation;

namespace {

SandboxSpec base_spec() {
  SandboxSpec s;
  s.process.args = {"/bin/true"};
  s.process.env = {"PATH=/usr/bin:/bin"};
  s.process.rlimits = default_rlimits();
  s.rootfs.lower = {"/snapshots/1", "/snapshots/2"};
  return s;
}

PlanContext ctx() {
  PlanContext c;
  c.id = "task-1";
  c.sandbox_dir = "/state/sandboxes/task-1";
  c.ids = {1'000'065'536u, 65536};
  c.host_hard_limits = {{RLIMIT_NOFILE, 20000}};
  c.cgroup = "sandboxes/task-1";
  return c;
}

std::vector<std::string> targets(const Plan& p, StepKind kind) {
  std::vector<std::string> out;
  for (const auto& s : p.child.steps)
    if (s.kind == kind) out.push_back(s.target);
  return out;
}

std::size_t index_of(const Plan& p, const std::string& target) {
  for (std::size_t i = 0; i < p.child.steps.size(); ++i)
    if (p.child.steps[i].target == target) return i;
  return p.child.steps.size();
}

}  // namespace

TEST_CASE("a default spec plans every namespace, the pool's id range and the default limits",
          "[plan]") {
  auto p = plan_sandbox(base_spec(), ctx());
  REQUIRE(p);
  for (unsigned long f : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                          CLONE_NEWUTS, CLONE_NEWCGROUP})
    CHECK((p->child.clone_flags & f) == f);
  REQUIRE(p->uid_map.size() == 1);
  CHECK(p->uid_map[0] == IdMapping{0, 1'000'065'536u, 65536});
  CHECK(p->gid_map == p->uid_map);
  CHECK(p->limits.pids == 1024);
  CHECK(p->cgroup == "sandboxes/task-1");
  CHECK(p->network == NetworkMode::kPrivate);
  CHECK(p->child.loopback_up);
  CHECK(p->child.hostname == "task-1");
  CHECK(p->rootfs.upper == "/state/sandboxes/task-1/upper");
  CHECK(p->rootfs.staging == "/state/sandboxes/task-1/rootfs");
  CHECK(p->child.path == "/usr/bin:/bin");
  CHECK(format_id_map(p->uid_map) == "0 1000065536 65536\n");
}

TEST_CASE("the standard file systems come first, masks and read-only paths last", "[plan]") {
  auto spec = base_spec();
  MountSpec m;
  m.type = MountSpec::Type::kTmpfs;
  m.target = "/data";
  spec.mounts.push_back(m);
  auto p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  const auto& steps = p->child.steps;
  REQUIRE_FALSE(steps.empty());
  CHECK(steps[0].target == "/proc");
  CHECK(steps[0].source == "proc");
  CHECK((steps[0].attrs & (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)) ==
        (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  CHECK(index_of(*p, "/dev") < index_of(*p, "/dev/null"));
  CHECK(index_of(*p, "/dev") < index_of(*p, "/dev/pts"));
  auto binds = targets(*p, StepKind::kBindHost);
  for (const char* dev :
       {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"})
    CHECK(std::find(binds.begin(), binds.end(), dev) != binds.end());
  for (const auto& s : steps)
    if (s.kind == StepKind::kBindHost && s.target.starts_with("/dev/")) {
      CHECK(s.source == s.target);  // the host node itself, bound; never created or changed
      CHECK(s.target_is_file);
    }
  const auto& sys = steps[index_of(*p, "/sys")];
  CHECK(sys.source == "sysfs");
  CHECK((sys.attrs & MOUNT_ATTR_RDONLY) != 0);
  auto masks = targets(*p, StepKind::kMask);
  for (const char* m2 :
       {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware",
        "/proc/acpi", "/proc/scsi", "/proc/latency_stats", "/sys/devices/virtual/powercap"})
    CHECK(std::find(masks.begin(), masks.end(), m2) != masks.end());
  auto ro = targets(*p, StepKind::kReadonly);
  for (const char* r : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"})
    CHECK(std::find(ro.begin(), ro.end(), r) != ro.end());
  std::size_t data = index_of(*p, "/data");
  CHECK(data > index_of(*p, "/sys"));
  CHECK(data < index_of(*p, "/proc/kcore"));
  CHECK(index_of(*p, "/proc/kcore") < index_of(*p, "/proc/sys"));
  // System mount points refuse symlinks; user mount targets only stay inside the root.
  CHECK(steps[0].no_symlinks);
  CHECK_FALSE(steps[data].no_symlinks);
}

TEST_CASE("rlimits are clamped to the host's hard limit", "[plan]") {
  auto spec = base_spec();
  spec.process.rlimits = {{RLIMIT_NOFILE, 1'048'576, 1'048'576}, {RLIMIT_CORE, 0, 0}};
  auto p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  REQUIRE(p->child.rlimits.size() == 2);
  CHECK(p->child.rlimits[0].hard == 20000);
  CHECK(p->child.rlimits[0].soft == 20000);
  CHECK(p->child.rlimits[1].hard == 0);
  spec.process.rlimits = {{RLIMIT_NOFILE, 10, 20}, {RLIMIT_NOFILE, 10, 20}};
  CHECK(plan_sandbox(spec, ctx()).error().code() == Code::kInvalidArgument);
}

TEST_CASE("capabilities: a subset of the bounding set, ambient only when inheritable", "[plan]") {
  auto spec = base_spec();
  auto p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  CHECK(p->child.caps == default_capabilities());
  CHECK(__builtin_popcountll(p->child.caps.bounding) == 11);
  CHECK(p->child.caps.inheritable == 0);
  CHECK(p->child.caps.ambient == 0);
  spec.process.capabilities.effective |= 1ull << 21;  // SYS_ADMIN, not in the bounding set
  spec.process.capabilities.ambient = 1ull << 0;      // CHOWN, not inheritable
  p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  CHECK((p->child.caps.effective & (1ull << 21)) == 0);
  CHECK(p->child.caps.ambient == 0);
}

TEST_CASE("bad specs are refused with the field named", "[plan]") {
  auto check = [](SandboxSpec s, std::string_view needle) {
    auto p = plan_sandbox(s, ctx());
    REQUIRE_FALSE(p);
    CHECK(p.error().code() == Code::kInvalidArgument);
    INFO(p.error().message());
    CHECK(p.error().message().find(needle) != std::string::npos);
  };
  auto s = base_spec();
  s.process.args.clear();
  check(s, "process.args");
  s = base_spec();
  s.process.cwd = "/proc/self/fd/7";
  check(s, "/proc");
  s = base_spec();
  s.process.cwd = "relative";
  check(s, "process.cwd");
  s = base_spec();
  s.rootfs.lower.clear();
  check(s, "rootfs");
  s = base_spec();
  s.rootfs.overlay = false;
  check(s, "exactly one");
  s = base_spec();
  s.process.uid = 70000;
  check(s, "uid");
  s = base_spec();
  s.namespaces.user = false;
  s.uid_mappings = {{0, 100000, 65536}};
  s.gid_mappings = {{0, 100000, 65536}};
  check(s, "need a user namespace");
  s = base_spec();
  s.process.env = {"NOEQUALS"};
  check(s, "process.env");
  s = base_spec();
  MountSpec m;
  m.target = "/proc/sys";
  m.source = "/tmp";
  s.mounts.push_back(m);
  check(s, "/proc");
  s = base_spec();
  s.mounts = {MountSpec{}};
  s.mounts[0].target = "relative";
  check(s, "mounts[0]");
  s = base_spec();
  s.network = NetworkMode::kHost;
  check(s, "network");
  s = base_spec();
  s.hostname = std::string(65, 'h');
  check(s, "hostname");
  PlanContext bad = ctx();
  bad.id = "../escape";
  auto p = plan_sandbox(base_spec(), bad);
  REQUIRE_FALSE(p);
  CHECK(p.error().message().find("sandbox id") != std::string::npos);
}

TEST_CASE("bind mounts are prepared on the host and attached by index", "[plan]") {
  auto spec = base_spec();
  MountSpec a;
  a.source = "/srv/data";
  a.target = "/data";
  a.readonly = true;
  MountSpec b;
  b.source = "/srv/cache";
  b.target = "/var/cache/../cache2";
  b.idmap = true;
  spec.mounts = {a, b};
  auto p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  REQUIRE(p->binds.size() == 2);
  CHECK(p->binds[0].source == "/srv/data");
  CHECK(p->binds[0].readonly);
  CHECK(p->binds[1].idmap);
  const auto& step = p->child.steps[index_of(*p, "/var/cache2")];
  CHECK(step.kind == StepKind::kBindPrepared);
  CHECK(step.index == 1);
  CHECK((p->child.steps[index_of(*p, "/data")].attrs & MOUNT_ATTR_RDONLY) != 0);
}

TEST_CASE("namespaces can be turned off for OCI bundles - their mounts follow", "[plan]") {
  auto spec = base_spec();
  spec.namespaces.pid = spec.namespaces.net = spec.namespaces.ipc = spec.namespaces.uts =
      spec.namespaces.cgroup = false;
  spec.network = NetworkMode::kHost;
  auto p = plan_sandbox(spec, ctx());
  REQUIRE(p);
  CHECK(p->child.clone_flags == (CLONE_NEWUSER | CLONE_NEWNS));
  CHECK(p->child.hostname.empty());
  CHECK_FALSE(p->child.loopback_up);
  CHECK(p->child.steps[index_of(*p, "/proc")].kind == StepKind::kBindHost);
  CHECK(p->child.steps[index_of(*p, "/sys")].kind == StepKind::kBindHost);
  CHECK(index_of(*p, "/dev/mqueue") == p->child.steps.size());
}

TEST_CASE("overlay lowerdir lists the top layer first", "[plan]") {
  CHECK(RootfsPlan::overlay_lowerdir({"/a", "/b", "/c"}) == "/c:/b:/a");
  CHECK(map_to_host({{0, 100000, 10}, {10, 5000, 5}}, 12) == 5002u);
  CHECK_FALSE(map_to_host({{0, 100000, 10}}, 10).has_value());
}

TEST_CASE("sandbox ids name directories, cgroups and interfaces safely", "[plan]") {
  CHECK(validate_sandbox_id("task-1.a_b"));
  for (const char* bad : {"", ".hidden", "-x", "a/b", "a b", "../x"})
    CHECK_FALSE(validate_sandbox_id(bad));
  CHECK_FALSE(validate_sandbox_id(std::string(129, 'a')));
}
