#include "daemon/billing/task_recorder.hpp"

#include <cmath>

namespace svc::billing {

namespace sch = svc::scheduler;

UsageRecord TaskUsageRecorder::record_for(const sch::Task& t, const Policy& policy) {
  UsageRecord r;
  r.id = record_id(t.id);
  r.owner.kind = RunKind::kTask;
  r.owner.task_id = t.id;
  r.owner.name = t.spec.name;
  if (auto it = t.spec.labels.find(kScheduleLabel); it != t.spec.labels.end())
    r.owner.schedule = it->second;
  if (auto it = t.spec.labels.find(kTriggerLabel); it != t.spec.labels.end())
    r.owner.trigger = it->second;
  r.labels = t.spec.labels;
  r.start_ms = t.running_at ? unix_millis(*t.running_at) : unix_millis(t.created_at);
  // What admission resolved (scheduler/tasks/controller.cpp, before the task is stored): the
  // requests the task reserves, apart from the limits its cgroup enforces (cpu 0: no quota).
  r.cpu_request_millis = t.resources.cpu_request_millis;
  r.cpu_limit_millis = t.resources.cpu_limit_millis;
  r.memory_request_bytes = t.resources.memory_request_bytes;
  r.memory_limit_bytes = t.resources.memory_limit_bytes;
  r.basis = policy.basis;
  r.prices = policy.prices;
  r.minimum_ms = policy.task_minimum.count();
  r.checkpoint_ms = r.start_ms;
  return r;
}

Result<> TaskUsageRecorder::on_task_written(daemon::Store::Tx& tx, const sch::Task& t) {
  if (!t.running_at) return {};  // it never ran: nothing to bill
  switch (t.state) {
    case sch::TaskState::kPending:
    case sch::TaskState::kPulling:
    case sch::TaskState::kStarting:
      return {};
    case sch::TaskState::kRunning:
    case sch::TaskState::kStopping:
      SVC_TRY(daemon::SqlUsageStore::open_in(tx, record_for(t, policy_)));
      return {};
    case sch::TaskState::kStopped:
      break;
  }
  // Opened here too in case its start was never written on its own (a no-op otherwise).
  SVC_TRY(daemon::SqlUsageStore::open_in(tx, record_for(t, policy_)));
  daemon::UsageClose c;
  c.end_ms = unix_millis(t.stopped_at.value_or(clock_.now()));
  if (t.running_at) c.start_ms = unix_millis(*t.running_at);
  c.cpu_ms = std::llround(t.usage.cpu_seconds * 1000.0);
  c.memory_peak_bytes = t.usage.memory_peak_bytes;
  c.reason = t.stop_reason;
  c.billable = t.stop_reason != sch::reason::kStartFailed;
  c.end_at_last_checkpoint = recovering_.load() && (t.stop_reason == sch::reason::kLost ||
                                                    t.stop_reason == sch::reason::kNodeShutdown);
  SVC_TRY(daemon::SqlUsageStore::close_in(tx, record_id(t.id), c));
  return {};
}

Result<> TaskUsageRecorder::on_task_removed(daemon::Store::Tx& tx, const std::string& id) {
  // Removed while it ran (rm -f): its sandbox is killed right after this commits.
  daemon::UsageClose c;
  c.end_ms = unix_millis(clock_.now());
  c.reason = "Removed";
  SVC_TRY(daemon::SqlUsageStore::close_in(tx, record_id(id), c));
  return {};
}

Result<int> TaskUsageRecorder::close_orphans(
    daemon::SqlUsageStore& store, const std::function<bool(const std::string&)>& task_exists) {
  int closed = 0;
  for (const UsageRecord& r : SVC_TRY(store.open_records())) {
    if (r.owner.kind != RunKind::kTask || task_exists(r.owner.task_id)) continue;
    daemon::UsageClose c;
    c.end_at_last_checkpoint = true;
    c.reason = std::string(sch::reason::kLost);
    if (SVC_TRY(store.close(r.id, c))) ++closed;
  }
  return closed;
}

}  // namespace svc::billing
