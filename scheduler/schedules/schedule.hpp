#pragma once
// A schedule as the scheduler sees it: plain data, no protobuf, no SQL. The API translates it to
// and from svc.v1.Schedule; daemon/store persists it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/tasks/task.hpp"

namespace svc::scheduler {

// What happens when a run is due while an earlier run of the same schedule still runs. The
// default is kAllow, as Kubernetes CronJob's concurrencyPolicy and cron itself.
enum class Overlap { kAllow = 1, kForbid, kReplace };
std::string_view overlap_name(Overlap o);  // "allow", "forbid", "replace"
std::optional<Overlap> parse_overlap(std::string_view name);

// A run that cannot start within this long of its due time (svcd was down, or the node was too
// busy) is skipped and recorded as missed. Kubernetes' startingDeadlineSeconds has no default
// (unbounded, but it gives up after 100 missed schedules); svc picks five minutes, so a daily
// job runs after a quick restart but a node that was off for the night does not start the
// whole night's work at boot.
inline constexpr Millis kDefaultStartingDeadline{5 * 60 * 1000};
// Runs kept for `schedule describe`, newest last.
inline constexpr std::size_t kRunHistory = 10;
// The label every run carries: `svctl ps -a --label svc.schedule=NAME`.
inline constexpr std::string_view kScheduleLabel = "svc.schedule";
// Schedule names are task names short enough for the run's suffix ("-1796000000-now").
inline constexpr std::size_t kMaxScheduleName = 40;

struct ScheduleSpec {
  std::string name;
  std::string cron;
  std::string timezone;  // IANA name; "" = UTC
  Overlap overlap = Overlap::kAllow;
  Millis starting_deadline{0};  // 0 = kDefaultStartingDeadline
  TaskSpec task;                // its name is generated per run; the label added
};

enum class RunOutcome {
  kStarting = 1,  // recorded, the task not created yet (svcd stopped in between: not retried)
  kStarted,       // a task was created: task_id
  kSkipped,       // overlap forbid: the previous run still ran
  kMissed,        // later than the starting deadline (svcd down, or paused runs never are)
  kFailed,        // the task could not be created: message
};
std::string_view outcome_name(RunOutcome o);  // "STARTING", "STARTED", ...

struct RunRecord {
  std::int64_t seq = 0;      // increasing within the schedule
  TimePoint scheduled_at{};  // the due time (run-now: when it was asked for)
  TimePoint handled_at{};    // when svcd acted on it (a started run: once its task was created)
  bool manual = false;       // run-now
  RunOutcome outcome = RunOutcome::kStarting;
  std::string task_id;
  std::string task_name;
  std::string message;  // why it was skipped, missed or failed
  // The task's result as last seen (refreshed by describe; kept once the task is gone).
  std::optional<TaskState> task_state;
  std::optional<int> exit_code;
  std::string stop_reason;
};

struct Schedule {
  ScheduleSpec spec;
  bool paused = false;
  TimePoint created_at{};
  // Every due time up to and including this one was handled (ran, skipped or missed). Written
  // durably before a run's task is created, so a crash never runs a due time twice.
  TimePoint handled_through{};
  std::vector<RunRecord> runs;           // newest last, at most kRunHistory
  std::optional<TimePoint> next_run_at;  // computed, not stored; unset while paused
};

// The task name of a run: NAME-<unix seconds of the due time>, so one due time can only ever
// create one task (task names are unique), and NAME-<unix ms>-now for run-now.
std::string run_task_name(std::string_view schedule, TimePoint due, bool manual);

}  // namespace svc::scheduler
