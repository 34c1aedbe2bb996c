#pragma once
// A sandbox's cgroup, behind one small interface with a driver per cgroup version (v1: one
// directory per controller hierarchy; v2: one directory in the unified tree). The driver is
// chosen by probing (host_probe.hpp: CgroupLayout::driver). Every root is a constructor
// parameter so the drivers are unit-tested against a fake cgroupfs tree in a temp dir.
//
// Interface contract (owned by the cgroups work; extend, do not break):
// - `relative` names a cgroup below the driver's base: the cgroup is <mount>/<base>/<relative>,
//   e.g. relative "<sandbox-id>" with base "svc" is /sys/fs/cgroup/memory/svc/<sandbox-id> (v1).
//   It contains no "..", no "." or empty component, no leading '/', and only [A-Za-z0-9._-/];
//   a relative with '/' makes the intermediate directories as needed.
// - create() makes the directory in every managed hierarchy and applies the limits; a cgroup
//   that already exists is an error (ALREADY_EXISTS) so two sandboxes never share one.
// - remove() kills nothing: call kill_all() first; it retries rmdir while the kernel lets the
//   last tasks go (EBUSY) for a short bounded time and succeeds when the cgroup is already gone.
//   It removes only the leaf: the base (and intermediate directories) stay for the next sandbox.
// - Limits the kernel cannot apply (a controller missing from the hierarchy, a quota below the
//   kernel's 1 ms minimum) are errors, never silently dropped: a sandbox without its limits must
//   not start.
// - Ownership: a driver owns no fds or processes; the fds it returns belong to the caller.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/host_probe.hpp"

namespace svc::isolation {

// One rule of the device controller (OCI linux.resources.devices), applied in order: v1's
// devices.deny / devices.allow.
struct DeviceRule {
  bool allow = false;
  char type = 'a';          // 'a' (all), 'c', 'b'
  std::int64_t major = -1;  // -1: any ('*')
  std::int64_t minor = -1;
  std::string access = "rwm";
  bool operator==(const DeviceRule&) const = default;
};
// "a *:* rwm", "c 1:3 rw": the kernel's spelling (devices.list, devices.allow).
std::string device_rule_text(const DeviceRule& rule);

struct CgroupLimits {
  std::int64_t cpu_millis = 0;  // 0 = no CPU limit; else quota = millis * period / 1000
  std::uint64_t cpu_period_us = 100'000;
  // Relative CPU weight under contention, in cgroup v1 cpu.shares units (2..262144; 1024 = the
  // kernel's default); v2 writes the equivalent cpu.weight (the conversion runc and crun use).
  // 0 = leave the kernel's default. Independent of cpu_millis: a weight without a quota lets a
  // sandbox use idle CPU and still yield to the others by its share when the CPU is busy.
  std::uint64_t cpu_shares = 0;
  std::uint64_t memory_bytes = 0;  // 0 = no limit; swap is always off when limited
  std::int64_t pids = 1024;        // 0 = no limit
  // What OCI bundles may also ask for (svc-runtime); the zero values leave the kernel's
  // defaults. svcd sets none of them (cpu_shares above is svcd's and the bundles' both).
  std::int64_t cpu_rt_runtime_us = 0;          // v1 only: cpu.rt_runtime_us (0: unset)
  std::uint64_t cpu_rt_period_us = 0;          // v1 only: cpu.rt_period_us
  std::string cpuset_cpus, cpuset_mems;        // "0-1", "0"
  std::uint64_t memory_reservation_bytes = 0;  // v1 memory.soft_limit_in_bytes; v2 memory.low
  // 0: svc's rule (no swap when memory is limited); -1: unlimited; else memory+swap (v1 memsw,
  // v2 memory.swap.max = swap - memory).
  std::int64_t memory_swap_bytes = 0;
  int memory_swappiness = -1;            // v1 only; -1: unset
  bool memory_oom_kill_disable = false;  // v1 only
  // v1: written to devices.deny/allow in order (the sandbox is put in the devices hierarchy only
  // when there are rules). v2 controls devices with eBPF, which svc does not do: the rules are
  // then not applied (the runtime says so in its log).
  std::vector<DeviceRule> devices;
};

struct CgroupStats {
  double cpu_seconds = 0;               // user + system, from cpuacct.usage / cpu.stat
  std::uint64_t memory_bytes = 0;       // current usage
  std::uint64_t memory_peak_bytes = 0;  // max_usage_in_bytes (v1) / memory.peak (v2, 5.19+)
  std::uint64_t pids = 0;               // current number of tasks
  std::uint64_t oom_kills = 0;          // processes killed by the OOM killer in this cgroup
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  virtual std::string_view version() const = 0;  // "v1" or "v2"

