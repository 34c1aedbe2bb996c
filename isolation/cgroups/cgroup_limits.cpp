#include "isolation/cgroups/cgroup_limits.hpp"

namespace svc::isolation::cgroups {

Result<> validate(const CgroupLimits& limits) {
  if (limits.cpu_millis < 0)
    return fail(Code::kInvalidArgument, "cpu limit {} millicpus is negative", limits.cpu_millis);
  if (limits.pids < 0)
    return fail(Code::kInvalidArgument, "pids limit {} is negative (0 means no limit)",
                limits.pids);
  if (limits.cpu_shares != 0 &&
      (limits.cpu_shares < kMinCpuShares || limits.cpu_shares > kMaxCpuShares))
    return fail(Code::kInvalidArgument, "cpu shares {} are outside the kernel's range {}..{}",
                limits.cpu_shares, kMinCpuShares, kMaxCpuShares);
  if (limits.cpu_millis > 0) {
    if (limits.cpu_period_us < kMinCfsPeriodUs || limits.cpu_period_us > kMaxCfsPeriodUs)
      return fail(Code::kInvalidArgument,
                  "cpu period {} us is outside the kernel's range {}..{} us", limits.cpu_period_us,
                  kMinCfsPeriodUs, kMaxCfsPeriodUs);
    std::uint64_t quota = *cpu_quota_us(limits);
    if (quota < kMinCfsQuotaUs)
      return fail(Code::kInvalidArgument,
                  "cpu limit {} millicpus with a {} us period gives a {} us quota, below the "
                  "kernel's {} us minimum: raise the limit or the period",
                  limits.cpu_millis, limits.cpu_period_us, quota, kMinCfsQuotaUs);
  }
  return {};
}

std::uint64_t cpu_weight_for_shares(std::uint64_t shares) {
  if (shares == 0) return 0;
  return 1 + ((shares - 2) * 9999) / 262'142;
}

std::optional<std::uint64_t> cpu_quota_us(const CgroupLimits& limits) {
  if (limits.cpu_millis <= 0) return std::nullopt;
  return static_cast<std::uint64_t>(limits.cpu_millis) * limits.cpu_period_us / 1000;
}

}  // namespace svc::isolation::cgroups

namespace svc::isolation {

std::string device_rule_text(const DeviceRule& rule) {
  if (rule.type == 'a') return "a";  // every device, every access (devices.rst)
  auto num = [](std::int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
  return fmt::format("{} {}:{} {}", rule.type, num(rule.major), num(rule.minor), rule.access);
}

}  // namespace svc::isolation
