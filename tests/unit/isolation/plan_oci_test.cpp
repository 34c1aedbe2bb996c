// The planner for specs shaped like OCI bundles (SandboxSpec::system_mounts false): namespaces
// new, inherited or joined; the bundle's mounts in its order; /dev's standard nodes; devices,
// sysctls, propagation, no_new_privs, oom_score_adj.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "isolation/plan.hpp"

using namespace svc;
using namespace svc::isolation;

namespace {

MountSpec fs_mount(std::string target, std::string type, std::string source,
                   std::string options = "") {
  MountSpec m;
  m.type = MountSpec::Type::kFilesystem;
  m.target = std::move(target);
  m.fs_type = std::move(type);
  m.fs_source = std::move(source);
  m.fs_options = std::move(options);
  m.nosuid = m.nodev = false;
  return m;
}

// runtime-tools' default config, as oci_spec.cpp maps it: no user namespace.
SandboxSpec oci_spec() {
  SandboxSpec s;
  s.system_mounts = false;
  s.masked_paths.clear();
  s.readonly_paths.clear();
  s.seccomp.reset();
  s.process.args = {"/runtimetest"};
  s.rootfs.lower = {"/bundle/rootfs"};
  s.rootfs.overlay = false;
  s.namespaces.user = false;
  s.namespaces.cgroup = false;
  s.hostname = "mrsdalloway";
  s.mounts = {fs_mount("/proc", "proc", "proc"), fs_mount("/dev", "tmpfs", "tmpfs", "mode=755"),
              fs_mount("/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666"),
              fs_mount("/dev/shm", "tmpfs", "shm"), fs_mount("/sys", "sysfs", "sysfs")};
  s.no_new_privileges = false;
  return s;
}

PlanContext ctx() {
  PlanContext c;
  c.id = "c1";
  c.sandbox_dir = "/run/svc-runtime/c1";
  c.cgroup = "own/c1";
  return c;
}

std::size_t index_of(const Plan& p, const std::string& target) {
  for (std::size_t i = 0; i < p.child.steps.size(); ++i)
    if (p.child.steps[i].target == target) return i;
  return p.child.steps.size();
}

}  // namespace

TEST_CASE("oci: no user namespace - no maps, no pool, the root not idmapped", "[plan][oci]") {
  auto p = plan_sandbox(oci_spec(), ctx());  // ctx() has no id range: none is needed
  REQUIRE(p);
  CHECK_FALSE(p->new_userns);
  CHECK((p->child.clone_flags & CLONE_NEWUSER) == 0);
  CHECK((p->child.clone_flags & CLONE_NEWNS) != 0);
  CHECK(p->uid_map.empty());
  CHECK_FALSE(p->rootfs.idmap);
  CHECK_FALSE(p->child.no_new_privs);
  CHECK_FALSE(p->child.chroot);
  CHECK(p->child.hostname == "mrsdalloway");
  CHECK(p->cgroup == "own/c1");
}

TEST_CASE("oci: the bundle's mounts in its order with their sources, then /dev's nodes",
          "[plan][oci]") {
  auto p = plan_sandbox(oci_spec(), ctx());
  REQUIRE(p);
  const auto& steps = p->child.steps;
  REQUIRE(steps.size() > 5);
  const char* order[] = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/sys"};
  for (std::size_t i = 0; i < 5; ++i) {
    INFO(i);
    CHECK(steps[i].target == order[i]);
    CHECK(steps[i].kind == StepKind::kMountFs);
  }
  CHECK(steps[0].fs_source == "proc");
  CHECK(steps[3].fs_source == "shm");
  CHECK(steps[1].options == std::vector<std::pair<std::string, std::string>>{{"mode", "755"}});
  CHECK(steps[2].options[0] == std::pair<std::string, std::string>{"newinstance", ""});
  // svc's own mqueue is not added: the bundle did not ask for it.
  CHECK(index_of(*p, "/dev/mqueue") == steps.size());
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                          "/dev/tty", "/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stderr"}) {
    INFO(dev);
    CHECK(index_of(*p, dev) > index_of(*p, "/sys"));
    CHECK(index_of(*p, dev) < steps.size());
  }
}

