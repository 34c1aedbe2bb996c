#pragma once
// An OCI runtime-spec bundle's config.json (runtime-spec v1.0-1.2) mapped onto a SandboxSpec and
// back. svc-runtime does what the config says, as runc and crun do: the namespaces it lists (a
// namespace it omits is the runtime's own; one with a path is joined), its mounts in its order,
// its devices, sysctls, oomScoreAdj, noNewPrivileges, rootfsPropagation, cgroupsPath and
// resources, its hooks. svc's strict defaults (a user namespace with a private id range,
// no_new_privs, the masks, a seccomp filter, a pids limit) are in what `svc-runtime spec` writes
// (default_oci_config), not forced onto a bundle that says otherwise. Two things are svc's own:
// - a user namespace without mappings gets a private range from the id pool (runc refuses it),
//   and the root is then idmapped so that its files keep their owners inside;
// - what svc-runtime cannot do is refused with UNIMPLEMENTED naming the field (AppArmor and
//   SELinux process labels, blockIO/hugetlb/network/rdma resources, hooks that run inside the
//   container, time namespaces, joining a user namespace), never silently dropped.
// process.terminal makes a pty inside the sandbox (its master goes to --console-socket).
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "isolation/sandbox_spec.hpp"

namespace svc::isolation {

inline constexpr const char* kOciVersion = "1.2.0";

// A hook (config.md "POSIX-platform Hooks"): run by svc-runtime in its own namespaces with the
// container's state on stdin.
struct OciHook {
  std::string path;
  std::vector<std::string> args;  // args[0] is the program's name (argv[0])
  std::vector<std::string> env;
  int timeout_seconds = 0;  // 0: none
};

struct OciHooks {
  std::vector<OciHook> prestart;        // deprecated by the spec, run with createRuntime
  std::vector<OciHook> create_runtime;  // after the container exists, before `create` returns
  std::vector<OciHook> poststart;       // after `start` released the process
  std::vector<OciHook> poststop;        // when `delete` removes the container
  bool empty() const {
    return prestart.empty() && create_runtime.empty() && poststart.empty() && poststop.empty();
  }
};

struct OciConfig {
  SandboxSpec spec;
  std::string oci_version;
  bool terminal = false;
  OciHooks hooks;
  // linux.cgroupsPath as written: "/a/b" below the hierarchies' roots, "a/b" below the runtime's
  // own cgroup, "" for the runtime's default. The CLI maps it onto its cgroup driver.
  std::string cgroups_path;
};

// bundle: the bundle directory (root.path and relative bind sources are resolved against it).
Result<OciConfig> parse_oci_config(std::string_view json, const std::filesystem::path& bundle);
Result<OciConfig> load_oci_bundle(const std::filesystem::path& bundle);

// config.json text for a spec (root.path as given, relative to the bundle when it is).
std::string to_oci_config(const SandboxSpec& spec, const std::filesystem::path& root_path);
// What `svc-runtime spec` writes: runs "sh" in ./rootfs with svc's defaults.
std::string default_oci_config();

// "SIGTERM", "TERM", "15" -> 15; 0 for a name this build does not know.
int signal_from_name(std::string_view name);
std::string signal_name(int sig);

}  // namespace svc::isolation
