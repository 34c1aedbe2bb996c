#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "isolation/oci_spec.hpp"

using namespace svc;
using namespace svc::isolation;
using nlohmann::json;

namespace {

// The shape `runc spec` writes (trimmed), plus a bind mount, a tmpfs and resources.
json runc_like() {
  return json::parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {
      "terminal": false,
      "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
      "args": ["sh", "-c", "echo hi"],
      "env": ["PATH=/bin", "TERM=xterm"],
      "cwd": "/work",
      "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                       "permitted": ["CAP_KILL", "CAP_CHOWN"], "ambient": [], "inheritable": []},
      "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
      "noNewPrivileges": true
    },
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "runc",
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
      {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
      {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
      {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid"]},
      {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=16m", "mode=1777", "noexec"]}
    ],
    "linux": {
      "uidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}],
      "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                     {"type": "mount"}, {"type": "user"}],
      "resources": {"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000},
                    "pids": {"limit": 64}},
      "maskedPaths": ["/proc/kcore"],
      "readonlyPaths": ["/proc/sys"]
    },
    "annotations": {"org.example": "yes"}
  })");
}

}  // namespace

TEST_CASE("a runc-style config.json maps onto the sandbox spec", "[oci]") {
  auto c = parse_oci_config(runc_like().dump(), "/bundles/b1");
  REQUIRE(c);
  const SandboxSpec& s = c->spec;
  CHECK(s.process.args == std::vector<std::string>{"sh", "-c", "echo hi"});
  CHECK(s.process.uid == 1000);
  CHECK(s.process.additional_gids == std::vector<std::uint32_t>{10});
  CHECK(s.process.cwd == "/work");
  CHECK(s.process.capabilities.effective == (1ull << 5));
  CHECK(s.process.capabilities.bounding == ((1ull << 5) | (1ull << 0)));
  REQUIRE(s.process.rlimits.size() == 1);
  CHECK(s.process.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(s.process.rlimits[0].soft == 512);
  CHECK(s.no_new_privileges);
  CHECK(s.rootfs.lower == std::vector<std::filesystem::path>{"/bundles/b1/rootfs"});
  CHECK_FALSE(s.rootfs.overlay);
  CHECK(s.rootfs.readonly);
  CHECK_FALSE(s.rootfs.idmap);  // the bundle's own mappings: its rootfs is prepared for them
  CHECK(s.hostname == "runc");
  // Every mount the bundle lists, in its order: svc adds none of its own.
  CHECK_FALSE(s.system_mounts);
  REQUIRE(s.mounts.size() == 7);
  CHECK(s.mounts[0].type == MountSpec::Type::kFilesystem);
  CHECK(s.mounts[0].fs_type == "proc");
  CHECK(s.mounts[0].fs_source == "proc");
  CHECK(s.mounts[1].fs_options == "mode=755");
  CHECK(s.mounts[1].nosuid);
  CHECK(s.mounts[3].readonly);
  CHECK(s.mounts[4].fs_type == "cgroup");
  const MountSpec& data = s.mounts[5];
  CHECK(data.type == MountSpec::Type::kBind);
  CHECK(data.source == "/bundles/b1/data");
  CHECK(data.readonly);
  CHECK(data.recursive);
  CHECK(data.nosuid);
  CHECK_FALSE(data.nodev);
  CHECK(s.mounts[6].type == MountSpec::Type::kFilesystem);
  CHECK(s.mounts[6].fs_type == "tmpfs");
  CHECK(s.mounts[6].fs_options == "size=16m,mode=1777");
  CHECK(s.mounts[6].noexec);
  CHECK(s.uid_mappings == std::vector<IdMapping>{{0, 200000, 65536}});
  CHECK(s.namespaces.pid);
  CHECK(s.namespaces.net);
  CHECK(s.namespaces.user);
  CHECK(s.namespaces.mount);
  CHECK_FALSE(s.namespaces.cgroup);
  CHECK(s.network == NetworkMode::kPrivate);
  CHECK(s.resources.memory_bytes == 64u << 20);
  CHECK(s.resources.cpu_millis == 500);
  CHECK(s.resources.pids == 64);
  CHECK_FALSE(s.seccomp.has_value());
  CHECK(s.masked_paths == std::vector<std::string>{"/proc/kcore"});
  CHECK(s.annotations.at("org.example") == "yes");
}

TEST_CASE("what the bundle omits stays off: no namespaces, no_new_privs, masks or limits",
          "[oci]") {
  json j = runc_like();
  j["linux"] = json::object();
  j["process"].erase("noNewPrivileges");
  auto c = parse_oci_config(j.dump(), "/b");
  REQUIRE(c);
  const SandboxSpec& s = c->spec;
  CHECK_FALSE(s.namespaces.user);
  CHECK_FALSE(s.namespaces.mount);
  CHECK_FALSE(s.namespaces.pid);
  CHECK(s.network == NetworkMode::kHost);
  CHECK_FALSE(s.no_new_privileges);
  CHECK(s.masked_paths.empty());
  CHECK(s.readonly_paths.empty());
  CHECK(s.resources.pids == 0);
  CHECK(c->cgroups_path.empty());
}

TEST_CASE("namespace paths, devices, sysctls, oom score, propagation and cgroupsPath", "[oci]") {
  json j = runc_like();
  j["linux"]["namespaces"] = json::parse(R"([{"type": "pid"}, {"type": "mount"},
      {"type": "network", "path": "/proc/7/ns/net"}, {"type": "uts", "path": "/proc/7/ns/uts"}])");
  j["linux"].erase("uidMappings");
  j["linux"].erase("gidMappings");
  j["linux"]["devices"] = json::parse(
      R"([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
           "uid": 0, "gid": 0}, {"path": "/dev/q", "type": "p"}])");
  j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  j["linux"]["rootfsPropagation"] = "shared";
  j["linux"]["cgroupsPath"] = "/machine/c1";
  j["process"]["oomScoreAdj"] = 200;
  auto c = parse_oci_config(j.dump(), "/b");
  REQUIRE(c);
  const SandboxSpec& s = c->spec;
  CHECK(s.namespaces.join == std::map<std::string, std::string>{{"network", "/proc/7/ns/net"},
                                                                {"uts", "/proc/7/ns/uts"}});
  CHECK_FALSE(s.namespaces.net);
  CHECK(s.network == NetworkMode::kHost);
  REQUIRE(s.devices.size() == 2);
  CHECK(s.devices[0] == DeviceSpec{"/dev/fuse", 'c', 10, 229, 0666, 0, 0});
  CHECK(s.devices[1].type == 'p');
  CHECK(s.devices[1].mode == 0666);
  CHECK(s.sysctl.at("net.ipv4.ip_forward") == "1");
  CHECK(s.rootfs.propagation == (MS_SHARED | MS_REC));
  CHECK(s.oom_score_adj == 200);
  CHECK(c->cgroups_path == "/machine/c1");
}

