// svc-runtime does what a bundle's config.json says, as runc and crun do (root; busybox bundle):
// namespaces the config omits are the runtime's own, noNewPrivileges, oomScoreAdj, sysctl,
// devices, /proc's source, data options on binds, linux.cgroupsPath, joining a namespace by
// path, and hooks. Each check here failed when svc-runtime forced svc's own walls onto every
// bundle (runtime-tools' suite checks the same things more widely: docs/CONFORMANCE.md).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>

#include "tests/integration/isolation/oci_bundle.hpp"

using namespace svc;
using namespace std::chrono_literals;
using svc::test::oci::Bundle;
using svc::test::oci::prepare;
using svc::test::oci::state_of;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string own_ns(const char* type) {
  std::error_code ec;
  return fs::read_symlink(fs::path("/proc/self/ns") / type, ec).string();
}

// The config without the namespaces named (a bundle that shares them with the runtime).
void drop_namespaces(json& c, const std::set<std::string>& types) {
  json kept = json::array();
  for (const auto& n : c["linux"]["namespaces"])
    if (!types.count(n["type"].get<std::string>())) kept.push_back(n);
  c["linux"]["namespaces"] = kept;
}

// The hierarchy a pids limit lives in: the v1 pids mount, else the cgroup2 mount.
struct PidsHierarchy {
  fs::path mount;
  fs::path own;  // this process's cgroup there
};
PidsHierarchy pids_hierarchy() {
  auto mounts = isolation::cgroup_mounts();
  auto own = isolation::own_cgroups(mounts);
  PidsHierarchy h;
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    bool v1_pids = !mounts[i].v2 && mounts[i].controllers == "pids";
    if (v1_pids || (h.mount.empty() && mounts[i].v2)) {
      h.mount = mounts[i].mount_point;
      h.own = own[i].size() > 1 ? h.mount / own[i].substr(1) : h.mount;
    }
  }
  return h;
}

// Removes <hierarchy>/<path> (deepest first) in every hierarchy, at the end of a test.
struct CgroupTreeCleanup {
  std::vector<fs::path> below;  // relative paths, parents after children
  bool relative_to_own = false;
  ~CgroupTreeCleanup() {
    auto mounts = isolation::cgroup_mounts();
    auto own = isolation::own_cgroups(mounts);
    for (std::size_t i = 0; i < mounts.size(); ++i)
      for (const auto& p : below) {
        fs::path base = mounts[i].mount_point;
        if (relative_to_own && own[i].size() > 1) base /= own[i].substr(1);
        std::error_code ec;
        fs::remove(base / p, ec);
      }
  }
};

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("svc-runtime gives a bundle the namespaces, privileges and files it asks for", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  json c = b.config();
  // Shares the runtime's user and network namespaces; keeps its mount, pid, ipc, uts.
  drop_namespaces(c, {"user", "network"});
  c["linux"].erase("uidMappings");
  c["linux"].erase("gidMappings");
  c["process"]["noNewPrivileges"] = false;
  c["process"]["oomScoreAdj"] = 123;
  c["linux"]["sysctl"] = {{"kernel.msgmax", "12345"}};
  c["linux"]["devices"] = {{{"path", "/dev/svc-null"},
                            {"type", "c"},
                            {"major", 1},
                            {"minor", 3},
                            {"fileMode", 0620},
                            {"uid", 0},
                            {"gid", 0}}};
  // A bind mount with data options, which mean nothing on a bind (runc and crun ignore them).
  fs::create_directories(b.dir.path() / "shared");
  REQUIRE(write_file_atomic(b.dir.path() / "shared/hello", "hi\n"));
  c["mounts"].push_back({{"destination", "/mnt"},
                         {"type", "bind"},
                         {"source", (b.dir.path() / "shared").string()},
                         {"options", {"rbind", "ro", "mode=755", "size=1k"}}});
  c["process"]["args"] = {
      "sh", "-c",
      "readlink /proc/self/ns/user; readlink /proc/self/ns/net; cat /proc/self/oom_score_adj; "
      "grep NoNewPrivs /proc/self/status; cat /proc/sys/kernel/msgmax; "
      "stat -c '%t:%T %a' /dev/svc-null; cat /mnt/hello; "
      "grep ' /proc ' /proc/self/mountinfo | sed 's/.* - //'"};
  b.write_config(c);
  std::string id = "oci-asks-" + b.tag;
  auto r = b.rt({"run", "--bundle", b.bundle().string(), id});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(has_line(r.out, own_ns("user")));  // no user namespace of its own
  CHECK(has_line(r.out, own_ns("net")));   // nor a network namespace
  CHECK(has_line(r.out, "123"));
  CHECK(has_line(r.out, "NoNewPrivs:\t0"));
  CHECK(has_line(r.out, "12345"));
  CHECK(has_line(r.out, "1:3 620"));
  CHECK(has_line(r.out, "hi"));
  CHECK(r.out.find("proc proc ") != std::string::npos);  // source "proc", not "none"
}

