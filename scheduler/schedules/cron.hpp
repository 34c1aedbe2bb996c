#pragma once
// A cron expression as crontab(5) spells it: five fields (minute hour day-of-month month
// day-of-week), each a `*`, a number or name, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a
// comma list of those; or one of the macros @yearly @annually @monthly @weekly @daily @midnight
// @hourly. A sixth, leading seconds field is accepted only when the caller allows it (svcd's
// `[schedules] allow_seconds`, off by default: the end-to-end tests use it to see real runs within
// seconds).
//
// Pure logic: no clock, no time zone (time_zone.hpp computes when an expression fires).
#include <bitset>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc::scheduler {

struct CronOptions {
  bool allow_seconds = false;
};

struct CronExpr {
  std::bitset<60> seconds;  // {0} unless a seconds field was given
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // 1-31
  std::bitset<13> months;         // 1-12
  std::bitset<7> days_of_week;    // 0-6, 0 = Sunday (7 is read as 0)
  // Vixie cron's rule: when both day fields are restricted (neither starts with `*`), a day
  // matches if EITHER matches ("0 0 1 * mon": the 1st and every Monday); when one is `*`-led,
  // both must match, which reduces to the other field.
  bool dom_star = true;
  bool dow_star = true;
  bool has_seconds = false;
  std::string text;  // as given, trimmed

  // Whether the calendar day (month 1-12, day 1-31, weekday 0-6) is one this expression runs on.
  bool matches_day(unsigned month, unsigned day, unsigned weekday) const;
};

// Errors are INVALID_ARGUMENT and name the field and the token: `cron "61 * * * *": minute: 61
// is out of range 0-59`.
Result<CronExpr> parse_cron(std::string_view text, const CronOptions& options = {});

}  // namespace svc::scheduler
