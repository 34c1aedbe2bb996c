#pragma once
// A sandbox's set-up as plain data: what the runtime prepares on the host (id maps, the
// idmapped layers and overlay, bind sources, cgroup limits, network) and the list of steps the
// sandbox's first process runs inside its new namespaces before it execs. plan_sandbox() is a
// pure function of the spec and a few host facts, so every rule (defaults, clamps, masks, mount
// order, refusals) is unit-tested without root; child_exec.cpp applies the child's part and
// runtime.cpp the host's part.
#include <sys/mount.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "isolation/sandbox_spec.hpp"
#include "isolation/uid_pool.hpp"

namespace svc::isolation {

// Host facts the planner needs; the runtime reads them, tests make them up.
struct PlanContext {
  std::string id;
  std::filesystem::path sandbox_dir;  // <state>/<id>
  IdRange ids;                        // the pool's range, used when the spec has no maps
  std::map<int, std::uint64_t> host_hard_limits;  // RLIMIT_* -> the host's hard limit
  int cap_last_cap = 40;                          // /proc/sys/kernel/cap_last_cap
  std::string cgroup;                             // the sandbox's cgroup, relative to the driver
};

enum class StepKind {
  kMountFs,       // a new filesystem (fsopen) attached at target
  kBindHost,      // a host path, seen before pivot_root (device nodes), bound onto target
  kBindPrepared,  // the runtime's prepared mount number `index` (a user bind mount) onto target
  kMask,          // /dev/null over a file, an empty read-only tmpfs over a dir; absent: skipped
  kReadonly,      // the target bound read-only onto itself (recursively); absent: skipped
  kSymlink,       // target -> source
  kDevice,        // a device node: mknod, or (in a user namespace) the host's node bound in
  kCgroupFs,      // the sandbox's cgroups at target (ChildPlan::cgroup_fs says how)
};

struct ChildStep {
  StepKind kind = StepKind::kMountFs;
  std::string target;  // absolute, inside the sandbox; resolved under the new root by fds
  std::string source;  // kMountFs: fs type; kBindHost: host path; kSymlink: link text
  // kMountFs: fsconfig(FSCONFIG_SET_STRING) pairs; an empty value is a flag (FSCONFIG_SET_FLAG).
  std::vector<std::pair<std::string, std::string>> options;
  unsigned attrs = 0;           // MOUNT_ATTR_* for the new mount
  int index = -1;               // kBindPrepared
  bool target_is_file = false;  // the mount point to create is a file (a device node bind)
  bool recursive = false;       // kBindHost: AT_RECURSIVE clone
  // System mount points (/proc, /sys, /dev/...) refuse any symlink on the way
  // (RESOLVE_NO_SYMLINKS); user mount targets may follow symlinks but never leave the root
  // (RESOLVE_IN_ROOT). Magic links (/proc/self/fd/N) are refused for both.
  bool no_symlinks = true;
  std::string fs_source;          // kMountFs: the "source" option (what mountinfo shows), or ""
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  // kDevice: S_IFCHR/S_IFBLK/S_IFIFO | permission bits, the device number, the owner (ids
  // inside the sandbox); the host node at `target` is bound when mknod is not allowed.
  std::uint32_t mode = 0;
  std::uint64_t dev = 0;
  std::uint32_t uid = 0, gid = 0;
  bool operator==(const ChildStep&) const = default;
};

// kCgroupFs: what the sandbox's /sys/fs/cgroup shows, filled in by the runtime once the
// sandbox's cgroup exists (it needs the host's hierarchies).
struct CgroupFsPlan {
  bool v2 = false;  // cgroup2: a new cgroup2 mount (in the sandbox's cgroup namespace)
  // v1: a tmpfs with, per hierarchy, <name> bound from the host directory (the sandbox's cgroup
  // there, or the runtime's own where the sandbox has none), and links for co-mounted names.
  struct Hierarchy {
    std::string name;                // "memory", "cpu,cpuacct", "systemd"
    std::filesystem::path host_dir;  // e.g. /sys/fs/cgroup/memory/svc/<id>
    bool operator==(const Hierarchy&) const = default;
  };
  std::vector<Hierarchy> hierarchies;
  std::vector<std::pair<std::string, std::string>> links;  // "cpu" -> "cpu,cpuacct"
  bool readonly = false;
  bool operator==(const CgroupFsPlan&) const = default;
};

// A user bind mount, opened on the host by the runtime (open_tree) and sent to the child.
struct BindSource {
  std::filesystem::path source;
  bool recursive = true;
  bool readonly = false;
  bool idmap = false;
  unsigned attrs = 0;  // MOUNT_ATTR_NOSUID/NODEV/NOEXEC and the atime attributes
  bool operator==(const BindSource&) const = default;
};

struct RootfsPlan {
  std::vector<std::filesystem::path> lower;  // bottom -> top
  bool overlay = true;
  bool readonly = false;
  std::filesystem::path upper;    // <sandbox>/upper, owned by the sandbox's root
  std::filesystem::path work;     // <sandbox>/work
  std::filesystem::path staging;  // <sandbox>/rootfs: where the child attaches the root
  bool idmap = true;              // the layers (or the one directory) idmapped into the sandbox
  // The lowerdir option, top layer first, for the given per-layer paths (in layer order).
  static std::string overlay_lowerdir(const std::vector<std::string>& bottom_to_top);
};

struct ChildPlan {
  unsigned long clone_flags = 0;  // CLONE_NEW*
  std::vector<ChildStep> steps;   // in order, under the new root, before pivot_root
  std::string hostname;           // set when the sandbox has its own UTS namespace
  bool loopback_up = false;
  bool readonly_rootfs = false;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string path;  // PATH used to find argv[0]
  std::string cwd;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;
  std::vector<Rlimit> rlimits;  // clamped to the host's hard limits
  CapabilitySets caps;
  int cap_last_cap = 40;
  bool no_new_privs = true;
  // No mount namespace of its own (or one joined): the runtime's. Then nothing is made private,
  // and the root is entered with chroot (pivot_root would move the runtime's own root).
  bool chroot = false;
  unsigned long root_propagation = MS_PRIVATE | MS_REC;  // set on "/" once inside
  // /proc/sys files written before the root is entered (namespaced sysctls only), in order.
  std::vector<std::pair<std::string, std::string>> sysctls;
  CgroupFsPlan cgroup_fs;
};

// A namespace the launcher enters before it clones the sandbox's first process (OCI "path").
struct NamespaceJoin {
  int type = 0;  // CLONE_NEWNET, ...
  std::string path;
  bool operator==(const NamespaceJoin&) const = default;
};

struct Plan {
  std::vector<IdMapping> uid_map;
  std::vector<IdMapping> gid_map;
  RootfsPlan rootfs;
  std::vector<BindSource> binds;  // kBindPrepared index -> source
  std::string cgroup;
  CgroupLimits limits;
  NetworkMode network = NetworkMode::kPrivate;
  ChildPlan child;
  bool new_userns = true;  // CLONE_NEWUSER: the runtime writes the maps; empty maps otherwise
  std::vector<NamespaceJoin> joins;
  std::optional<int> oom_score_adj;  // written by the runtime to /proc/<pid>/oom_score_adj
  bool cgroup_given = false;         // the spec named the cgroup: an existing empty one is used
};

// Validates the spec (ids, paths, args, mappings) and lays out the set-up. Errors are
// INVALID_ARGUMENT naming the field.
Result<Plan> plan_sandbox(const SandboxSpec& spec, const PlanContext& ctx);

// "0 1000000000 65536\n" lines for /proc/<pid>/uid_map.
std::string format_id_map(const std::vector<IdMapping>& map);
// Maps an id inside the sandbox to the host; nullopt when it is not mapped.
std::optional<std::uint32_t> map_to_host(const std::vector<IdMapping>& map, std::uint32_t inside);

// Sandbox ids: 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-' (they name
// directories, cgroups and interfaces).
Result<> validate_sandbox_id(std::string_view id);

}  // namespace svc::isolation