TEST_CASE("svc-runtime puts a container in the cgroup linux.cgroupsPath names", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  PidsHierarchy h = pids_hierarchy();
  REQUIRE(!h.mount.empty());
  const std::string abs = "svc-oci-abs-" + b.tag;
  const std::string rel = "svc-oci-rel-" + b.tag;
  CgroupTreeCleanup abs_cleanup{{fs::path(abs) / "c", abs}, false};
  CgroupTreeCleanup rel_cleanup{{fs::path(rel) / "c", rel}, true};
  b.configure({"sleep", "60"});
  struct Case {
    std::string id, cgroups_path;
    fs::path expected;
  };
  std::vector<Case> cases = {
      {"oci-cg-abs-" + b.tag, "/" + abs + "/c", h.mount / abs / "c"},  // below the root
      {"oci-cg-rel-" + b.tag, rel + "/c", h.own / rel / "c"},          // below the runtime's
      {"oci-cg-none-" + b.tag, "", h.own / b.cgroup_base() / ("oci-cg-none-" + b.tag)},
  };
  for (const auto& k : cases) {
    INFO(k.id << " cgroupsPath \"" << k.cgroups_path << "\"");
    json c = b.config();
    if (k.cgroups_path.empty())
      c["linux"].erase("cgroupsPath");
    else
      c["linux"]["cgroupsPath"] = k.cgroups_path;
    b.write_config(c);
    auto created = b.rt_detached({"create", "--bundle", b.bundle().string(), k.id});
    INFO(created.err);
    REQUIRE(created.exit_code == 0);
    int pid = state_of(b, k.id)["pid"].get<int>();
    auto procs = read_file(k.expected / "cgroup.procs");
    REQUIRE(procs);
    CHECK(has_line(*procs, std::to_string(pid)));
    REQUIRE(b.rt({"delete", "--force", k.id}).exit_code == 0);
    CHECK(!fs::exists(k.expected));
  }
  // A cgroup with processes in it (another container's) is not shared with a new container.
  const auto& first = cases[0];
  json c = b.config();
  c["linux"]["cgroupsPath"] = first.cgroups_path;
  b.write_config(c);
  auto made = b.rt_detached({"create", "--bundle", b.bundle().string(), first.id});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  auto refused = b.rt_detached({"create", "--bundle", b.bundle().string(), first.id + "-2"});
  INFO(refused.err);
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("processes in it") != std::string::npos);
  CHECK(b.rt({"state", first.id + "-2"}).exit_code != 0);
  CHECK(state_of(b, first.id)["status"] == "created");  // the first is left as it was
  REQUIRE(b.rt({"delete", "--force", first.id}).exit_code == 0);
}

TEST_CASE("svc-runtime joins namespaces by path and runs hooks with the state", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"sleep", "60"});
  std::string first = "oci-ns-a-" + b.tag;
  auto created = b.rt_detached({"create", "--bundle", b.bundle().string(), first});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  int pid = state_of(b, first)["pid"].get<int>();
  std::error_code ec;
  std::string first_net =
      fs::read_symlink(fs::path("/proc") / std::to_string(pid) / "ns/net", ec).string();
  REQUIRE(!first_net.empty());
  CHECK(first_net != own_ns("net"));

  json c = b.config();
  for (auto& n : c["linux"]["namespaces"])
    if (n["type"] == "network") n["path"] = "/proc/" + std::to_string(pid) + "/ns/net";
  c["process"]["args"] = {"readlink", "/proc/self/ns/net"};
  fs::path out = b.dir.path() / "hooks";
  fs::create_directories(out);
  // Hooks run on the host, in the runtime's namespaces, with the state on stdin.
  c["hooks"] = {
      {"prestart",
       {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + (out / "prestart").string()}}}}},
      {"poststop",
       {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + (out / "poststop").string()}}}}}};
  b.write_config(c);
  std::string second = "oci-ns-b-" + b.tag;
  auto r = b.rt({"run", "--bundle", b.bundle().string(), second});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == first_net + "\n");
  auto prestart = read_file(out / "prestart");
  REQUIRE(prestart);
  json state = json::parse(*prestart);
  CHECK(state["id"] == second);
  CHECK(state["status"] == "created");
  CHECK(state["pid"].get<int>() > 0);
  auto poststop = read_file(out / "poststop");
  REQUIRE(poststop);
  CHECK(json::parse(*poststop)["id"] == second);

  // A hook that fails fails create, and the container is gone.
  c["hooks"] = {{"prestart", {{{"path", "/bin/false"}}}}};
  c["process"]["args"] = {"true"};
  b.write_config(c);
  auto failed = b.rt_detached({"create", "--bundle", b.bundle().string(), second});
  CHECK(failed.exit_code != 0);
  CHECK(failed.err.find("prestart") != std::string::npos);
  CHECK(b.rt({"state", second}).exit_code != 0);
}

