#include "daemon/task_system.hpp"

#include <sys/stat.h>

#include <charconv>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "daemon/adapters/image_source.hpp"
#include "daemon/adapters/log_source.hpp"
#include "daemon/adapters/task_runtime.hpp"
#include "daemon/billing/task_recorder.hpp"
#include "daemon/store/task_store.hpp"
#include "images/image_service.hpp"
#include "isolation/bridge.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_tree.hpp"
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
  // Private as the state dir: each sandbox's own dir stays 0711 for its process (runtime.cpp).
  SVC_TRY(make_dirs(sandboxes, 0700));
  if (::chmod(sandboxes.c_str(), 0700) != 0)
    return fail_errno(fmt::format("make {} private (chmod 0700)", sandboxes.string()));
  t->cgroups_ =
      SVC_TRY_CTX(isolation::make_cgroup_driver(host.cgroup, options.cgroup_base), "cgroups");
  // Before anything looks at the tree (recover() cleans orphans in it): ours alone.
  t->cgroup_claim_ = SVC_TRY_CTX(
      isolation::claim_cgroup_tree(isolation::cgroup_mounts(), options.cgroup_base), "cgroups");
  t->cgroup_base_ = options.cgroup_base;
  t->shim_cgroup_ = options.shim_cgroup;
  t->seccomp_ = std::make_unique<isolation::seccomp::Compiler>(options.state_dir / "seccomp");
  isolation::UidPool::Options pool;
  pool.file = options.state_dir / "uid-ranges";
  pool.base = static_cast<std::uint32_t>(options.uid_base);
  t->uid_pool_ = std::make_unique<isolation::UidPool>(pool);
  isolation::RuntimeOptions ro;
  ro.state_dir = sandboxes;
  ro.shim_path = isolation::find_shim();
  ro.shim_cgroup = options.shim_cgroup;
  ro.bridge.reach_host = options.bridge_reach_host;
  ro.bridge.reach_each_other = options.bridge_reach_each_other;
  t->runtime_ = std::make_unique<isolation::Runtime>(ro, *t->cgroups_, *t->seccomp_, *t->uid_pool_);
  t->monitor_ = std::make_unique<isolation::ExitMonitor>();
  t->executor_ = std::make_unique<scheduler::ThreadPoolExecutor>(options.workers);
  t->pulls_ = std::make_unique<scheduler::ThreadPoolExecutor>(options.pull_workers);
  t->task_store_ = std::make_unique<SqlTaskStore>(store, options.usage);
  t->image_source_ = std::make_unique<ImageSourceAdapter>(images);
  TaskRuntimeAdapter::Dns dns;
  dns.nameservers = options.dns;
  t->task_runtime_ = std::make_unique<TaskRuntimeAdapter>(*t->runtime_, *t->monitor_, dns,
                                                          isolation::find_init());
  isolation::Runtime* runtime = t->runtime_.get();
  t->logs_ = std::make_unique<LogSourceAdapter>(
      [runtime](const std::string& id) { return runtime->sandbox_dir(id); });
  scheduler::TaskController::Options co;
  co.defaults = options.defaults;
  co.pulls = t->pulls_.get();
  // Event sequences go on from where the last svcd's reservation ended, so a number is never
  // handed out twice (a crash skips at most one block).
  auto next_seq = SVC_TRY_CTX(store.get_meta("event_seq_next"), "event sequence");
  if (next_seq) {
    std::uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(next_seq->data(), next_seq->data() + next_seq->size(), parsed);
    if (ec != std::errc() || end != next_seq->data() + next_seq->size())
      return fail(Code::kDataLoss,
                  "svcd.db: meta event_seq_next is \"{}\", not a number: delete that row to "
                  "start the event sequence again",
                  *next_seq);
    co.events.first_seq = parsed;
  }
  co.events.reserve = [&store](std::uint64_t upto) {
    if (auto r = store.put_meta("event_seq_next", std::to_string(upto)); !r)
      spdlog::error("events: could not record the sequence high-water mark {}: {}", upto,
                    r.error().message());
  };
  if (!options.capacity) return fail(Code::kInternal, "tasks: no capacity ledger given");
  t->controller_ = std::make_unique<scheduler::TaskController>(*t->task_store_, *t->image_source_,
                                                               *t->task_runtime_, *t->executor_,
                                                               clock, *options.capacity, co);

  // A changed boot id means the machine restarted: no sandbox of before can still run.
  std::string boot_id = read_boot_id();
  auto last_boot = SVC_TRY(store.get_meta("boot_id"));
  bool rebooted = last_boot && !boot_id.empty() && *last_boot != boot_id;
  // A run found lost while recovering ended unseen, while svcd was down (its usage record
  // closes at its last checkpoint).
  if (options.usage) options.usage->set_recovering(true);
  auto recovered = t->controller_->recover(rebooted);
  if (options.usage) options.usage->set_recovering(false);
  SVC_TRY(std::move(recovered));
  // What no task owns (a removal cut short by a crash, a create that died half-way) is cleaned
  // now, while nothing else runs: its processes, cgroup, veth, id range and dir.
  std::set<std::string> keep = t->controller_->task_ids();
  keep.insert(options.other_cgroups.begin(), options.other_cgroups.end());
  auto orphans = t->runtime_->remove_orphans(keep);
  if (!orphans.sandboxes.empty())
    spdlog::warn("tasks: removed {} sandbox(es) that belonged to no task: {}",
                 orphans.sandboxes.size(), fmt::join(orphans.sandboxes, ", "));
  if (!orphans.cgroups.empty())
    spdlog::warn("tasks: removed {} cgroup(s) of no sandbox: {}", orphans.cgroups.size(),
                 fmt::join(orphans.cgroups, ", "));
  if (!orphans.id_ranges.empty())
    spdlog::warn("tasks: released {} uid range(s) of no sandbox: {}", orphans.id_ranges.size(),
                 fmt::join(orphans.id_ranges, ", "));
  for (const auto& e : orphans.errors) spdlog::error("tasks: orphan clean-up: {}", e);
  if (!boot_id.empty()) SVC_TRY(store.put_meta("boot_id", boot_id));
  spdlog::info("tasks: sandboxes in {}, shim {}", sandboxes.string(), ro.shim_path.string());
  return t;
}

