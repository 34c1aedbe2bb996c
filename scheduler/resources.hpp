#pragma once
// The resource model shared by tasks and service instances, as Kubernetes splits it: what a
// sandbox *requests* (admission counts it against the node's Capacity) is apart from what its
// cgroup *limits* it to. --cpu and --memory are hard limits and equal requests; without them a
// sandbox requests the node's small defaults ([node] config) and may use idle CPU.
#include <cstdint>

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

}  // namespace svc::scheduler
