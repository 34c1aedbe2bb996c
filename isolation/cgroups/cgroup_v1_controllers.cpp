#include "isolation/cgroups/cgroup_v1_controllers.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>

#include <string>

#include "isolation/cgroups/cgroup_files.hpp"
#include "isolation/cgroups/cgroup_limits.hpp"

namespace svc::isolation::cgroups::v1 {

namespace fs = std::filesystem;

Result<> apply_cpu(const CgroupLimits& limits, const fs::path& dir) {
  SVC_TRY(validate(limits));
  auto quota = cpu_quota_us(limits);
  if (quota || limits.cpu_period_us != 100'000)
    SVC_TRY(write_value(dir / "cpu.cfs_period_us", std::to_string(limits.cpu_period_us)));
  SVC_TRY(write_value(dir / "cpu.cfs_quota_us", quota ? std::to_string(*quota) : "-1"));
  if (limits.cpu_shares)
    SVC_TRY(write_value(dir / "cpu.shares", std::to_string(limits.cpu_shares)));
  // The period first: the kernel checks runtime <= period (sched-rt-group.rst).
  if (limits.cpu_rt_period_us)
    SVC_TRY(write_value(dir / "cpu.rt_period_us", std::to_string(limits.cpu_rt_period_us)));
  if (limits.cpu_rt_runtime_us)
    SVC_TRY(write_value(dir / "cpu.rt_runtime_us", std::to_string(limits.cpu_rt_runtime_us)));
  return {};
}

Result<> apply_cpuset(const CgroupLimits& limits, const fs::path& dir) {
  // A new cpuset cgroup starts empty and takes no task until both are set (cpusets.rst 1.8):
  // what the bundle asks for, else its parent's.
  for (const auto& [file, wanted] :
       {std::pair<const char*, const std::string&>{"cpuset.cpus", limits.cpuset_cpus},
        std::pair<const char*, const std::string&>{"cpuset.mems", limits.cpuset_mems}}) {
    std::string value = wanted;
    if (value.empty()) value = SVC_TRY(read_value(dir.parent_path() / file));
    SVC_TRY(write_value(dir / file, value));
  }
  return {};
}

Result<> fill_cpuset_from_parent(const fs::path& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    std::string mine = SVC_TRY(read_value(dir / file));
    if (!mine.empty()) continue;
    std::string parent = SVC_TRY(read_value(dir.parent_path() / file));
    SVC_TRY(write_value(dir / file, parent));
  }
  return {};
}

Result<> apply_devices(const CgroupLimits& limits, const fs::path& dir) {
  for (const auto& rule : limits.devices)
    SVC_TRY(
        write_value(dir / (rule.allow ? "devices.allow" : "devices.deny"), device_rule_text(rule)));
  return {};
}

Result<> apply_memory(const CgroupLimits& limits, const fs::path& dir) {
  const std::string value = limits.memory_bytes ? std::to_string(limits.memory_bytes) : "-1";
  const fs::path limit = dir / "memory.limit_in_bytes";
  const fs::path memsw = dir / "memory.memsw.limit_in_bytes";
  if (!file_exists(memsw)) {
    // No swap accounting in this kernel (CONFIG_MEMCG_SWAP off or swapaccount=0): the memsw
    // limit cannot be set, so keep the sandbox's anonymous memory out of swap with
    // swappiness 0 instead (cgroup reclaim then does not swap it; memory.rst 5.3).
    SVC_TRY(write_value(limit, value));
    if (limits.memory_bytes) SVC_TRY(write_value(dir / "memory.swappiness", "0"));
    return apply_memory_extras(limits, dir);
  }
  // The kernel keeps memsw >= limit at every step (EINVAL otherwise): going down, lower the
  // limit first; going up (or to -1), raise memsw first. Try the first order, fall back.
  // memsw is memory + swap: the limit itself (no swap) unless the bundle gave its own.
  std::string memsw_value = value;
  if (limits.memory_bytes && limits.memory_swap_bytes != 0)
    memsw_value = limits.memory_swap_bytes < 0 ? "-1" : std::to_string(limits.memory_swap_bytes);
  auto first = write_value(limit, value);
  if (first) {
    SVC_TRY(write_value(memsw, memsw_value));
  } else {
    if (first.error().sys_errno() != EINVAL) return first;
    SVC_TRY(write_value(memsw, memsw_value));
    SVC_TRY(write_value(limit, value));
  }
  return apply_memory_extras(limits, dir);
}

Result<> apply_memory_extras(const CgroupLimits& limits, const fs::path& dir) {
  if (limits.memory_reservation_bytes)
    SVC_TRY(write_value(dir / "memory.soft_limit_in_bytes",
                        std::to_string(limits.memory_reservation_bytes)));
  if (limits.memory_swappiness >= 0)
    SVC_TRY(write_value(dir / "memory.swappiness", std::to_string(limits.memory_swappiness)));
  if (limits.memory_oom_kill_disable) SVC_TRY(write_value(dir / "memory.oom_control", "1"));
  return {};
}

Result<> apply_pids(const CgroupLimits& limits, const fs::path& dir) {
  SVC_TRY(validate(limits));
  return write_value(dir / "pids.max", limits.pids ? std::to_string(limits.pids) : "max");
}

Result<double> read_cpu_seconds(const fs::path& cpuacct_dir) {
  std::uint64_t ns = SVC_TRY(read_u64(cpuacct_dir / "cpuacct.usage"));
  return static_cast<double>(ns) / 1e9;
}

Result<MemoryUsage> read_memory(const fs::path& dir) {
  MemoryUsage m;
  m.current = SVC_TRY(read_u64(dir / "memory.usage_in_bytes"));
  m.peak = SVC_TRY(read_u64(dir / "memory.max_usage_in_bytes"));
  auto kills = read_keyed(dir / "memory.oom_control", "oom_kill");
  if (kills) {
    m.oom_kills = *kills;
  } else if (kills.error().code() != Code::kNotFound) {
    return tl::unexpected(kills.error());
  }  // else: a kernel older than 4.13 has no counter; report 0.
  return m;
}

Result<std::uint64_t> read_pids_current(const fs::path& dir) {
  return read_u64(dir / "pids.current");
}

Result<bool> freeze(const fs::path& freezer_dir) {
  const fs::path state = freezer_dir / "freezer.state";
  SVC_TRY(write_value(state, "FROZEN"));
  bool frozen = poll_until(
      [&] {
        auto s = read_value(state);
        return s && *s == "FROZEN";
      },
      std::chrono::milliseconds(1000));
  return frozen;
}

Result<> thaw(const fs::path& freezer_dir) {
  return write_value(freezer_dir / "freezer.state", "THAWED");
}

Result<UniqueFd> open_oom_eventfd(const fs::path& memory_dir) {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return fail_errno("eventfd for OOM notifications");
  const fs::path control = memory_dir / "memory.oom_control";
  UniqueFd ofd(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ofd) return fail_errno(fmt::format("open {}", control.string()));
  // The kernel keeps its own reference to both files; ofd may be closed afterwards.
  SVC_TRY(
      write_value(memory_dir / "cgroup.event_control", fmt::format("{} {}", efd.get(), ofd.get())));
  return efd;
}

}  // namespace svc::isolation::cgroups::v1
