#pragma once
// Turning CgroupLimits into the numbers the kernel takes, with the kernel's bounds checked up
// front so a bad limit is a clear INVALID_ARGUMENT rather than an EINVAL from some control file.
#include <cstdint>
#include <optional>

#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation::cgroups {

// CFS bandwidth bounds (kernel/sched/core.c: min_cfs_quota_period = 1 ms, max_cfs_quota_period
// = 1 s; a quota below 1 ms is refused too).
inline constexpr std::uint64_t kMinCfsPeriodUs = 1'000;
inline constexpr std::uint64_t kMaxCfsPeriodUs = 1'000'000;
inline constexpr std::uint64_t kMinCfsQuotaUs = 1'000;

Result<> validate(const CgroupLimits& limits);

// The CFS quota in microseconds per period, or nullopt for "no CPU limit".
// quota = cpu_millis * period / 1000: 1000 millis = one whole CPU.
std::optional<std::uint64_t> cpu_quota_us(const CgroupLimits& limits);

// cpu.shares bounds (kernel/sched/sched.h: MIN_SHARES 2, MAX_SHARES 1 << 18).
inline constexpr std::uint64_t kMinCpuShares = 2;
inline constexpr std::uint64_t kMaxCpuShares = 262'144;
// v2 cpu.weight (1..10000) for v1 shares, as runc's libcontainer/cgroups
// ConvertCPUSharesToCgroupV2Value and crun do: 2 -> 1, 262144 -> 10000, linear in between. 0 stays
// 0 (not set).
std::uint64_t cpu_weight_for_shares(std::uint64_t shares);

}  // namespace svc::isolation::cgroups
