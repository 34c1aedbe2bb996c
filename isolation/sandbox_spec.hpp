#pragma once
// What one sandbox is: the process to run and every wall around it. Plain data with safe
// defaults (a default-constructed spec plus args and a rootfs is a full svc sandbox: every
// namespace, a private uid range, the default capabilities, masked paths and seccomp profile,
// a pids limit of 1024, loopback-only network). The daemon builds it from an image config and
// user flags; oci_spec.hpp maps an OCI runtime-spec config.json onto it.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation {

// One line of a uid_map/gid_map: ids [inside, inside+size) are host ids [host, host+size).
struct IdMapping {
  std::uint32_t inside = 0;
  std::uint32_t host = 0;
  std::uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_NOFILE, ...
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;  // clamped to the host's hard limit when planned (a higher one fails)
};

// Capability sets as bit masks (bit N = capability N, linux/capability.h).
struct CapabilitySets {
  std::uint64_t bounding = 0;
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
  std::uint64_t inheritable = 0;
  std::uint64_t ambient = 0;
  bool operator==(const CapabilitySets&) const = default;
};
// The 11 capabilities Podman keeps: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE
// SETFCAP SETGID SETPCAP SETUID SYS_CHROOT; inheritable and ambient empty.
CapabilitySets default_capabilities();

struct ProcessSpec {
  std::vector<std::string> args;  // args[0] is looked up in PATH (from env) when it has no '/'
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd = "/";          // created when missing; anything under /proc is refused
  std::uint32_t uid = 0;          // inside the sandbox
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> additional_gids;
  std::vector<Rlimit> rlimits;  // default: RLIMIT_NOFILE 1024/1024 (see default_rlimits)
  CapabilitySets capabilities = default_capabilities();
  bool operator==(const ProcessSpec&) const = default;
};
std::vector<Rlimit> default_rlimits();

struct MountSpec {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::filesystem::path source;  // host path (bind)
  std::string target;            // absolute path inside the sandbox, resolved inside the rootfs
  bool readonly = false;
  bool recursive = true;  // rbind
  bool idmap = false;     // show the host owners through the sandbox's id mapping
  bool nosuid = true;
  bool nodev = true;
  bool noexec = false;
  std::string tmpfs_options;  // "size=64m,mode=1777" (tmpfs only)
  bool operator==(const MountSpec&) const = default;
};

struct RootfsSpec {
  // Read-only layers, bottom -> top (image snapshot dirs). Each is idmapped into the sandbox's
  // id range (no chown of the layers) and an overlay joins them under a private upper dir that
  // the runtime creates in the sandbox dir and removes with it.
  std::vector<std::filesystem::path> lower;
  // false: exactly one lower dir is bind-mounted (idmapped) as the root itself, writable unless
  // readonly: what an OCI bundle's root.path means.
  bool overlay = true;
  bool readonly = false;
  bool operator==(const RootfsSpec&) const = default;
};

// The user and mount namespaces are always new (they are the sandbox's walls); the others can
// be turned off for OCI bundles that ask to share the host's (pid, net, ipc, uts, cgroup).
struct NamespaceSet {
  bool pid = true;
  bool net = true;
  bool ipc = true;
  bool uts = true;
  bool cgroup = true;
  bool operator==(const NamespaceSet&) const = default;
};

enum class NetworkMode {
  kPrivate,  // own network namespace, loopback up: reached only through Runtime::connect_tcp
  kNone,     // own network namespace, nothing up (not even loopback)
  kBridge,   // own network namespace, a veth on the host bridge with NAT for outbound access
  kHost,     // the host's network namespace (only when namespaces.net is false; OCI bundles)
};

enum class StdioMode {
  kLog,      // the shim writes stdout/stderr to <sandbox>/log in the CRI format
  kInherit,  // the fds given to Runtime::create (svc-runtime passes its own stdio through)
  kNull,     // /dev/null
};

// Paths hidden from the sandbox (a file gets /dev/null bound over it, a directory an empty
// read-only tmpfs) and paths made read-only: the lists runc, crun and Docker use.
std::vector<std::string> default_masked_paths();
std::vector<std::string> default_readonly_paths();

// /etc/hosts and /etc/resolv.conf written by the runtime into the sandbox dir (owned by the
// sandbox's root) and bound over the root's: svcd asks for them (etc_files.hpp); an OCI bundle
// brings its own, so off by default.
struct EtcFilesSpec {
  bool generate = false;
  std::vector<std::string> nameservers;  // as given: the caller decides (sandbox_resolv_conf)
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool operator==(const EtcFilesSpec&) const = default;
};

struct SandboxSpec {
  ProcessSpec process;
  std::string hostname;  // empty: the sandbox id (truncated to 64 bytes)
  RootfsSpec rootfs;
  std::vector<MountSpec> mounts;
  EtcFilesSpec etc;
  CgroupLimits resources;  // pids 1024 by default
  NamespaceSet namespaces;
  // Empty: one range of 65536 ids from the runtime's UidPool (uid 0 inside = the range's first
  // host id, unique to this sandbox). Else the given lines (an OCI bundle's uidMappings).
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  // nullopt: no filter (OCI bundles without linux.seccomp); svc always sets one.
  std::optional<seccomp::Profile> seccomp = seccomp::default_profile();
  std::vector<std::string> masked_paths = default_masked_paths();
  std::vector<std::string> readonly_paths = default_readonly_paths();
  NetworkMode network = NetworkMode::kPrivate;
  StdioMode stdio = StdioMode::kLog;
  std::uint64_t log_max_bytes = 10ull << 20;  // rotation to log.1 past this size
  int stop_signal = 15;                       // SIGTERM
  std::chrono::milliseconds stop_grace{10'000};
  std::map<std::string, std::string> annotations;
};

}  // namespace svc::isolation
