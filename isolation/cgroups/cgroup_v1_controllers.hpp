#pragma once
// cgroup v1 controllers, one function per concern, each a function of (limits, directory) so
// they are unit-tested against a fake tree. `dir` is the sandbox's directory in that
// controller's hierarchy (e.g. /sys/fs/cgroup/memory/svc/<id>). Kernel documentation:
// Documentation/admin-guide/cgroup-v1/{cgroups,memory,pids,freezer-subsystem}.rst and
// Documentation/scheduler/sched-bwc.rst.
#include <cstdint>
#include <filesystem>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation::cgroups::v1 {

// cpu.cfs_period_us, then cpu.cfs_quota_us (-1 when there is no CPU limit); cpu.shares and the
// realtime budget when the limits name them.
Result<> apply_cpu(const CgroupLimits& limits, const std::filesystem::path& dir);
// memory.limit_in_bytes and, when the kernel has swap accounting (the memsw files exist),
// memory.memsw.limit_in_bytes set to the same value so the sandbox cannot swap. Without memsw
// it sets memory.swappiness=0 instead. -1 on both when there is no memory limit.
Result<> apply_memory(const CgroupLimits& limits, const std::filesystem::path& dir);
// soft limit, swappiness and the OOM killer switch, when the limits name them (OCI bundles).
Result<> apply_memory_extras(const CgroupLimits& limits, const std::filesystem::path& dir);
// cpuset.cpus and cpuset.mems: the limits' values, or the parent's where they are empty (a new
// cpuset cgroup takes no task until both are set).
Result<> apply_cpuset(const CgroupLimits& limits, const std::filesystem::path& dir);
// The parent's cpus and mems into an empty cpuset directory (the levels above a new cgroup).
Result<> fill_cpuset_from_parent(const std::filesystem::path& dir);
// Each device rule, in order, to devices.allow or devices.deny.
Result<> apply_devices(const CgroupLimits& limits, const std::filesystem::path& dir);
// pids.max ("max" when there is no limit).
Result<> apply_pids(const CgroupLimits& limits, const std::filesystem::path& dir);

// cpuacct.usage (nanoseconds, user + system) as seconds.
Result<double> read_cpu_seconds(const std::filesystem::path& cpuacct_dir);

struct MemoryUsage {
  std::uint64_t current = 0;    // memory.usage_in_bytes
  std::uint64_t peak = 0;       // memory.max_usage_in_bytes
  std::uint64_t oom_kills = 0;  // memory.oom_control "oom_kill" (kernel 4.13+)
};
Result<MemoryUsage> read_memory(const std::filesystem::path& dir);
Result<std::uint64_t> read_pids_current(const std::filesystem::path& dir);

// freezer.state = FROZEN, then waits (bounded) until the kernel reports FROZEN. Returns whether
// every task is frozen; FREEZING after the wait is not an error (a task in an uninterruptible
// sleep can hold it up), the caller signals what it can and tries again.
Result<bool> freeze(const std::filesystem::path& freezer_dir);
Result<> thaw(const std::filesystem::path& freezer_dir);

// An eventfd the kernel signals on each OOM event in the cgroup (cgroup.event_control with
// memory.oom_control, cgroup-v1/memory.rst section 9). Non-blocking; read 8 bytes to drain.
Result<UniqueFd> open_oom_eventfd(const std::filesystem::path& memory_dir);

}  // namespace svc::isolation::cgroups::v1