TEST_CASE("oci: /dev bound from the host gets no nodes of ours", "[plan][oci]") {
  auto s = oci_spec();
  MountSpec dev;
  dev.source = "/dev";
  dev.target = "/dev";
  s.mounts = {dev};
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK(index_of(*p, "/dev/null") == p->child.steps.size());
}

TEST_CASE("oci: devices are made after the mounts with their type, number, mode and owner",
          "[plan][oci]") {
  auto s = oci_spec();
  s.devices = {{"/dev/test1", 'c', 10, 666, 0660, 1000, 1000},
               {"/dev/fifo", 'p', 0, 0, 0600, 0, 0}};
  s.devices.push_back({"/dev/null", 'c', 1, 3, 0666, 0, 0});  // the bundle's own /dev/null wins
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  const auto& d = p->child.steps[index_of(*p, "/dev/test1")];
  CHECK(d.kind == StepKind::kDevice);
  CHECK(d.mode == (S_IFCHR | 0660));
  CHECK(d.dev == makedev(10, 666));
  CHECK(d.uid == 1000);
  CHECK(p->child.steps[index_of(*p, "/dev/fifo")].mode == (S_IFIFO | 0600));
  CHECK(p->child.steps[index_of(*p, "/dev/null")].kind == StepKind::kDevice);
  s.devices = {{"/etc/passwd", 'c', 1, 3, 0666, 0, 0}};
  CHECK(plan_sandbox(s, ctx()).error().message().find("not below /dev") != std::string::npos);
  s.devices = {{"/dev/x", 'q', 1, 3, 0666, 0, 0}};
  CHECK_FALSE(plan_sandbox(s, ctx()));
}

TEST_CASE("oci: a namespace the bundle omits is inherited - no mount namespace means chroot",
          "[plan][oci]") {
  auto s = oci_spec();
  s.namespaces.pid = s.namespaces.net = s.namespaces.ipc = s.namespaces.uts = false;
  s.namespaces.mount = false;
  s.network = NetworkMode::kHost;
  s.hostname.clear();
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK(p->child.clone_flags == 0);
  CHECK(p->child.chroot);
  CHECK(p->child.hostname.empty());
  CHECK_FALSE(p->child.loopback_up);
  // A hostname needs a UTS namespace of the sandbox's.
  s.hostname = "h";
  CHECK(plan_sandbox(s, ctx()).error().message().find("UTS") != std::string::npos);
}

TEST_CASE("oci: namespaces with a path are joined, not made", "[plan][oci]") {
  auto s = oci_spec();
  s.namespaces.net = false;
  s.namespaces.join = {{"network", "/proc/42/ns/net"}, {"pid", "/proc/42/ns/pid"}};
  s.namespaces.pid = false;
  s.network = NetworkMode::kHost;
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK((p->child.clone_flags & (CLONE_NEWNET | CLONE_NEWPID)) == 0);
  REQUIRE(p->joins.size() == 2);
  auto has = [&](int type, const char* path) {
    return std::find(p->joins.begin(), p->joins.end(), NamespaceJoin{type, path}) != p->joins.end();
  };
  CHECK(has(CLONE_NEWNET, "/proc/42/ns/net"));
  CHECK(has(CLONE_NEWPID, "/proc/42/ns/pid"));
  CHECK_FALSE(p->child.loopback_up);  // someone else's network: left as it is
  s.namespaces.join = {{"user", "/proc/42/ns/user"}};
  CHECK(plan_sandbox(s, ctx()).error().code() == Code::kUnimplemented);
  s.namespaces.join = {{"bogus", "/x"}};
  CHECK(plan_sandbox(s, ctx()).error().code() == Code::kInvalidArgument);
  s.namespaces.join = {{"ipc", "relative"}};
  CHECK(plan_sandbox(s, ctx()).error().code() == Code::kInvalidArgument);
}