scheduler::LogSource& TaskSystem::logs() { return *logs_; }

void TaskSystem::shutdown() {
  if (controller_) controller_->shutdown();
  if (pulls_) pulls_->shutdown();
  if (executor_) executor_->shutdown();
}

TaskSystem::~TaskSystem() {
  shutdown();
  // The monitor's thread calls into the controller: stop it first.
  monitor_.reset();
  controller_.reset();
  remove_bridge_if_unused();
  remove_cgroup_trees();
}

void TaskSystem::remove_bridge_if_unused() {
  // Ours to remove only while we hold the node's claim (not another svcd's bridge); the bridge
  // and its nftables table go when no sandbox is attached, as the cgroups do.
  if (!cgroup_claim_ || !runtime_) return;
  const auto& bridge = runtime_->options().bridge;
  auto removed = isolation::remove_bridge_if_unused(bridge);
  if (!removed)
    spdlog::warn("network: remove bridge {}: {}", bridge.name, removed.error().message());
  else if (!*removed)
    spdlog::info("network: kept bridge {}: sandboxes are attached to it", bridge.name);
}

void TaskSystem::remove_cgroup_trees() {
  if (!cgroup_claim_) return;  // not ours (another svcd holds it), or never made
  // What runs keeps its cgroup (the kernel refuses to remove a cgroup with processes in it):
  // the next svcd re-adopts it. What no longer runs is not left behind for the host.
  auto mounts = isolation::cgroup_mounts();
  std::size_t left = 0;
  for (const std::string& name : {cgroup_base_, shim_cgroup_})
    left += isolation::remove_cgroup_tree(mounts, name).size();
  if (left == 0)
    spdlog::info("cgroups: removed {} and {}: nothing runs", cgroup_base_, shim_cgroup_);
  else
    spdlog::info("cgroups: kept {} cgroup(s) of {} and {} that hold running sandboxes", left,
                 cgroup_base_, shim_cgroup_);
  cgroup_claim_.reset();
}

}  // namespace svc::daemon