TEST_CASE("svc-runtime list shows containers only", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"true"});  // with a seccomp filter: the compiler's cache is made in --root
  auto r = b.rt({"run", "--bundle", b.bundle().string(), "oci-list-" + b.tag});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto listed = b.rt({"list", "-q"});
  REQUIRE(listed.exit_code == 0);
  CHECK(listed.out.empty());
}

TEST_CASE("svc-runtime and runc give a Docker-style seccomp profile the same meaning",
          "[oci][seccomp]") {
  Bundle b;
  if (!prepare(b)) return;
  const fs::path podman_profile = "/usr/share/containers/seccomp.json";
  auto text = read_file(podman_profile);
  if (!text || test::sh("command -v runc >/dev/null").exit_code != 0) {
    SVC_SKIP("needs runc and " << podman_profile.string() << " (packaging/install-deps.sh)");
  }
  // podman's profile, with its one-value personality entries merged into one entry with three
  // conditions on argument 0 (how Docker writes it): allowed when any of them holds.
  json profile = json::parse(*text);
  json syscalls = json::array();
  for (const auto& s : profile["syscalls"])
    if (s["names"] != json::array({"personality"})) syscalls.push_back(s);
  syscalls.push_back({{"names", {"personality"}},
                      {"action", "SCMP_ACT_ALLOW"},
                      {"args",
                       {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}},
                        {{"index", 0}, {"value", 131072}, {"op", "SCMP_CMP_EQ"}},
                        {{"index", 0}, {"value", 4294967295u}, {"op", "SCMP_CMP_EQ"}}}}});
  profile["syscalls"] = syscalls;
  json c = b.config();
  drop_namespaces(c, {"user"});   // runc makes no user namespace without mappings
  c["process"].erase("rlimits");  // runc does not clamp them to the host's hard limits
  c["linux"].erase("uidMappings");
  c["linux"].erase("gidMappings");
  c["linux"]["seccomp"] = profile;
  // personality(PER_LINUX32) is listed, personality(PER_LINUX) is not.
  c["process"]["args"] = {"sh", "-c",
                          "linux32 uname -m; linux64 uname -m 2>/dev/null || echo refused; "
                          "echo done"};
  b.write_config(c);

  auto ours = b.rt({"run", "--bundle", b.bundle().string(), "oci-seccomp-" + b.tag});
  INFO("svc-runtime: " << ours.out << ours.err);
  CHECK(ours.exit_code == 0);
  CHECK(ours.out == "i686\nrefused\ndone\n");
  fs::path runc_root = b.dir.path() / "runc-state";
  auto theirs = test::run({"runc", "--root", runc_root.string(), "run", "--bundle",
                           b.bundle().string(), "oci-seccomp-runc-" + b.tag},
                          30s);
  INFO("runc: " << theirs.out << theirs.err);
  CHECK(theirs.exit_code == ours.exit_code);
  CHECK(theirs.out == ours.out);
  (void)test::run(
      {"runc", "--root", runc_root.string(), "delete", "--force", "oci-seccomp-runc-" + b.tag});
}

TEST_CASE("svc-runtime compiles every seccomp profile installed on the host", "[oci][seccomp]") {
  Bundle b;
  if (!prepare(b)) return;
  // The container tools' profiles on the host (podman's), and a Docker-style one listing the
  // native ABI and conditions on an argument (runtime-spec's own example lists only x86 and
  // x32: svc kills an ABI a profile does not list, where runc keeps the native one allowed;
  // docs/CONFORMANCE.md).
  std::vector<std::pair<std::string, json>> profiles = {
      {"Docker-style", json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                       "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO"},
                                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                                              {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})")}};
  std::size_t installed = 0;
  for (const char* dir : {"/usr/share/containers", "/etc/containers"}) {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec))
      if (e.path().extension() == ".json")
        if (auto t = read_file(e.path()); t && t->find("\"syscalls\"") != std::string::npos) {
          profiles.emplace_back(e.path().string(), json::parse(*t));
          ++installed;
        }
  }
  if (installed == 0)
    WARN(
        "no seccomp profile installed (podman's is /usr/share/containers/seccomp.json): only "
        "the runtime-spec example is checked");
  for (const auto& [name, profile] : profiles) {
    INFO(name);
    json c = b.config();
    c["linux"]["seccomp"] = profile;
    c["process"]["args"] = {"echo", "ran"};
    b.write_config(c);
    auto r = b.rt({"run", "--bundle", b.bundle().string(), "oci-profile-" + b.tag});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "ran\n");
  }
}
