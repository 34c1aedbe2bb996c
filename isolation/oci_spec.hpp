#pragma once
// An OCI runtime-spec bundle's config.json (runtime-spec v1.0-1.2) mapped onto a SandboxSpec and
// back. What svc does differently from runc, on purpose:
// - a user and a mount namespace are always made; a config without a user namespace (or
//   without mappings) gets a private id range from the pool, so uid 0 inside is never root;
// - /proc, /dev (+pts, shm, mqueue) and /sys are always svc's own (the config's entries for
//   them are recognised and skipped); /sys/fs/cgroup is not mounted;
// - no_new_privs is always on; a pids limit of 1024 applies unless the config sets one;
// - process.terminal makes a pty inside the sandbox (its master goes to --console-socket);
// - unsupported features (hooks, joining namespaces by path, other mount types)
//   are refused with UNIMPLEMENTED rather than ignored, except sysctl, devices, apparmor,
//   selinux and cgroupsPath, which are accepted and ignored.
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "isolation/sandbox_spec.hpp"

namespace svc::isolation {

inline constexpr const char* kOciVersion = "1.2.0";

struct OciConfig {
  SandboxSpec spec;
  std::string oci_version;
  bool terminal = false;
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
