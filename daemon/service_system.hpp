#pragma once
// Everything that runs services, built and owned together: a sandbox runtime of their own
// (<state>/instances, cgroups under "instances", sharing the task system's cgroup driver,
// seccomp cache and uid pool), an exit monitor, the adapters that make the modules the service
// controller's ports, the services' logs, an executor, the controller, and the data plane (the
// ingress proxy) it drives.
//
// Owns them all. Shutdown order matters because the controller and the data plane call each
// other: the controller stops deciding, the executor finishes what runs (it may still call the
// data plane), then the data plane goes (no more callbacks), then the controller. Instances
// outlive it: their shims keep them running and a new ServiceSystem re-adopts them.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "daemon/config.hpp"
#include "scheduler/capacity.hpp"
#include "scheduler/ingress/ports.hpp"
#include "scheduler/resources.hpp"
#include "scheduler/services/controller.hpp"

namespace svc::images {
class ImageService;
}
namespace svc::isolation {
class ExitMonitor;
class Runtime;
}  // namespace svc::isolation
namespace svc::scheduler {
class ThreadPoolExecutor;
}

namespace svc::daemon {

class Store;
class TaskSystem;
class SqlServiceStore;
class InstanceWriteListener;
class ImageSourceAdapter;
class TaskRuntimeAdapter;
class InstanceNetworkAdapter;
class FileServiceLogs;

class ServiceSystem {
 public:
  struct Options {
    std::filesystem::path state_dir;
    std::string shim_cgroup = "svc-shims";
    unsigned workers = 4;  // launches and stops at once
    scheduler::ResourceDefaults resources;
    std::vector<std::string> dns;  // [network] dns: the instances' resolv.conf, as tasks'
    // Written with each instance's own rows (its usage record: daemon/billing); not owned.
    InstanceWriteListener* usage = nullptr;
  };
  // The instances' cgroups, under the node's cgroup base beside the tasks' (which must not
  // take it for an orphan: TaskSystem::Options::other_cgroups).
  static constexpr const char* kCgroupParent = "instances";
  // Makes the data plane once the controller exists (the controller is its ControlPlane).
  // Empty: no ingress ([ingress] listen = ""): services can be neither deployed nor reached.
  using DataPlaneFactory =
      std::function<Result<std::unique_ptr<ingress::DataPlane>>(ingress::ControlPlane&)>;

  static Result<std::unique_ptr<ServiceSystem>> start(const Options& options, TaskSystem& tasks,
                                                      Store& store, images::ImageService& images,
                                                      scheduler::Capacity& capacity,
                                                      const Clock& clock,
                                                      const DataPlaneFactory& make_data_plane);
  ~ServiceSystem();

  services::ServiceController& controller() { return *controller_; }
  FileServiceLogs& logs() { return *logs_; }
  isolation::Runtime& runtime() { return *runtime_; }
  ingress::DataPlane* data_plane() { return data_plane_.get(); }
  void shutdown();

 private:
  ServiceSystem() = default;
  std::unique_ptr<isolation::Runtime> runtime_;
  std::unique_ptr<isolation::ExitMonitor> monitor_;
  std::unique_ptr<scheduler::ThreadPoolExecutor> executor_;
  std::unique_ptr<SqlServiceStore> store_;
  std::unique_ptr<ImageSourceAdapter> image_source_;
  std::unique_ptr<TaskRuntimeAdapter> task_runtime_;
  std::unique_ptr<InstanceNetworkAdapter> network_;
  std::unique_ptr<FileServiceLogs> logs_;
  std::unique_ptr<services::ServiceController> controller_;
  std::unique_ptr<ingress::DataPlane> data_plane_;
  bool shut_down_ = false;
};

}  // namespace svc::daemon
