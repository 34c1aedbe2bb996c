#pragma once
// Usage records of task runs, written with the task's own state (TaskWriteListener): the record
// opens in the transaction that records RUNNING and closes in the one that records STOPPED (or
// the task's removal), so a run has a record exactly when its start is durable, and it costs no
// commit of its own.
//
// A task runs once: its record's id is "task:<task id>". A task that never ran (stopped while
// pulling, a failed launch) has none; one whose program could not be executed has one that is
// not billed (nothing of the user's ran).
#include <atomic>
#include <functional>
#include <string>

#include "common/clock.hpp"
#include "daemon/billing/usage_record.hpp"
#include "daemon/store/task_store.hpp"
#include "daemon/store/usage_store.hpp"

namespace svc::billing {

class TaskUsageRecorder final : public daemon::TaskWriteListener {
 public:
  TaskUsageRecorder(Policy policy, const Clock& clock)
      : policy_(std::move(policy)), clock_(clock) {}

  Result<> on_task_written(daemon::Store::Tx& tx, const scheduler::Task& task) override;
  Result<> on_task_removed(daemon::Store::Tx& tx, const std::string& id) override;

  // While svcd re-adopts tasks after a restart: a run that is found lost then ended unseen,
  // while svcd was down, and ends at its last checkpoint (the last moment it was seen alive).
  void set_recovering(bool recovering) { recovering_ = recovering; }

  const Policy& policy() const { return policy_; }

  // After recovery: open task records whose task no longer exists (removed by a svcd that died
  // before the removal's close could be written — not possible with the close in the removal's
  // transaction, but a database from elsewhere may hold them) end at their last checkpoint.
  // Returns how many were closed.
  static Result<int> close_orphans(daemon::SqlUsageStore& store,
                                   const std::function<bool(const std::string&)>& task_exists);

  static std::string record_id(const std::string& task_id) { return "task:" + task_id; }
  // The record a task's run opens: who, what it reserved and the prices of now.
  static UsageRecord record_for(const scheduler::Task& task, const Policy& policy);
  // Label keys that name what started a task (issue 12: schedules and triggers set them).
  static constexpr const char* kScheduleLabel = "svc.schedule";
  static constexpr const char* kTriggerLabel = "svc.trigger";

 private:
  Policy policy_;
  const Clock& clock_;
  std::atomic<bool> recovering_{false};
};

}  // namespace svc::billing
