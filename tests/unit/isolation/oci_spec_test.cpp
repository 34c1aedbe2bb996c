#include <sys/resource.h>

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
  CHECK(s.rootfs.lower == std::vector<std::filesystem::path>{"/bundles/b1/rootfs"});
  CHECK_FALSE(s.rootfs.overlay);
  CHECK(s.rootfs.readonly);
  CHECK(s.hostname == "runc");
  // proc, dev, devpts, sysfs and cgroup are svc's own; the bind and tmpfs are kept.
  REQUIRE(s.mounts.size() == 2);
  CHECK(s.mounts[0].type == MountSpec::Type::kBind);
  CHECK(s.mounts[0].source == "/bundles/b1/data");
  CHECK(s.mounts[0].readonly);
  CHECK(s.mounts[0].recursive);
  CHECK(s.mounts[0].nosuid);
  CHECK_FALSE(s.mounts[0].nodev);
  CHECK(s.mounts[1].type == MountSpec::Type::kTmpfs);
  CHECK(s.mounts[1].tmpfs_options == "size=16m,mode=1777");
  CHECK(s.mounts[1].noexec);
  CHECK(s.uid_mappings == std::vector<IdMapping>{{0, 200000, 65536}});
  CHECK(s.namespaces.pid);
  CHECK(s.namespaces.net);
  CHECK_FALSE(s.namespaces.cgroup);
  CHECK(s.network == NetworkMode::kPrivate);
  CHECK(s.resources.memory_bytes == 64u << 20);
  CHECK(s.resources.cpu_millis == 500);
  CHECK(s.resources.pids == 64);
  CHECK_FALSE(s.seccomp.has_value());
  CHECK(s.masked_paths == std::vector<std::string>{"/proc/kcore"});
  CHECK(s.annotations.at("org.example") == "yes");
}

TEST_CASE("what svc-runtime does not support is refused, not ignored", "[oci]") {
  auto with = [](auto edit) {
    json j = runc_like();
    edit(j);
    return parse_oci_config(j.dump(), "/b");
  };
  auto hooks = with([](json& j) { j["hooks"] = {{"prestart", {{{"path", "/bin/true"}}}}}; });
  CHECK(hooks.error().code() == Code::kUnimplemented);
  auto joined = with([](json& j) { j["linux"]["namespaces"][1]["path"] = "/proc/1/ns/net"; });
  CHECK(joined.error().code() == Code::kUnimplemented);
  auto nfs = with([](json& j) {
    j["mounts"].push_back({{"destination", "/n"}, {"type", "nfs"}, {"source", "x"}});
  });
  CHECK(nfs.error().code() == Code::kUnimplemented);
  auto v2 = with([](json& j) { j["ociVersion"] = "2.0.0"; });
  CHECK(v2.error().code() == Code::kInvalidArgument);
  auto broken = parse_oci_config("{", "/b");
  CHECK(broken.error().code() == Code::kInvalidArgument);
  auto no_net = with([](json& j) { j["linux"]["namespaces"].erase(1); });
  REQUIRE(no_net);
  CHECK(no_net->spec.network == NetworkMode::kHost);
}

TEST_CASE("svc-runtime spec writes a config that parses back to svc's defaults", "[oci]") {
  auto c = parse_oci_config(default_oci_config(), "/b");
  REQUIRE(c);
  CHECK(c->spec.process.args == std::vector<std::string>{"sh"});
  CHECK(c->spec.process.capabilities == default_capabilities());
  CHECK(c->spec.masked_paths == default_masked_paths());
  CHECK(c->spec.readonly_paths == default_readonly_paths());
  CHECK(c->spec.seccomp.has_value());
  CHECK(c->spec.resources.pids == 1024);
  CHECK(c->spec.namespaces == NamespaceSet{});
  CHECK(c->spec.uid_mappings.empty());  // a range from the pool
}
