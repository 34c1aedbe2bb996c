#include "daemon/billing/usage_record.hpp"

#include <algorithm>
#include <chrono>

namespace svc::billing {

std::string_view basis_name(Basis basis) { return basis == Basis::kLimits ? "limits" : "requests"; }

Result<Basis> parse_basis(std::string_view text) {
  if (text == "requests") return Basis::kRequests;
  if (text == "limits") return Basis::kLimits;
  return fail(Code::kInvalidArgument, "\"{}\" is not \"requests\" or \"limits\"", text);
}

std::string_view mode_name(ServiceMode mode) {
  return mode == ServiceMode::kRequest ? "request" : "instance";
}

Result<ServiceMode> parse_mode(std::string_view text) {
  if (text == "instance") return ServiceMode::kInstance;
  if (text == "request") return ServiceMode::kRequest;
  return fail(Code::kInvalidArgument, "\"{}\" is not \"instance\" or \"request\"", text);
}

std::int64_t billed_vcpu_millis(const UsageRecord& r) {
  if (r.basis == Basis::kLimits && r.cpu_limit_millis > 0) return r.cpu_limit_millis;
  return r.cpu_request_millis;
}

std::uint64_t billed_memory_bytes(const UsageRecord& r) {
  if (r.basis == Basis::kLimits && r.memory_limit_bytes > 0) return r.memory_limit_bytes;
  return r.memory_request_bytes;
}

Bill compute_bill(const UsageRecord& r, std::int64_t end_ms) {
  if (r.end_ms) end_ms = *r.end_ms;
  Bill b;
  b.run_ms = std::max<std::int64_t>(0, end_ms - r.start_ms);
  if (r.owner.kind == RunKind::kTask) {
    b.billed_seconds =
        r.billable ? std::max(ceil_div(b.run_ms, 1000), ceil_div(r.minimum_ms, 1000)) : 0;
  } else if (r.mode == ServiceMode::kRequest) {
    b.billed_seconds = BusySeconds(r.start_ms, r.busy).billed_seconds(end_ms);
  } else {
    b.billed_seconds = ceil_div(b.run_ms, 1000);
  }
  b.vcpu_millis = billed_vcpu_millis(r);
  constexpr std::int64_t kMiB = 1 << 20;
  b.memory_mib = ceil_div(static_cast<std::int64_t>(billed_memory_bytes(r)), kMiB);
  b.vcpu_milli_seconds = b.vcpu_millis * b.billed_seconds;
  b.memory_mib_seconds = b.memory_mib * b.billed_seconds;
  b.requests = r.measured.requests;
  const Prices& p = r.prices;
  b.cpu_cost = mul_div_round(b.vcpu_milli_seconds, p.vcpu_second, 1000);
  b.memory_cost = mul_div_round(b.memory_mib_seconds, p.gib_second, 1024);
  b.request_cost = r.billable ? mul_div_round(static_cast<std::int64_t>(b.requests),
                                              p.million_requests, 1'000'000)
                              : 0;
  b.cost = b.cpu_cost + b.memory_cost + b.request_cost;
  return b;
}

std::int64_t floor_div(std::int64_t v, std::int64_t unit) {
  return v >= 0 ? v / unit : -((-v + unit - 1) / unit);
}

// Floor division: times before 1970 are not billed, but stay well-defined.
std::int64_t day_of(std::int64_t unix_ms) { return floor_div(unix_ms, kMsPerDay); }
std::int64_t hour_of(std::int64_t unix_ms) { return floor_div(unix_ms, kMsPerHour); }

std::string day_name(std::int64_t day) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

}  // namespace svc::billing
