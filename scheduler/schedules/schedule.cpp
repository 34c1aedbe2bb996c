#include "scheduler/schedules/schedule.hpp"

#include <fmt/format.h>

#include "common/clock.hpp"

namespace svc::scheduler {

std::string_view overlap_name(Overlap o) {
  switch (o) {
    case Overlap::kAllow:
      return "allow";
    case Overlap::kForbid:
      return "forbid";
    case Overlap::kReplace:
      return "replace";
  }
  return "allow";
}

std::optional<Overlap> parse_overlap(std::string_view name) {
  if (name == "allow") return Overlap::kAllow;
  if (name == "forbid") return Overlap::kForbid;
  if (name == "replace") return Overlap::kReplace;
  return std::nullopt;
}

std::string_view outcome_name(RunOutcome o) {
  switch (o) {
    case RunOutcome::kStarting:
      return "STARTING";
    case RunOutcome::kStarted:
      return "STARTED";
    case RunOutcome::kSkipped:
      return "SKIPPED";
    case RunOutcome::kMissed:
      return "MISSED";
    case RunOutcome::kFailed:
      return "FAILED";
  }
  return "STARTING";
}

std::string run_task_name(std::string_view schedule, TimePoint due, bool manual) {
  if (manual) return fmt::format("{}-{}-now", schedule, unix_millis(due));
  return fmt::format(
      "{}-{}", schedule,
      std::chrono::duration_cast<std::chrono::seconds>(due.time_since_epoch()).count());
}

}  // namespace svc::scheduler
