// TaskController: recording state changes in the store before anyone hears of them, and what
// happens when the store cannot write (controller.hpp, Unrecorded).
#include "scheduler/tasks/controller.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace svc::scheduler {

// ---- state changes --------------------------------------------------------------------------

TaskEvent TaskController::event_for(const Task& task, std::string message) const {
  TaskEvent ev;
  ev.time = clock_.now();
  ev.task_id = task.id;
  ev.task_name = task.spec.name;
  ev.state = task.state;
  ev.exit_code = task.exit_code;
  ev.stop_reason = task.stop_reason;
  ev.message = std::move(message);
  return ev;
}

Result<> TaskController::record_locked(Entry& e, const Task& before, std::string message,
                                       Unrecorded mode) {
  auto written = store_.update(e.task);
  if (written) {
    if (!message.empty()) e.unpublished.push_back(event_for(e.task, std::move(message)));
    recorded_locked(e);
    return {};
  }
  Error err = std::move(written).error().context(
      fmt::format("record task {} as {}", e.task.id, state_name(e.task.state)));
  if (mode == Unrecorded::kUndo) {
    e.task = before;
    return tl::unexpected(std::move(err));
  }
  e.behind = true;
  if (!message.empty()) e.unpublished.push_back(event_for(e.task, std::move(message)));
  spdlog::error("tasks: {}; readers see it as {} until a retry records it", err.message(),
                state_name(e.recorded.state));
  arm_record_retry_locked(e);
  return tl::unexpected(std::move(err));
}

void TaskController::recorded_locked(Entry& e) {
  e.recorded = e.task;
  e.behind = false;
  e.retry_backoff = Millis(0);
  if (e.record_timer) executor_.cancel(e.record_timer);
  e.record_timer = 0;
  // In order, each with the time it happened (not when it was recorded).
  for (auto& ev : e.unpublished) events_.publish(std::move(ev));
  e.unpublished.clear();
  changed_.notify_all();
}

Millis TaskController::next_backoff_locked(Entry& e) {
  // 0.5 s, doubling to 30 s: a full disk or a read-only remount is not fixed in milliseconds.
  e.retry_backoff =
      e.retry_backoff.count() == 0 ? Millis(500) : std::min(e.retry_backoff * 2, Millis(30'000));
  return e.retry_backoff;
}

void TaskController::arm_record_retry_locked(Entry& e) {
  if (e.record_timer || shutting_down_) return;
  std::string id = e.task.id;
  e.record_timer = executor_.schedule(clock_.steady_now() + next_backoff_locked(e),
                                      [this, id] { retry_record(id); });
}

void TaskController::retry_record(const std::string& id) {
  Lock lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Entry& e = it->second;
  e.record_timer = 0;
  if (!e.behind || shutting_down_) return;
  if (auto r = store_.update(e.task); !r) {
    spdlog::error("tasks: record task {} as {} (retry): {}", id, state_name(e.task.state),
                  r.error().message());
    arm_record_retry_locked(e);
    return;
  }
  spdlog::info("tasks: task {} recorded as {} after the store recovered", id,
               state_name(e.task.state));
  recorded_locked(e);
}

void TaskController::retry_start_locked(Entry& e) {
  if (e.start_timer || shutting_down_) return;
  std::string id = e.task.id;
  e.retry_start = true;
  e.start_timer = executor_.schedule(clock_.steady_now() + next_backoff_locked(e), [this, id] {
    {
      Lock lock(mu_);
      auto it = tasks_.find(id);
      if (it == tasks_.end()) return;
      it->second.start_timer = 0;
    }
    start_task(id);
  });
}

Result<> TaskController::set_state_locked(Entry& e, TaskState state, std::string message,
                                          Unrecorded mode) {
  Task before = e.task;
  Task& t = e.task;
  t.state = state;
  TimePoint now = clock_.now();
  switch (state) {
    case TaskState::kPending:
      break;
    case TaskState::kPulling:
      t.pulling_at = now;
      break;
    case TaskState::kStarting:
      t.starting_at = now;
      break;
    case TaskState::kRunning:
      if (!t.running_at) t.running_at = now;
      break;
    case TaskState::kStopping:
      t.stopping_at = now;
      break;
    case TaskState::kStopped:
      if (!t.stopped_at) t.stopped_at = now;
      break;
  }
  return record_locked(e, before, std::move(message), mode);
}

Result<> TaskController::finish_locked(Entry& e, std::string_view reason, std::string message,
                                       Unrecorded mode) {
  Task before = e.task;
  e.task.stop_reason = std::string(reason);
  e.task.stop_message = message;
  e.task.queued_reason.clear();
  auto r = set_state_locked(e, TaskState::kStopped, std::move(message), mode);
  if (!r && mode == Unrecorded::kUndo) {
    e.task = before;
    return r;
  }
  // Stopped as it is (recorded, or kept for a retry): nothing of it runs any more.
  if (e.timeout_timer) executor_.cancel(e.timeout_timer);
  e.timeout_timer = 0;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), e.task.id), queue_.end());
  release_capacity_locked(e);
  arm_auto_remove_locked(e);
  return r;
}

}  // namespace svc::scheduler
