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
  bool operator==(const Rlimit&) const = default;
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
  // kFilesystem: any file system the kernel makes (proc, sysfs, devpts, mqueue, tmpfs, cgroup,
  // ...), as an OCI bundle lists it; kTmpfs is svc's own shorthand for one.
  enum class Type { kBind, kTmpfs, kFilesystem };
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
  // kFilesystem: the file system type, the source mountinfo shows ("proc", "shm") and its data
  // options ("mode=755,size=65536k"; a word without '=' is a flag such as "newinstance").
  // "cgroup" means the sandbox's own cgroups: cgroup2 on a unified host, on v1 a tmpfs with
  // each hierarchy's sandbox directory bound below it (as runc and crun do).
  std::string fs_type;
  std::string fs_source;
  std::string fs_options;
  // MOUNT_ATTR_RELATIME / NOATIME / STRICTATIME (the MOUNT_ATTR__ATIME values) and
  // MOUNT_ATTR_NODIRATIME; 0: the file system's default.
  unsigned atime = 0;
  // MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE (| MS_REC) set once attached; 0: private,
  // as every mount in the sandbox starts.
  unsigned long propagation = 0;
  bool operator==(const MountSpec&) const = default;
};

// A device node made in the sandbox (OCI linux.devices). Made with mknod where the sandbox may
// (no user namespace, or a fifo); in a user namespace, which may not make device nodes, the
// host's node at the same path is bound in instead, as runc does.
struct DeviceSpec {
  std::string path;  // absolute, under the new root
  char type = 'c';   // 'c' (or 'u'), 'b', 'p'
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint32_t mode = 0666;  // permission bits
  std::uint32_t uid = 0;      // inside the sandbox
  std::uint32_t gid = 0;
  bool operator==(const DeviceSpec&) const = default;
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
  // false: the root's files keep their host owners (an OCI bundle whose rootfs its maker
  // prepared for its mappings, as podman does with --uidmap). Ignored without a user namespace.
  bool idmap = true;
  // Propagation of the root once the sandbox is in it (OCI linux.rootfsPropagation):
  // MS_PRIVATE (the default), MS_SHARED, MS_SLAVE or MS_UNBINDABLE, with MS_REC.
  unsigned long propagation = 0;
  bool operator==(const RootfsSpec&) const = default;
};

// Which namespaces are made new. svc makes every one (they are the sandbox's walls); an OCI
// bundle lists the ones it wants, and a namespace it omits is the runtime's own (inherited), as
// runc and crun do. A namespace named in `join` is entered instead (OCI "path").
struct NamespaceSet {
  bool pid = true;
  bool net = true;
  bool ipc = true;
  bool uts = true;
  bool cgroup = true;
  // false: the runtime's user namespace. Uid 0 inside is then the host's root, limited only by
  // capabilities, seccomp and the other namespaces (OCI bundles without a user namespace).
  bool user = true;
  // false: the runtime's mount namespace. The root is entered with chroot and every mount the
  // set-up makes stays visible on the host until the sandbox is removed (what runc does).
  bool mount = true;
  // OCI type name ("pid", "network", "ipc", "uts", "mount", "cgroup") -> an nsfs path such as
  // /proc/<pid>/ns/net. Joined by the launcher before the sandbox's first process is cloned.
  std::map<std::string, std::string> join;
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
  // The process keeps no_new_privs off only when this is false (OCI noNewPrivileges: false);
  // svc always sets it.
  bool no_new_privileges = true;
  // svc's own /proc, /dev (with its nodes, pts, shm, mqueue) and read-only /sys, made before
  // `mounts`. false (OCI bundles): only `mounts`, in their order, and then, unless /dev is a
  // bind mount, the standard nodes and links in /dev (null, zero, full, random, urandom, tty,
  // ptmx, fd, stdin, stdout, stderr), as runc and crun do.
  bool system_mounts = true;
  std::vector<DeviceSpec> devices;            // made after the mounts
  std::map<std::string, std::string> sysctl;  // "net.ipv4.ip_forward" -> "1"; namespaced ones
  std::optional<int> oom_score_adj;           // -1000..1000, written by the runtime
  // The sandbox's cgroup, relative to the cgroup driver's base; empty: the runtime's default
  // (<cgroup_parent>/<id>). An existing, empty cgroup is used as it is (OCI cgroupsPath).
  std::string cgroup;
  NetworkMode network = NetworkMode::kPrivate;
  StdioMode stdio = StdioMode::kLog;
  // A terminal (OCI process.terminal): the first process opens a pty in the sandbox's own devpts
  // with the task's credentials and makes it its controlling terminal and its 0, 1 and 2. kLog:
  // the shim keeps the master (output goes to the log as stdout, attached clients type into
  // it); kInherit: the master goes to CreateOptions::console_socket.
  bool terminal = false;
  std::uint16_t console_rows = 0;  // the terminal's first size (OCI process.consoleSize); 0: the
  std::uint16_t console_cols = 0;  // kernel's default
  // kLog: the task's stdin is a pipe its shim keeps open and attached clients write into (until
  // one closes it); otherwise /dev/null. A terminal's input is always open.
  bool open_stdin = false;
  std::uint64_t log_max_bytes = 10ull << 20;  // rotation to log.1 past this size
  int stop_signal = 15;                       // SIGTERM
  std::chrono::milliseconds stop_grace{10'000};
  std::map<std::string, std::string> annotations;
};

}  // namespace svc::isolation
