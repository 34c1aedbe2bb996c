#include "daemon/task_system.hpp"

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "daemon/adapters/image_source.hpp"
#include "daemon/adapters/log_source.hpp"
#include "daemon/adapters/task_runtime.hpp"
#include "daemon/store/task_store.hpp"
#include "images/image_service.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/exit_monitor.hpp"
#include "isolation/runtime.hpp"
#include "isolation/seccomp/seccomp.hpp"
#include "isolation/shim_locator.hpp"
#include "isolation/uid_pool.hpp"
#include "scheduler/executor.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

std::string read_boot_id() {
  auto text = read_file("/proc/sys/kernel/random/boot_id");
  if (!text) return {};
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

Result<std::unique_ptr<TaskSystem>> TaskSystem::start(const Options& options,
                                                      const isolation::HostFacts& host,
                                                      Store& store, images::ImageService& images,
                                                      const Clock& clock) {
  std::unique_ptr<TaskSystem> t(new TaskSystem());
  fs::path sandboxes = options.state_dir / "tasks";
  SVC_TRY(make_dirs(sandboxes, 0711));
  t->cgroups_ =
      SVC_TRY_CTX(isolation::make_cgroup_driver(host.cgroup, options.cgroup_base), "cgroups");
  t->seccomp_ = std::make_unique<isolation::seccomp::Compiler>(options.state_dir / "seccomp");
  isolation::UidPool::Options pool;
  pool.file = options.state_dir / "uid-ranges";
  pool.base = static_cast<std::uint32_t>(options.uid_base);
  t->uid_pool_ = std::make_unique<isolation::UidPool>(pool);
  isolation::RuntimeOptions ro;
  ro.state_dir = sandboxes;
  ro.shim_path = isolation::find_shim();
  ro.shim_cgroup = options.shim_cgroup;
  t->runtime_ = std::make_unique<isolation::Runtime>(ro, *t->cgroups_, *t->seccomp_, *t->uid_pool_);
  t->monitor_ = std::make_unique<isolation::ExitMonitor>();
  t->executor_ = std::make_unique<scheduler::ThreadPoolExecutor>(options.workers);
  t->task_store_ = std::make_unique<SqlTaskStore>(store);
  t->image_source_ = std::make_unique<ImageSourceAdapter>(images);
  t->task_runtime_ = std::make_unique<TaskRuntimeAdapter>(*t->runtime_, *t->monitor_);
  isolation::Runtime* runtime = t->runtime_.get();
  t->logs_ = std::make_unique<LogSourceAdapter>(
      [runtime](const std::string& id) { return runtime->sandbox_dir(id); });
  scheduler::TaskController::Options co;
  co.defaults = options.defaults;
  if (!options.capacity) return fail(Code::kInternal, "tasks: no capacity ledger given");
  t->controller_ = std::make_unique<scheduler::TaskController>(*t->task_store_, *t->image_source_,
                                                               *t->task_runtime_, *t->executor_,
                                                               clock, *options.capacity, co);

  // A changed boot id means the machine restarted: no sandbox of before can still run.
  std::string boot_id = read_boot_id();
  auto last_boot = SVC_TRY(store.get_meta("boot_id"));
  bool rebooted = last_boot && !boot_id.empty() && *last_boot != boot_id;
  SVC_TRY(t->controller_->recover(rebooted));
  if (!boot_id.empty()) SVC_TRY(store.put_meta("boot_id", boot_id));
  spdlog::info("tasks: sandboxes in {}, shim {}", sandboxes.string(), ro.shim_path.string());
  return t;
}

scheduler::LogSource& TaskSystem::logs() { return *logs_; }

void TaskSystem::shutdown() {
  if (controller_) controller_->shutdown();
  if (executor_) executor_->shutdown();
}

TaskSystem::~TaskSystem() {
  shutdown();
  // The monitor's thread calls into the controller: stop it first.
  monitor_.reset();
  controller_.reset();
}

}  // namespace svc::daemon
