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

}  // namespace svc::isolation::cgroups
