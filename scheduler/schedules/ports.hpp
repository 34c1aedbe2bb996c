#pragma once
// The ports the schedule controller stands on. daemon/ adapts the real modules to them
// (daemon/store/schedule_store.*, the TaskController through daemon/adapters/schedule_runs.*);
// unit tests use fakes (tests/unit/scheduler/schedules/fakes.hpp).
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "scheduler/schedules/schedule.hpp"

namespace svc::scheduler {

// Durable schedules and their run history.
class ScheduleStore {
 public:
  virtual ~ScheduleStore() = default;
  // ALREADY_EXISTS when the name is taken.
  virtual Result<> insert(const Schedule& schedule) = 0;
  // The schedule's own fields (paused, handled_through); not its runs.
  virtual Result<> update(const Schedule& schedule) = 0;
  // The schedule and its runs.
  virtual Result<> remove(const std::string& name) = 0;
  // Every schedule with its last kRunHistory runs, oldest run first.
  virtual Result<std::vector<Schedule>> load_all() = 0;
  // In one transaction: sets the schedule's handled_through, writes the run (a new one, or the
  // one with the same seq again) and drops all but the newest `keep` runs.
  virtual Result<> record_run(const std::string& name, TimePoint handled_through,
                              const RunRecord& run, std::size_t keep) = 0;
};

// A run's task as the task controller knows it.
struct RunTask {
  std::string id;
  std::string name;
  TaskState state = TaskState::kPending;
  std::optional<int> exit_code;
  std::string stop_reason;
};

// Where runs become tasks: TaskController::run/get/stop behind it.
class RunStarter {
 public:
  virtual ~RunStarter() = default;
  // Validates, records and starts the task; answers once it is stored.
  virtual Result<RunTask> start(TaskSpec spec) = 0;
  // By id or name; nullopt when no such task exists (any more).
  virtual std::optional<RunTask> find(const std::string& ref) = 0;
  // Asks the task to stop (its stop signal, then SIGKILL after its grace period).
  virtual Result<> stop(const std::string& task_id) = 0;
};

}  // namespace svc::scheduler
