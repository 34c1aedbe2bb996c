#pragma once
// Node.Info: the host's probed facts plus what the daemon knows of itself.
#include <chrono>
#include <functional>
#include <string>

#include "api/server/dispatcher.hpp"
#include "isolation/host_probe.hpp"

namespace svc::api {

struct NodeStatus {
  std::string node_id;
  std::string state_dir;
  std::string run_dir;
  std::int64_t allocatable_cpu_millis = 0;
  std::uint64_t allocatable_memory_bytes = 0;
  std::chrono::system_clock::time_point started_at;
  int running_tasks = 0;
  int running_instances = 0;
  // The admission ledger (scheduler::Capacity): requests are admitted against
  // admittable = allocatable CPU x cpu_overcommit and the allocatable memory.
  std::int64_t admittable_cpu_millis = 0;
  double cpu_overcommit = 1.0;
  std::int64_t requested_cpu_millis = 0;
  std::uint64_t requested_memory_bytes = 0;
  std::int64_t limited_cpu_millis = 0;
  std::uint64_t limited_memory_bytes = 0;
  int without_cpu_limit = 0;
  int admitted = 0;
  std::int64_t free_cpu_millis = 0;
  std::uint64_t free_memory_bytes = 0;
  std::int64_t default_cpu_request_millis = 0;
  std::uint64_t default_memory_request_bytes = 0;
  std::uint64_t default_memory_limit_bytes = 0;
};

void register_node_service(Dispatcher& dispatcher, isolation::HostFacts host,
                           std::function<NodeStatus()> status);

}  // namespace svc::api