  virtual Result<> create(std::string_view relative, const CgroupLimits& limits) = 0;
  virtual Result<> update(std::string_view relative, const CgroupLimits& limits) = 0;
  // Changes the CPU quota of an existing cgroup and nothing else (v1 cpu.cfs_period_us and
  // cpu.cfs_quota_us, v2 cpu.max), as svcd's CPU idle throttle does to a running sandbox many
  // times in its life: cpu_millis 0 = no quota; a quota below the kernel's 1 ms is an error.
  virtual Result<> set_cpu_quota(std::string_view relative, std::int64_t cpu_millis,
                                 std::uint64_t period_us = 100'000) = 0;
  // Moves an existing process (all its threads) into the cgroup.
  virtual Result<> add_process(std::string_view relative, pid_t pid) = 0;
  // Opened "cgroup.procs" files (one per hierarchy) that a freshly cloned child writes "0" to,
  // between clone() and execve(), so it runs in the cgroup from its first instruction. On v2 the
  // caller may instead use clone3(CLONE_INTO_CGROUP) with dir_fd().
  virtual Result<std::vector<UniqueFd>> open_procs_files(std::string_view relative) = 0;
  // Files a single-threaded process writes "0" to, to move itself (one per hierarchy): v1's
  // "tasks", v2's "cgroup.procs". Moving one's own thread through v1's "tasks" is the one move
  // the kernel makes without write-locking its global cgroup_threadgroup_rwsem, whose first
  // writer after a quiet spell waits for an RCU grace period (a cgroup.procs move took 5-16 ms
  // here after 60 ms without one, a "tasks" move 0.03 ms). In a process with several threads
  // it would move only the caller.
  virtual Result<std::vector<UniqueFd>> open_self_join_files(std::string_view relative) = 0;
  // v2 only: an O_PATH|O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP).
  virtual Result<UniqueFd> dir_fd(std::string_view relative) = 0;
  virtual Result<CgroupStats> stats(std::string_view relative) = 0;
  virtual Result<std::vector<pid_t>> pids(std::string_view relative) = 0;
  // Sends sig to every process in the cgroup (v2: cgroup.kill for SIGKILL; v1: freeze, signal
  // each pid, thaw), so a fork bomb cannot outrun it.
  virtual Result<> kill_all(std::string_view relative, int sig) = 0;
  virtual Result<> remove(std::string_view relative) = 0;
  // The names of the cgroups directly below relative (in any one hierarchy: the driver makes
  // each cgroup in all of them); empty when relative does not exist.
  virtual Result<std::vector<std::string>> children(std::string_view relative) = 0;
  // An fd that becomes readable (poll POLLIN) when the memory controller reports an event that
  // may be an OOM kill: v1 an eventfd registered through cgroup.event_control on
  // memory.oom_control; v2 an inotify fd on memory.events. Read it to drain (v1: 8 bytes; v2:
  // inotify events), then compare stats().oom_kills. Optional: polling stats() at exit suffices.
  virtual Result<UniqueFd> open_oom_notifier(std::string_view relative) = 0;
};

// How a driver makes and removes cgroup directories. The kernel fills a new cgroup with its
// control files and lets rmdir remove a directory that still lists them; a fake cgroupfs tree in
// a temp dir does neither, so unit tests pass functions that do. Each returns 0 or an errno.
struct CgroupFsOps {
  std::function<int(const std::filesystem::path&)> make_dir;    // default: mkdir(dir, 0755)
  std::function<int(const std::filesystem::path&)> remove_dir;  // default: rmdir(dir)
};

// v1: controller name -> mount point of its hierarchy, e.g. {"memory", "/sys/fs/cgroup/memory"}.
// base: the sub-directory svc owns in each hierarchy (e.g. "svc").
// Managed hierarchies: cpu, cpuacct, memory, pids (required by create) and freezer (optional,
// makes kill_all fork-bomb proof); cpuset and devices only for cgroups whose limits use them
// (CgroupLimits cpuset_*, devices); other entries are ignored. Co-mounted controllers (cpu and
// cpuacct on one "cpu,cpuacct" mount) may name the same path.
std::unique_ptr<CgroupDriver> make_cgroup_v1(std::map<std::string, std::filesystem::path> mounts,
                                             std::string base, CgroupFsOps ops = {});
// v2: the unified mount (e.g. /sys/fs/cgroup) and the sub-directory svc owns ("svc"). create()
// enables in cgroup.subtree_control, from the mount down to the new cgroup's parent, each of
// cpu, memory and pids that the mount's cgroup.controllers offers (for stats even without a
// limit); a limit whose controller is not offered is an error.
std::unique_ptr<CgroupDriver> make_cgroup_v2(std::filesystem::path unified, std::string base,
                                             CgroupFsOps ops = {});
// Picks the driver the layout names (layout.driver), with the mounts it found: v1 hierarchies
// at layout.root/<controller> (or a co-mount such as layout.root/"cpu,cpuacct"), v2 at
// layout.unified. FAILED_PRECONDITION when the layout names no driver.
Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout,
                                                         std::string base = "svc");
// The same, with each hierarchy rooted at below(its mount point) instead of the mount point:
// how svc-runtime reads a relative linux.cgroupsPath (below its own cgroup in each hierarchy, as
// runc does). An empty base puts cgroups directly below those roots.
Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver_below(
    const CgroupLayout& layout, std::string base,
    const std::function<std::filesystem::path(const std::filesystem::path&)>& below);

}  // namespace svc::isolation
