#pragma once
// The resource model shared by tasks and service instances, as Kubernetes splits it: what a
// sandbox *requests* (admission counts it against the node's Capacity) is apart from what its
// cgroup *limits* it to. --cpu and --memory are hard limits and equal requests; without them a
// sandbox requests the node's small defaults ([node] config) and may use idle CPU.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "scheduler/capacity.hpp"

namespace svc::scheduler {

struct Resources {
  std::int64_t cpu_request_millis = 0;
  // 0: no CFS quota; the sandbox may use idle CPU, weighted by its request under contention.
  std::int64_t cpu_limit_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;  // always set once resolved (swap off)
  std::int64_t pids = 0;

  Amount request() const { return Amount{cpu_request_millis, memory_request_bytes}; }
  // What the cgroup enforces (0 cpu: no quota).
  Amount limit() const { return Amount{cpu_limit_millis, memory_limit_bytes}; }
  bool operator==(const Resources&) const = default;
};

// The node's defaults for a sandbox that asks for nothing ([node] keys in svcd.toml).
struct ResourceDefaults {
  std::int64_t cpu_request_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;
  std::int64_t pids = 0;
};

// What a user asked for (0 = not given) resolved against the node's defaults.
inline Resources resolve_resources(std::int64_t cpu_millis, std::uint64_t memory_bytes,
                                   std::int64_t pids, const ResourceDefaults& d) {
  Resources r;
  if (cpu_millis > 0) {
    r.cpu_request_millis = cpu_millis;
    r.cpu_limit_millis = cpu_millis;
  } else {
    r.cpu_request_millis = d.cpu_request_millis;
  }
  if (memory_bytes > 0) {
    r.memory_request_bytes = memory_bytes;
    r.memory_limit_bytes = memory_bytes;
  } else {
    r.memory_request_bytes = d.memory_request_bytes;
    r.memory_limit_bytes = d.memory_limit_bytes;
  }
  r.pids = pids > 0 ? pids : d.pids;
  return r;
}

// (Added for tasks; services may use it too.) What an API caller may ask for: either the
// docker-style single amounts (cpu_millis / memory_bytes: limit and request at once), or a
// request and a limit apart, Kubernetes-style. 0 = not given.
struct ResourceAsk {
  std::int64_t cpu_millis = 0;
  std::uint64_t memory_bytes = 0;
  std::int64_t pids = 0;
  std::int64_t cpu_request_millis = 0;
  std::int64_t cpu_limit_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;
  bool operator==(const ResourceAsk&) const = default;
};

// Resolves an ask against the node's defaults, as Kubernetes does: a limit without a request
// requests the limit; a request without a limit gets no CPU quota and the default memory limit
// (raised to the request when the request is larger). The error (a field name as the API spells
// it, below `prefix`, and what to change) when the ask contradicts itself.
inline std::optional<std::string> check_ask(const ResourceAsk& a, const std::string& prefix) {
  if (a.cpu_millis > 0 && (a.cpu_request_millis > 0 || a.cpu_limit_millis > 0))
    return prefix +
           ".cpuMillis: give either cpuMillis (request and limit at once) or cpuRequestMillis / "
           "cpuLimitMillis, not both";
  if (a.memory_bytes > 0 && (a.memory_request_bytes > 0 || a.memory_limit_bytes > 0))
    return prefix +
           ".memoryBytes: give either memoryBytes (request and limit at once) or "
           "memoryRequestBytes / memoryLimitBytes, not both";
  if (a.cpu_request_millis < 0 || a.cpu_limit_millis < 0)
    return prefix + ".cpuRequestMillis: must not be negative";
  if (a.cpu_limit_millis > 0 && a.cpu_request_millis > a.cpu_limit_millis)
    return prefix + ".cpuRequestMillis: more than cpuLimitMillis (a request is at most its limit)";
  if (a.memory_limit_bytes > 0 && a.memory_request_bytes > a.memory_limit_bytes)
    return prefix +
           ".memoryRequestBytes: more than memoryLimitBytes (a request is at most its limit)";
  return std::nullopt;
}

inline Resources resolve_resources(const ResourceAsk& a, const ResourceDefaults& d) {
  Resources r = resolve_resources(a.cpu_millis, a.memory_bytes, a.pids, d);
  if (a.cpu_millis == 0 && (a.cpu_request_millis > 0 || a.cpu_limit_millis > 0)) {
    r.cpu_limit_millis = a.cpu_limit_millis;
    r.cpu_request_millis = a.cpu_request_millis > 0 ? a.cpu_request_millis : a.cpu_limit_millis;
  }
  if (a.memory_bytes == 0 && (a.memory_request_bytes > 0 || a.memory_limit_bytes > 0)) {
    r.memory_request_bytes =
        a.memory_request_bytes > 0 ? a.memory_request_bytes : a.memory_limit_bytes;
    r.memory_limit_bytes = a.memory_limit_bytes > 0
                               ? a.memory_limit_bytes
                               : std::max(d.memory_limit_bytes, a.memory_request_bytes);
  }
  return r;
}

// The cgroup v1 cpu.shares a CPU request maps to (1 vCPU = 1024, as Kubernetes and Docker),
// at least the kernel's minimum of 2 (kernel/sched/sched.h MIN_SHARES). cgroup v2 drivers
// convert shares to cpu.weight.
inline std::uint64_t cpu_shares_for(std::int64_t cpu_request_millis) {
  if (cpu_request_millis <= 0) return 2;
  std::uint64_t shares = static_cast<std::uint64_t>(cpu_request_millis) * 1024 / 1000;
  return std::clamp<std::uint64_t>(shares, 2, 262'144);
}

}  // namespace svc::scheduler