TEST_CASE("oci: a mount namespace is joined whole - not from a new user namespace", "[plan][oci]") {
  auto s = oci_spec();
  s.namespaces.mount = false;
  s.namespaces.join = {{"mount", "/proc/42/ns/mnt"}};
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK_FALSE(p->child.chroot);
  s.namespaces.user = true;
  PlanContext c = ctx();
  c.ids = {2'000'000'000u, 65536};
  CHECK(plan_sandbox(s, c).error().code() == Code::kUnimplemented);
}

TEST_CASE("oci: only namespaced sysctls, and only with the namespace", "[plan][oci]") {
  auto s = oci_spec();
  s.sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "4096"}, {"fs.mqueue.msg_max", "9"}};
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  auto& sc = p->child.sysctls;
  CHECK(std::find(sc.begin(), sc.end(),
                  std::pair<std::string, std::string>{"/proc/sys/net/ipv4/ip_forward", "1"}) !=
        sc.end());
  CHECK(std::find(sc.begin(), sc.end(),
                  std::pair<std::string, std::string>{"/proc/sys/kernel/shmmax", "4096"}) !=
        sc.end());
  s.sysctl = {{"kernel.panic", "1"}};
  CHECK(plan_sandbox(s, ctx()).error().message().find("not namespaced") != std::string::npos);
  s.sysctl = {{"net.core.somaxconn", "1"}};
  s.namespaces.net = false;
  s.network = NetworkMode::kHost;
  CHECK(plan_sandbox(s, ctx()).error().message().find("network namespace") != std::string::npos);
  s = oci_spec();
  s.sysctl = {{"net/../../etc", "1"}};
  CHECK_FALSE(plan_sandbox(s, ctx()));
}

TEST_CASE("oci: propagation, oom_score_adj and the /proc rule", "[plan][oci]") {
  auto s = oci_spec();
  s.rootfs.propagation = MS_SHARED | MS_REC;
  s.oom_score_adj = -500;
  s.mounts[4].propagation = MS_SLAVE;
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK(p->child.root_propagation == (MS_SHARED | MS_REC));
  CHECK(p->oom_score_adj == -500);
  CHECK(p->child.steps[4].propagation == MS_SLAVE);
  s.oom_score_adj = 1001;
  CHECK_FALSE(plan_sandbox(s, ctx()));
  s.oom_score_adj.reset();
  s.rootfs.propagation = MS_BIND;
  CHECK_FALSE(plan_sandbox(s, ctx()));
  // Below /proc: procfs at /proc and binds over the files lxcfs replaces, nothing else.
  s = oci_spec();
  MountSpec meminfo;
  meminfo.source = "/var/lib/lxcfs/proc/meminfo";
  meminfo.target = "/proc/meminfo";
  s.mounts.push_back(meminfo);
  CHECK(plan_sandbox(s, ctx()));
  s.mounts.back().target = "/proc/sys/kernel";
  CHECK(plan_sandbox(s, ctx()).error().message().find("/proc") != std::string::npos);
}

TEST_CASE("oci: an idmapped bind needs a user namespace", "[plan][oci]") {
  auto s = oci_spec();
  MountSpec m;
  m.source = "/srv";
  m.target = "/srv";
  m.idmap = true;
  s.mounts.push_back(m);
  CHECK(plan_sandbox(s, ctx()).error().message().find("user namespace") != std::string::npos);
}

TEST_CASE("oci: a cgroup mount is a cgroup step the runtime fills in", "[plan][oci]") {
  auto s = oci_spec();
  auto cg = fs_mount("/sys/fs/cgroup", "cgroup", "cgroup");
  cg.readonly = true;
  s.mounts.push_back(cg);
  auto p = plan_sandbox(s, ctx());
  REQUIRE(p);
  CHECK(p->child.steps[index_of(*p, "/sys/fs/cgroup")].kind == StepKind::kCgroupFs);
  CHECK(p->child.cgroup_fs.readonly);
  CHECK(p->child.cgroup_fs.hierarchies.empty());
}