TEST_CASE("mount options: data on a bind is ignored, propagation and atime are kept", "[oci]") {
  json j = runc_like();
  j["mounts"] = json::parse(R"([
      {"destination": "/a", "type": "bind", "source": "/srv/a", "options": ["bind", "mode=755", "rslave", "noatime"]},
      {"destination": "/b", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime", "size=1m", "rshared"]},
      {"destination": "/c", "type": "nfs", "source": "host:/x", "options": ["vers=4"]}])");
  auto c = parse_oci_config(j.dump(), "/b");
  REQUIRE(c);
  const auto& m = c->spec.mounts;
  REQUIRE(m.size() == 3);
  CHECK(m[0].type == MountSpec::Type::kBind);
  CHECK_FALSE(m[0].recursive);
  CHECK(m[0].propagation == (MS_SLAVE | MS_REC));
  CHECK(m[0].atime == MOUNT_ATTR_NOATIME);
  CHECK(m[1].fs_options == "size=1m");
  CHECK(m[1].atime == MOUNT_ATTR_STRICTATIME);
  CHECK(m[1].propagation == (MS_SHARED | MS_REC));
  // Any file system type: the kernel says whether it can mount it.
  CHECK(m[2].fs_type == "nfs");
  CHECK(m[2].fs_options == "vers=4");
}

TEST_CASE("resources: shares, cpusets, memory and device rules, with runc's allowed devices",
          "[oci]") {
  json j = runc_like();
  j["linux"]["resources"] = json::parse(R"({
      "cpu": {"shares": 2048, "quota": 200000, "period": 500000, "cpus": "0-1", "mems": "0",
              "realtimeRuntime": 950000, "realtimePeriod": 1000000},
      "memory": {"limit": 52428800, "reservation": 10485760, "swap": 104857600, "swappiness": 10,
                 "disableOOMKiller": true, "kernel": 52428800},
      "devices": [{"allow": false, "access": "rwm"},
                  {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]})");
  auto c = parse_oci_config(j.dump(), "/b");
  REQUIRE(c);
  const CgroupLimits& l = c->spec.resources;
  CHECK(l.cpu_shares == 2048);
  CHECK(l.cpu_millis == 400);
  CHECK(l.cpu_period_us == 500000);
  CHECK(l.cpuset_cpus == "0-1");
  CHECK(l.cpu_rt_runtime_us == 950000);
  CHECK(l.memory_reservation_bytes == 10u << 20);
  CHECK(l.memory_swap_bytes == 100 << 20);
  CHECK(l.memory_swappiness == 10);
  CHECK(l.memory_oom_kill_disable);
  REQUIRE(l.devices.size() > 2);
  CHECK(l.devices[0] == DeviceRule{false, 'a', -1, -1, "rwm"});
  CHECK(l.devices[1] == DeviceRule{true, 'c', 10, 229, "rw"});
  // Then the nodes every container needs (/dev/null ...), as runc appends them.
  CHECK(std::find(l.devices.begin(), l.devices.end(), DeviceRule{true, 'c', 1, 3, "rwm"}) !=
        l.devices.end());
  j["linux"]["resources"]["devices"][1]["access"] = "rwx";
  CHECK(parse_oci_config(j.dump(), "/b").error().code() == Code::kInvalidArgument);
}

