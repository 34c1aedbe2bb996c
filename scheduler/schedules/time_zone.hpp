#pragma once
// When a cron expression fires, in an IANA time zone from the system's tz database
// (/usr/share/zoneinfo, through Debian's libhowardhinnant-date: g++ 12's <chrono> has no time
// zones). The date headers stay in time_zone.cpp.
//
// Daylight saving time, both ways:
//  - A local time that does not exist (clocks jump forward: 02:30 on the spring-forward night in
//    Europe/Paris) fires at the first instant after the gap (03:00 local), once however many
//    skipped times map there. That is what Vixie cron and cronie do for a jump of under three
//    hours: a daily 02:30 job still runs that day instead of silently being skipped, which is
//    what someone who scheduled "every night" relies on.
//  - A local time that occurs twice (clocks fall back: 02:30 twice in Europe/Paris) fires once,
//    at its first occurrence: a daily job does not run twice, and during the repeated hour
//    nothing fires again for times already fired.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "scheduler/schedules/cron.hpp"

namespace date {
class time_zone;
}

namespace svc::scheduler {

class TimeZone {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // An IANA name ("Europe/Paris"); "" and "UTC" are UTC. NOT_FOUND names the zone and where
  // zones come from.
  static Result<TimeZone> locate(std::string_view name);
  TimeZone();  // UTC

  const std::string& name() const { return name_; }

  // The first instant strictly after `after` at which expr fires here; nullopt when it does not
  // fire within ten years (parse_cron already refuses expressions that never fire).
  std::optional<TimePoint> next_fire(const CronExpr& expr, TimePoint after) const;

  // The local wall-clock time of t, "2026-03-29 03:00:00 CEST" (for messages and tests).
  std::string format_local(TimePoint t) const;

 private:
  const date::time_zone* zone_ = nullptr;
  std::string name_ = "UTC";
};

}  // namespace svc::scheduler
