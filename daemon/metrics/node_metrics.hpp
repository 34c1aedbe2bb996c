#pragma once
// The daemon's own series in the metrics registry (common/metrics.hpp): what svcd is, the node's
// capacity and what is reserved of it, and tasks by state. Collectors read the node's Capacity
// ledger (tasks and service instances) and the task controller at scrape time, so the figures
// are their own, never a copy that drifts.
//
// The registry keeps the functions registered here; the ledger and the controller must outlive
// every scrape (svcd stops its API server before the task system).
#include <chrono>
#include <cstdint>

#include "common/metrics.hpp"

namespace svc::scheduler {
class Capacity;
class TaskController;
}  // namespace svc::scheduler

namespace svc::daemon {

struct NodeMetricsSources {
  std::chrono::system_clock::time_point started_at{};
  std::int64_t allocatable_cpu_millis = 0;
  std::uint64_t allocatable_memory_bytes = 0;
  const scheduler::Capacity* capacity = nullptr;  // the ledger tasks and instances share
  const scheduler::TaskController* tasks = nullptr;
};

// svc_build_info, svc_start_time_seconds, svc_uptime_seconds, svc_node_allocatable_*,
// svc_node_requested_*, svc_tasks{state}.
void register_node_metrics(metrics::Registry& registry, const NodeMetricsSources& sources);

}  // namespace svc::daemon
