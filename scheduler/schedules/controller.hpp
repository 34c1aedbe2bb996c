#pragma once
// The schedule controller: schedules and when they fire. Each due run becomes a task through the
// RunStarter (named run_task_name(), labelled svc.schedule=NAME); overlap (allow, forbid,
// replace), the starting deadline, pause and resume, run-now, and the missed-run rule: after svcd
// was down, only the LAST due time that is still within the starting deadline runs, once; the
// earlier ones are recorded as missed.
//
// Never twice: a due time is written to the store as handled (ScheduleStore::record_run, as a
// STARTING run) BEFORE its task is created, and the task's name is derived from the due time,
// so no attempt can create a second task for it. If svcd dies between the two, recover() finds
// the STARTING run: it looks the task up by that name, and creates it only if it does not exist
// and the due time is still within the starting deadline; so the run happens exactly once.
//
// Threading: one mutex guards the table; store and RunStarter calls are made under it (they are
// short: a task create is one store write), so the order of records is the order of decisions.
// tick() is called by ScheduleTimer (timer.hpp) in svcd and by tests with a fake clock.
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "scheduler/schedules/cron.hpp"
#include "scheduler/schedules/ports.hpp"
#include "scheduler/schedules/schedule.hpp"
#include "scheduler/schedules/time_zone.hpp"

namespace svc::scheduler {

class ScheduleController {
 public:
  struct Options {
    bool allow_seconds = false;  // [schedules] allow_seconds: a 6th, leading seconds field
    Millis default_starting_deadline = kDefaultStartingDeadline;
    std::size_t history = kRunHistory;
    ValidationLimits limits;  // for the runs' task specs
  };

  ScheduleController(ScheduleStore& store, RunStarter& runs, const Clock& clock, Options options);

  // At start (after the task controller recovered): loads every schedule. Runs that came due
  // while svcd was down are handled by the first tick() (the missed-run rule). A run recorded as
  // STARTING whose task does not exist is started now when still within its starting deadline
  // (by its due time's name, so at most once), else marked FAILED; a run-now is not retried.
  Result<> recover();

  // Validates everything (name, cron, timezone, overlap, the task spec) before storing anything.
  Result<Schedule> create(ScheduleSpec spec);
  // With its runs' task states refreshed.
  Result<Schedule> get(const std::string& name);
  std::vector<Schedule> list();
  // Removes the schedule and its history. A run in progress goes on (it is a task: `svctl stop`
  // it); no new run starts.
  Result<> remove(const std::string& name);
  // No run fires while paused. Resume does not catch up on the due times that passed meanwhile.
  Result<Schedule> pause(const std::string& name);
  Result<Schedule> resume(const std::string& name);
  // Starts a run now, whatever the overlap policy (like `kubectl create job --from=cronjob/X`).
  Result<RunRecord> run_now(const std::string& name);

  // Handles every run due by clock.now(); answers the next due time over all schedules.
  std::optional<TimePoint> tick();
  std::optional<TimePoint> next_due() const;
  // Called (without the lock) after anything that can move the next due time earlier.
  void set_on_change(std::function<void()> fn);

 private:
  struct Entry {
    Schedule schedule;
    CronExpr expr;
    TimeZone zone;
    std::int64_t last_seq = 0;
  };
  using Lock = std::unique_lock<std::mutex>;

  Result<Entry*> must_find_locked(const std::string& name);
  void compute_next_locked(Entry& e) const;
  Millis deadline_of(const Entry& e) const;
  void handle_due_locked(Entry& e, TimePoint now);
  Result<RunRecord> fire_locked(Entry& e, TimePoint due, bool manual, TimePoint handled_through);
  Result<> record_locked(Entry& e, TimePoint handled_through, const RunRecord& run);
  // Creates the run's task (named r.task_name) and writes what came of it into r.
  Result<RunTask> start_task_locked(const Entry& e, RunRecord& r);
  void refresh_runs_locked(Entry& e);
  bool active_locked(Entry& e, std::vector<std::string>* task_ids);
  void notify();

  ScheduleStore& store_;
  RunStarter& runs_;
  const Clock& clock_;
  Options options_;

  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::function<void()> on_change_;
};

}  // namespace svc::scheduler
