#include "isolation/cgroups/cgroup_v2_controllers.hpp"

#include <fcntl.h>
#include <sys/inotify.h>

#include <sstream>
#include <vector>

#include <fmt/ranges.h>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_files.hpp"
#include "isolation/cgroups/cgroup_limits.hpp"

namespace svc::isolation::cgroups::v2 {

namespace fs = std::filesystem;

Result<std::set<std::string>> read_controllers(const fs::path& file) {
  std::string text = SVC_TRY(read_file(file, 1 << 16));
  std::istringstream in(text);
  std::set<std::string> out;
  std::string name;
  while (in >> name) out.insert(name);
  return out;
}

std::set<std::string> needed_by(const CgroupLimits& limits) {
  std::set<std::string> out;
  if (limits.cpu_millis > 0 || limits.cpu_shares > 0) out.insert("cpu");
  if (limits.memory_bytes > 0 || limits.memory_reservation_bytes > 0) out.insert("memory");
  if (limits.pids > 0) out.insert("pids");
  if (!limits.cpuset_cpus.empty() || !limits.cpuset_mems.empty()) out.insert("cpuset");
  return out;
}

Result<> check_v2_limits(const CgroupLimits& l) {
  if (l.cpu_rt_runtime_us != 0 || l.cpu_rt_period_us != 0)
    return fail(Code::kInvalidArgument,
                "realtime CPU limits (realtimeRuntime, realtimePeriod) exist only in cgroup v1");
  if (l.memory_swappiness >= 0)
    return fail(Code::kInvalidArgument, "memory swappiness exists only in cgroup v1");
  if (l.memory_oom_kill_disable)
    return fail(Code::kInvalidArgument,
                "disabling the OOM killer (disableOOMKiller) exists only in cgroup v1");
  return {};
}

std::uint64_t shares_to_weight(std::uint64_t shares) {
  // v1 shares [2, 262144] onto v2 weight [1, 10000], the mapping runc and crun use.
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

Result<> enable_controllers(const fs::path& dir, const std::set<std::string>& wanted) {
  auto enabled = SVC_TRY(read_controllers(dir / "cgroup.subtree_control"));
  std::vector<std::string> missing;
  for (const auto& c : wanted)
    if (!enabled.count(c)) missing.push_back(c);
  if (missing.empty()) return {};
  auto offered = SVC_TRY(read_controllers(dir / "cgroup.controllers"));
  for (const auto& c : missing)
    if (!offered.count(c))
      return fail(Code::kFailedPrecondition,
                  "cgroup v2: controller {} is not available in {} (cgroup.controllers lists "
                  "only: {}); on a hybrid host it is bound to a v1 hierarchy",
                  c, dir.string(), fmt::join(offered, " "));
  std::string line;
  for (const auto& c : missing) line += (line.empty() ? "+" : " +") + c;
  auto r = write_value(dir / "cgroup.subtree_control", line);
  if (!r && r.error().sys_errno() == EBUSY)
    return fail(Code::kFailedPrecondition,
                "cgroup v2: cannot enable {} in {}: it holds processes, and a cgroup with "
                "processes cannot give controllers to children (\"no internal processes\" rule); "
                "move them into a leaf cgroup",
                line, dir.string());
  return r;
}

Result<> apply_cpu(const CgroupLimits& limits, const fs::path& dir) {
  SVC_TRY(validate(limits));
  auto quota = cpu_quota_us(limits);
  std::string value = quota ? fmt::format("{} {}", *quota, limits.cpu_period_us)
                            : fmt::format("max {}", limits.cpu_period_us);
  SVC_TRY(write_value(dir / "cpu.max", value));
  if (limits.cpu_shares)
    SVC_TRY(write_value(dir / "cpu.weight", std::to_string(shares_to_weight(limits.cpu_shares))));
  return {};
}

Result<> apply_cpuset(const CgroupLimits& limits, const fs::path& dir) {
  if (!limits.cpuset_cpus.empty()) SVC_TRY(write_value(dir / "cpuset.cpus", limits.cpuset_cpus));
  if (!limits.cpuset_mems.empty()) SVC_TRY(write_value(dir / "cpuset.mems", limits.cpuset_mems));
  return {};
}

Result<> apply_memory(const CgroupLimits& limits, const fs::path& dir) {
  const bool limited = limits.memory_bytes > 0;
  SVC_TRY(write_value(dir / "memory.max", limited ? std::to_string(limits.memory_bytes) : "max"));
  // memory.swap.max exists only with swap accounting (CONFIG_MEMCG_SWAP, not swapaccount=0);
  // without it there is no per-cgroup swap to turn off.
  const fs::path swap = dir / "memory.swap.max";
  if (file_exists(swap)) {
    // OCI's swap is memory + swap; v2 counts swap alone.
    std::string value = limited ? "0" : "max";
    if (limited && limits.memory_swap_bytes < 0) value = "max";
    if (limited && limits.memory_swap_bytes > 0) {
      auto total = static_cast<std::uint64_t>(limits.memory_swap_bytes);
      value = std::to_string(total > limits.memory_bytes ? total - limits.memory_bytes : 0);
    }
    SVC_TRY(write_value(swap, value));
  }
  if (limits.memory_reservation_bytes)
    SVC_TRY(write_value(dir / "memory.low", std::to_string(limits.memory_reservation_bytes)));
  return {};
}

Result<> apply_pids(const CgroupLimits& limits, const fs::path& dir) {
  SVC_TRY(validate(limits));
  return write_value(dir / "pids.max", limits.pids ? std::to_string(limits.pids) : "max");
}

Result<double> read_cpu_seconds(const fs::path& dir) {
  std::uint64_t usec = SVC_TRY(read_keyed(dir / "cpu.stat", "usage_usec"));
  return static_cast<double>(usec) / 1e6;
}

Result<MemoryUsage> read_memory(const fs::path& dir) {
  MemoryUsage m;
  if (!file_exists(dir / "memory.current")) return m;
  m.current = SVC_TRY(read_u64(dir / "memory.current"));
  // memory.peak arrived in 5.19; before it the best lower bound at hand is the current usage.
  m.peak = file_exists(dir / "memory.peak") ? SVC_TRY(read_u64(dir / "memory.peak")) : m.current;
  auto kills = read_keyed(dir / "memory.events", "oom_kill");
  if (kills) {
    m.oom_kills = *kills;
  } else if (kills.error().code() != Code::kNotFound) {
    return tl::unexpected(kills.error());
  }
  return m;
}

Result<std::uint64_t> read_pids_current(const fs::path& dir) {
  if (!file_exists(dir / "pids.current")) return 0;
  return read_u64(dir / "pids.current");
}

Result<bool> kill_via_cgroup_kill(const fs::path& dir) {
  const fs::path kill = dir / "cgroup.kill";
  if (!file_exists(kill)) return false;
  SVC_TRY(write_value(kill, "1"));
  return true;
}

Result<bool> freeze(const fs::path& dir) {
  const fs::path file = dir / "cgroup.freeze";
  if (!file_exists(file)) return false;
  SVC_TRY(write_value(file, "1"));
  return poll_until(
      [&] {
        auto v = read_keyed(dir / "cgroup.events", "frozen");
        return v && *v == 1;
      },
      std::chrono::milliseconds(1000));
}

Result<> thaw(const fs::path& dir) {
  const fs::path file = dir / "cgroup.freeze";
  if (!file_exists(file)) return {};
  return write_value(file, "0");
}

Result<UniqueFd> open_memory_events_watch(const fs::path& dir) {
  const fs::path events = dir / "memory.events";
  UniqueFd fd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd) return fail_errno("inotify_init1 for OOM notifications");
  if (::inotify_add_watch(fd.get(), events.c_str(), IN_MODIFY) < 0)
    return fail_errno(fmt::format("watch {}", events.string()));
  return fd;
}

}  // namespace svc::isolation::cgroups::v2
