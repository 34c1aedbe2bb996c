#pragma once
// Node.Info: the host's probed facts plus what the daemon knows of itself. Both come as plain
// records the daemon fills (daemon/adapters/api_node.*), so the API links nothing of isolation/.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/server/dispatcher.hpp"

namespace svc::api {

// What the host's kernel lets a sandbox use, as svcd probed it at start.
struct NodeHost {
  struct Feature {
    bool usable = false;
    std::string detail;
  };
  struct Controller {
    std::string name;
    std::string version;  // "v1" or "v2"
    bool usable = false;
  };
  enum class CgroupMode { kUnknown, kV1, kV2, kHybrid };

  std::string hostname;
  std::string os;
  std::string kernel;
  std::string architecture;
  int cpus = 0;
  std::uint64_t memory_bytes = 0;
  CgroupMode cgroup_mode = CgroupMode::kUnknown;
  std::string cgroup_root;
  std::string cgroup_driver;
  std::vector<Controller> controllers;
  Feature user_namespaces;
  Feature overlayfs;
  Feature seccomp;
  Feature idmapped_mounts;
  bool kvm_device_present = false;
  std::string kvm_flavour;
  bool kvm_usable_for_vms = false;
  std::string kvm_detail;
};

struct NodeStatus {
  std::string node_id;
  std::string state_dir;
  std::string run_dir;
  std::int64_t allocatable_cpu_millis = 0;
  std::uint64_t allocatable_memory_bytes = 0;
  std::chrono::system_clock::time_point started_at;
  int running_tasks = 0;
  int running_instances = 0;
  std::string ingress_address;  // "127.0.0.1:8080" as bound; "" when the ingress is off
  std::string ingress_domain;
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
  std::string draining;  // why admission is closed; "" when open
};

// Node.Drain and Node.Resume, done by the daemon (daemon/node_drain.hpp).
class NodeControl {
 public:
  struct Drained {
    int tasks_stopped = 0;
    int instances_drained = 0;
    int still_running = 0;  // not ended when the wait was over
    std::chrono::milliseconds waited{0};
  };
  virtual ~NodeControl() = default;
  virtual Result<Drained> drain(std::chrono::milliseconds timeout) = 0;
  virtual void resume() = 0;
};

void register_node_service(Dispatcher& dispatcher, NodeHost host,
                           std::function<NodeStatus()> status, NodeControl& control);

}  // namespace svc::api
