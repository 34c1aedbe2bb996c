#pragma once
// Everything that runs tasks, built and owned together: the sandbox runtime (cgroup driver,
// seccomp compiler, uid pool, exit monitor), the adapters that make it and the image service
// the task controller's ports, the executor, and the controller itself.
//
// Owns them all; destroyed in reverse order of construction after shutdown(). Sandboxes outlive
// it: their shims keep running and a new TaskSystem re-adopts them.
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/fd.hpp"
#include "daemon/config.hpp"
#include "isolation/host_probe.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::images {
class ImageService;
}
namespace svc::isolation {
class CgroupDriver;
class ExitMonitor;
class Runtime;
class UidPool;
namespace seccomp {
class Compiler;
}
}  // namespace svc::isolation
namespace svc::scheduler {
class ThreadPoolExecutor;
}
namespace svc::billing {
class TaskUsageRecorder;
}

namespace svc::daemon {

class Store;
class SqlTaskStore;
class ImageSourceAdapter;
class TaskRuntimeAdapter;
class LogSourceAdapter;

class TaskSystem {
 public:
  struct Options {
    std::filesystem::path state_dir;
    scheduler::Capacity* capacity = nullptr;  // the node's ledger (the Daemon owns it)
    scheduler::ResourceDefaults defaults = scheduler::default_resource_defaults();
    unsigned workers = 8;             // concurrent starts (quick steps: records, launches)
    unsigned pull_workers = 8;        // concurrent pulls, apart: a slow registry holds only these
    std::string cgroup_base = "svc";  // claimed for this svcd alone (cgroup_tree.hpp)
    std::string shim_cgroup = "svc-shims";
    std::uint64_t uid_base = 1'000'000'000;
    // Bridge networking ([network]): who a bridge task reaches, and its nameservers.
    bool bridge_reach_host = false;
    bool bridge_reach_each_other = false;
    std::vector<std::string> dns;
    // Cgroups under the node's base that are not tasks' (the service instances' parent): never
    // removed as orphans.
    std::set<std::string> other_cgroups;
    // Opens and closes each run's usage record in the task's own store transactions.
    billing::TaskUsageRecorder* usage = nullptr;
  };
  static Result<std::unique_ptr<TaskSystem>> start(const Options& options,
                                                   const isolation::HostFacts& host, Store& store,
                                                   images::ImageService& images,
                                                   const Clock& clock);
  ~TaskSystem();

  scheduler::TaskController& tasks() { return *controller_; }
  scheduler::LogSource& logs();
  isolation::Runtime& runtime() { return *runtime_; }
  // Shared with the service instances' runtime (one uid pool, one seccomp cache per node).
  isolation::CgroupDriver& cgroups() { return *cgroups_; }
  isolation::seccomp::Compiler& seccomp() { return *seccomp_; }
  isolation::UidPool& uid_pool() { return *uid_pool_; }
  void shutdown();

 private:
  TaskSystem() = default;
  void remove_cgroup_trees();
  void remove_bridge_if_unused();

  // The flock on the sandboxes' cgroup tree: while it is held no other svcd uses the tree, and
  // only then does this one remove the trees when it stops. Released last.
  UniqueFd cgroup_claim_;
  std::string cgroup_base_;
  std::string shim_cgroup_;
  std::unique_ptr<isolation::CgroupDriver> cgroups_;
  std::unique_ptr<isolation::seccomp::Compiler> seccomp_;
  std::unique_ptr<isolation::UidPool> uid_pool_;
  std::unique_ptr<isolation::Runtime> runtime_;
  std::unique_ptr<isolation::ExitMonitor> monitor_;
  std::unique_ptr<scheduler::ThreadPoolExecutor> executor_;
  std::unique_ptr<scheduler::ThreadPoolExecutor> pulls_;
  std::unique_ptr<SqlTaskStore> task_store_;
  std::unique_ptr<ImageSourceAdapter> image_source_;
  std::unique_ptr<TaskRuntimeAdapter> task_runtime_;
  std::unique_ptr<LogSourceAdapter> logs_;
  std::unique_ptr<scheduler::TaskController> controller_;
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id): it changes at every boot.
std::string read_boot_id();

}  // namespace svc::daemon
