#pragma once
// cgroup v2 controllers, one function per concern, each a function of (limits, directory) so
// they are unit-tested against a fake tree. `dir` is the sandbox's directory in the unified
// hierarchy. Kernel documentation: Documentation/admin-guide/cgroup-v2.rst.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation::cgroups::v2 {

// The controllers svc uses, in the order it enables them.
inline constexpr const char* kControllers[] = {"cpu", "memory", "pids"};

// The names in a cgroup.controllers or cgroup.subtree_control file.
Result<std::set<std::string>> read_controllers(const std::filesystem::path& file);
// Controllers the limits cannot do without (cpu for a CPU limit, ...).
std::set<std::string> needed_by(const CgroupLimits& limits);

// Writes "+name" to dir/cgroup.subtree_control for each wanted controller not yet enabled
// there (nothing when all are), so children of dir get them. FAILED_PRECONDITION when dir's
// cgroup.controllers does not offer one; the v2 "no internal processes" rule (EBUSY when dir
// holds processes) is reported as such.
Result<> enable_controllers(const std::filesystem::path& dir, const std::set<std::string>& wanted);

// What v2 has no file for (realtime budget, swappiness, the OOM killer switch): an error when
// the limits ask for it, never a silent drop.
Result<> check_v2_limits(const CgroupLimits& limits);
// cpu.shares (v1, 2..262144) as cpu.weight (1..10000).
std::uint64_t shares_to_weight(std::uint64_t shares);
// cpuset.cpus / cpuset.mems when the limits name them.
Result<> apply_cpuset(const CgroupLimits& limits, const std::filesystem::path& dir);
// cpu.max "<quota> <period>" or "max <period>"; cpu.weight from the shares.
Result<> apply_cpu(const CgroupLimits& limits, const std::filesystem::path& dir);
// memory.max, and memory.swap.max = 0 when limited so the sandbox cannot swap (when the kernel
// has swap accounting: the file exists); "max" for both without a limit.
Result<> apply_memory(const CgroupLimits& limits, const std::filesystem::path& dir);
// pids.max.
Result<> apply_pids(const CgroupLimits& limits, const std::filesystem::path& dir);

// cpu.stat usage_usec (always present: the core accounts CPU without the cpu controller).
Result<double> read_cpu_seconds(const std::filesystem::path& dir);
struct MemoryUsage {
  std::uint64_t current = 0;    // memory.current
  std::uint64_t peak = 0;       // memory.peak (5.19+); else the highest current seen: current
  std::uint64_t oom_kills = 0;  // memory.events "oom_kill"
};
// Zeros when the memory controller is not enabled for dir (its files are absent).
Result<MemoryUsage> read_memory(const std::filesystem::path& dir);
// pids.current, or 0 when the pids controller is not enabled for dir.
Result<std::uint64_t> read_pids_current(const std::filesystem::path& dir);

// cgroup.kill (5.14+): SIGKILL to every task, atomically with respect to forks. false when the
// file does not exist (older kernel), so the caller freezes and signals.
Result<bool> kill_via_cgroup_kill(const std::filesystem::path& dir);
// cgroup.freeze = 1 then waits (bounded) for "frozen 1" in cgroup.events. false when the
// kernel has no cgroup.freeze (before 5.2) or the wait timed out.
Result<bool> freeze(const std::filesystem::path& dir);
Result<> thaw(const std::filesystem::path& dir);

// An inotify fd watching memory.events (the kernel notifies file modification on each event).
Result<UniqueFd> open_memory_events_watch(const std::filesystem::path& dir);

}  // namespace svc::isolation::cgroups::v2
