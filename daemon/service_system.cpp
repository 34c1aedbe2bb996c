#include "daemon/service_system.hpp"

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "daemon/adapters/image_source.hpp"
#include "daemon/adapters/instance_network.hpp"
#include "daemon/adapters/task_runtime.hpp"
#include "daemon/service_logs.hpp"
#include "daemon/store/service_store.hpp"
#include "daemon/task_system.hpp"
#include "images/image_service.hpp"
#include "isolation/exit_monitor.hpp"
#include "isolation/runtime.hpp"
#include "isolation/shim_locator.hpp"
#include "scheduler/executor.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

Result<std::unique_ptr<ServiceSystem>> ServiceSystem::start(
    const Options& options, TaskSystem& tasks, Store& store, images::ImageService& images,
    scheduler::Capacity& capacity, const Clock& clock, const DataPlaneFactory& make_data_plane) {
  std::unique_ptr<ServiceSystem> s(new ServiceSystem());
  // Instances are sandboxes apart from tasks' (their own dir and cgroup parent), so neither
  // controller ever mistakes the other's sandboxes for its own orphans.
  fs::path sandboxes = options.state_dir / "instances";
  SVC_TRY(make_dirs(sandboxes, 0711));
  fs::path logs = options.state_dir / "services";
  SVC_TRY(make_dirs(logs, 0700));
  isolation::RuntimeOptions ro;
  ro.state_dir = sandboxes;
  ro.shim_path = isolation::find_shim();
  ro.cgroup_parent = kCgroupParent;
  ro.shim_cgroup = options.shim_cgroup;
  // The tasks' bridge, address file and all: one bridge per node, so a bridge instance never
  // gets an address a task holds.
  ro.bridge = tasks.runtime().options().bridge;
  s->runtime_ =
      std::make_unique<isolation::Runtime>(ro, tasks.cgroups(), tasks.seccomp(), tasks.uid_pool());
  s->monitor_ = std::make_unique<isolation::ExitMonitor>();
  s->executor_ = std::make_unique<scheduler::ThreadPoolExecutor>(options.workers);
  s->store_ = std::make_unique<SqlServiceStore>(store, options.usage);
  s->image_source_ = std::make_unique<ImageSourceAdapter>(images);
  TaskRuntimeAdapter::Dns dns;
  dns.nameservers = options.dns;
  s->task_runtime_ = std::make_unique<TaskRuntimeAdapter>(*s->runtime_, *s->monitor_, dns);
  s->network_ = std::make_unique<InstanceNetworkAdapter>(*s->runtime_);
  isolation::Runtime* runtime = s->runtime_.get();
  s->logs_ = std::make_unique<FileServiceLogs>(
      logs, [runtime](const std::string& id) { return runtime->sandbox_dir(id); });
  services::ServiceController::Options co;
  co.resources = options.resources;
  s->controller_ = std::make_unique<services::ServiceController>(
      *s->store_, *s->image_source_, *s->task_runtime_, *s->executor_, capacity, *s->network_,
      *s->logs_, clock, co);
  if (make_data_plane) {
    s->data_plane_ = SVC_TRY_CTX(make_data_plane(*s->controller_), "ingress");
    s->controller_->attach(*s->data_plane_);
  }
  // Re-adopts what runs even without a data plane (nothing routes to them then, but nothing
  // that runs is lost either).
  SVC_TRY(s->controller_->recover(false));
  s->controller_->start();
  spdlog::info("services: instance sandboxes in {}, logs in {}", sandboxes.string(), logs.string());
  return s;
}

void ServiceSystem::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (controller_) controller_->shutdown();
  if (executor_) executor_->shutdown();
}

ServiceSystem::~ServiceSystem() {
  shutdown();
  // The data plane's threads call the controller: they go first.
  data_plane_.reset();
  // The monitor's thread posts exits to the controller's executor (already shut down).
  monitor_.reset();
  controller_.reset();
  logs_.reset();
}

}  // namespace svc::daemon
