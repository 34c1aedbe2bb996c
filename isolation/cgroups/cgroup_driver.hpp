#pragma once
// A sandbox's cgroup, behind one small interface with a driver per cgroup version (v1: one
// directory per controller hierarchy; v2: one directory in the unified tree). The driver is
// chosen by probing (host_probe.hpp: CgroupLayout::driver). Every root is a constructor
// parameter so the drivers are unit-tested against a fake cgroupfs tree in a temp dir.
//
// Interface contract (owned by the cgroups work; extend, do not break):
// - `relative` names a cgroup below the driver's base, e.g. "svc/<sandbox-id>"; it contains no
//   "..", no leading '/', and only [A-Za-z0-9._-/].
// - create() makes the directory in every managed hierarchy and applies the limits; a cgroup
//   that already exists is an error (ALREADY_EXISTS) so two sandboxes never share one.
// - remove() kills nothing: call kill_all() first; it retries rmdir while the kernel lets the
//   last tasks go (EBUSY) for a short bounded time and succeeds when the cgroup is already gone.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/host_probe.hpp"

namespace svc::isolation {

struct CgroupLimits {
  std::int64_t cpu_millis = 0;          // 0 = no CPU limit; else quota = millis * period / 1000
  std::uint64_t cpu_period_us = 100'000;
  std::uint64_t memory_bytes = 0;       // 0 = no limit; swap is always off when limited
  std::int64_t pids = 1024;             // 0 = no limit
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
  // Moves an existing process (all its threads) into the cgroup.
  virtual Result<> add_process(std::string_view relative, pid_t pid) = 0;
  // Opened "cgroup.procs" files (one per hierarchy) that a freshly cloned child writes "0" to,
  // between clone() and execve(), so it runs in the cgroup from its first instruction. On v2 the
  // caller may instead use clone3(CLONE_INTO_CGROUP) with dir_fd().
  virtual Result<std::vector<UniqueFd>> open_procs_files(std::string_view relative) = 0;
  // v2 only: an O_PATH|O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP).
  virtual Result<UniqueFd> dir_fd(std::string_view relative) = 0;
  virtual Result<CgroupStats> stats(std::string_view relative) = 0;
  virtual Result<std::vector<pid_t>> pids(std::string_view relative) = 0;
  // Sends sig to every process in the cgroup (v2: cgroup.kill for SIGKILL; v1: freeze, signal
  // each pid, thaw), so a fork bomb cannot outrun it.
  virtual Result<> kill_all(std::string_view relative, int sig) = 0;
  virtual Result<> remove(std::string_view relative) = 0;
};

// v1: controller name -> mount point of its hierarchy, e.g. {"memory", "/sys/fs/cgroup/memory"}.
// base: the sub-directory svc owns in each hierarchy (e.g. "svc").
std::unique_ptr<CgroupDriver> make_cgroup_v1(std::map<std::string, std::filesystem::path> mounts,
                                             std::string base);
// v2: the unified mount (e.g. /sys/fs/cgroup) and the sub-directory svc owns ("svc").
std::unique_ptr<CgroupDriver> make_cgroup_v2(std::filesystem::path unified, std::string base);
// Picks the driver the layout names (layout.driver), with the mounts it found.
Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout,
                                                         std::string base = "svc");

}  // namespace svc::isolation
