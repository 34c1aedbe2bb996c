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
};

void register_node_service(Dispatcher& dispatcher, isolation::HostFacts host,
                           std::function<NodeStatus()> status);

}  // namespace svc::api
