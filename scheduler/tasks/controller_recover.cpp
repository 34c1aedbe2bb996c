// TaskController::recover: after svcd (re)starts, the recorded tasks are matched with the
// sandboxes that still exist: re-adopted, finished, or started again.
#include "scheduler/tasks/controller.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace svc::scheduler {

// ---- recovery -------------------------------------------------------------------------------

Result<> TaskController::recover(bool node_rebooted) {
  auto stored = SVC_TRY_CTX(store_.load_all(), "load tasks");
  std::map<std::string, SandboxInfo> sandboxes;
  if (auto list = runtime_.list(); list) {
    for (auto& s : *list) sandboxes.emplace(s.id, s);
  } else {
    spdlog::error("tasks: cannot list sandboxes: {}", list.error().message());
  }
  std::vector<std::string> to_start, to_watch;
  std::vector<std::pair<std::string, ExitInfo>> exited;
  {
    Lock lock(mu_);
    std::sort(stored.begin(), stored.end(),
              [](const Task& a, const Task& b) { return a.created_at < b.created_at; });
    for (Task& t : stored) {
      Entry& e = tasks_[t.id];
      e.recorded = t;
      e.task = std::move(t);
    }
    // What recovery finds has happened (or is decided) whatever the store says: kKeep.
    const auto keep = Unrecorded::kKeep;
    for (auto& [id, e] : tasks_) {
      Task& t = e.task;
      Task before = t;
      auto sb = sandboxes.find(id);
      switch (t.state) {
        case TaskState::kStopped:
          e.launched = sb != sandboxes.end();
          if (t.spec.auto_remove) arm_auto_remove_locked(e);
          break;
        case TaskState::kPending:
        case TaskState::kPulling:
          // Not launched yet: start again (a pull resumes from the blobs already fetched).
          t.state = TaskState::kPending;
          t.pulling_at.reset();
          if (!t.queued_reason.empty()) {
            queue_.push_back(id);
          } else {
            readopt_reservation_locked(e);
            to_start.push_back(id);
          }
          (void)record_locked(e, before, {}, keep);
          break;
        case TaskState::kStarting:
        case TaskState::kRunning:
        case TaskState::kStopping: {
          if (sb == sandboxes.end()) {
            if (t.state == TaskState::kStarting) {
              // svcd died before the sandbox existed: start it again.
              t.state = TaskState::kPending;
              t.starting_at.reset();
              t.pulling_at.reset();
              (void)record_locked(e, before, {}, keep);
              readopt_reservation_locked(e);
              to_start.push_back(id);
            } else {
              (void)finish_locked(e, node_rebooted ? reason::kNodeShutdown : reason::kLost,
                                  node_rebooted
                                      ? "the node restarted while the task ran"
                                      : "its sandbox is gone: it vanished while svcd was down",
                                  keep);
            }
            break;
          }
          e.launched = true;
          const SandboxInfo& info = sb->second;
          if (info.pid) t.pid = info.pid;
          if (info.status == SandboxInfo::Status::kRunning) {
            readopt_reservation_locked(e);
            if (t.state == TaskState::kStarting)
              (void)set_state_locked(e, TaskState::kRunning, "re-adopted after svcd restarted",
                                     keep);
            arm_timeout_locked(e);
            to_watch.push_back(id);
          } else if (info.status == SandboxInfo::Status::kExited && info.exit) {
            readopt_reservation_locked(e);  // on_exit below releases it
            exited.emplace_back(id, *info.exit);
          } else {
            (void)finish_locked(e, node_rebooted ? reason::kNodeShutdown : reason::kLost,
                                node_rebooted ? "the node restarted while the task ran"
                                              : "its sandbox's shim vanished while svcd was down",
                                keep);
          }
          break;
        }
      }
    }
    // Sandboxes of no task are not ours to decide on: svcd removes them after recovery
    // (TaskSystem, Runtime::remove_orphans).
  }
  for (auto& [id, info] : exited) on_exit(id, info);
  for (const auto& id : to_watch) {
    auto r = runtime_.watch(id, [this, id](ExitInfo info) { on_exit(id, info); });
    if (!r) spdlog::error("tasks: cannot watch re-adopted task {}: {}", id, r.error().message());
  }
  for (const auto& id : to_start) start_async(id);
  {
    Lock lock(mu_);
    drain_queue_locked();
  }
  spdlog::info(
      "tasks: recovered {} task(s): {} re-adopted running, {} finished while svcd was "
      "down, {} restarted",
      stored.size(), to_watch.size(), exited.size(), to_start.size());
  return {};
}

}  // namespace svc::scheduler