TEST_CASE("hooks are read - what svc-runtime cannot do is refused, not ignored", "[oci]") {
  auto with = [](auto edit) {
    json j = runc_like();
    edit(j);
    return parse_oci_config(j.dump(), "/b");
  };
  auto hooks = with([](json& j) {
    j["hooks"] = json::parse(R"({"prestart": [{"path": "/bin/true", "args": ["true"]}],
        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "x"], "env": ["A=1"], "timeout": 5}]})");
  });
  REQUIRE(hooks);
  REQUIRE(hooks->hooks.prestart.size() == 1);
  CHECK(hooks->hooks.poststop[0].timeout_seconds == 5);
  CHECK(hooks->hooks.poststop[0].env == std::vector<std::string>{"A=1"});
  auto inside = with([](json& j) {
    j["hooks"] = {{"createContainer", {{{"path", "/bin/true"}}}}};
  });
  CHECK(inside.error().code() == Code::kUnimplemented);
  auto relative = with([](json& j) { j["hooks"] = {{"poststart", {{{"path", "true"}}}}}; });
  CHECK(relative.error().code() == Code::kInvalidArgument);
  auto apparmor = with([](json& j) { j["process"]["apparmorProfile"] = "docker-default"; });
  CHECK(apparmor.error().code() == Code::kUnimplemented);
  auto blkio = with([](json& j) { j["linux"]["resources"]["blockIO"] = {{"weight", 10}}; });
  CHECK(blkio.error().code() == Code::kUnimplemented);
  auto empty_blkio = with([](json& j) { j["linux"]["resources"]["blockIO"] = json::object(); });
  CHECK(empty_blkio);
  auto time_ns = with([](json& j) { j["linux"]["namespaces"].push_back({{"type", "time"}}); });
  CHECK(time_ns.error().code() == Code::kUnimplemented);
  auto twice = with([](json& j) { j["linux"]["namespaces"].push_back({{"type", "pid"}}); });
  CHECK(twice.error().code() == Code::kInvalidArgument);
  auto maps_no_userns = with([](json& j) { j["linux"]["namespaces"].erase(5); });
  CHECK(maps_no_userns.error().message().find("user namespace") != std::string::npos);
  auto v2 = with([](json& j) { j["ociVersion"] = "2.0.0"; });
  CHECK(v2.error().code() == Code::kInvalidArgument);
  auto broken = parse_oci_config("{", "/b");
  CHECK(broken.error().code() == Code::kInvalidArgument);
  auto label = with([](json& j) { j["linux"]["mountLabel"] = "system_u:object_r:x:s0"; });
  CHECK(label);  // SELinux's, meaningless without it: accepted
}

TEST_CASE("svc-runtime spec writes svc's strict defaults, which parse back as such", "[oci]") {
  auto c = parse_oci_config(default_oci_config(), "/b");
  REQUIRE(c);
  const SandboxSpec& s = c->spec;
  CHECK(s.process.args == std::vector<std::string>{"sh"});
  CHECK(s.process.capabilities == default_capabilities());
  CHECK(s.masked_paths == default_masked_paths());
  CHECK(s.readonly_paths == default_readonly_paths());
  CHECK(s.seccomp.has_value());
  CHECK(s.no_new_privileges);
  CHECK(s.resources.pids == 1024);
  NamespaceSet all;  // every namespace new
  CHECK(s.namespaces == all);
  CHECK(s.uid_mappings.empty());  // a range from the pool
  CHECK(s.rootfs.idmap);          // ... with the root idmapped into it
  std::vector<std::string> targets;
  for (const auto& m : s.mounts) targets.push_back(m.target);
  CHECK(targets ==
        std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"});
}

TEST_CASE("a spec written as config.json parses back to the same spec", "[oci]") {
  auto c = parse_oci_config(runc_like().dump(), "/bundles/b1");
  REQUIRE(c);
  c->spec.devices = {{"/dev/fuse", 'c', 10, 229, 0660, 0, 0}};
  c->spec.sysctl = {{"kernel.shmmax", "1"}};
  c->spec.oom_score_adj = -10;
  c->spec.rootfs.propagation = MS_SLAVE | MS_REC;
  auto again = parse_oci_config(to_oci_config(c->spec, "/bundles/b1/rootfs"), "/bundles/b1");
  REQUIRE(again);
  CHECK(again->spec.mounts == c->spec.mounts);
  CHECK(again->spec.namespaces == c->spec.namespaces);
  CHECK(again->spec.devices == c->spec.devices);
  CHECK(again->spec.sysctl == c->spec.sysctl);
  CHECK(again->spec.oom_score_adj == -10);
  CHECK(again->spec.rootfs.propagation == c->spec.rootfs.propagation);
  CHECK(again->spec.no_new_privileges == c->spec.no_new_privileges);
}
