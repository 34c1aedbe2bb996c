// Cron parsing and next-fire times against a table: DST both ways (Europe/Paris,
// America/New_York), month ends, leap days, Sunday as 0 and 7, the macros, the Vixie day rule,
// the optional seconds field, and bad expressions with errors naming the field and the token.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>

#include "scheduler/schedules/cron.hpp"
#include "scheduler/schedules/time_zone.hpp"

namespace sch = svc::scheduler;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

// "2026-03-29T01:00:00Z" (UTC, seconds precision; an optional ".mmm").
TimePoint utc(const char* text) {
  int y, mo, d, h, mi, s, ms = 0;
  REQUIRE(std::sscanf(text, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6);
  if (const char* dot = std::strchr(text, '.')) ms = std::atoi(dot + 1);
  auto day = std::chrono::sys_days{std::chrono::year{y} / mo / d};
  return TimePoint{day} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s} + std::chrono::milliseconds{ms};
}

std::string show(std::optional<TimePoint> t) {
  if (!t) return "never";
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  auto day = std::chrono::floor<std::chrono::days>(*t);
  std::chrono::year_month_day ymd{std::chrono::sys_days{day}};
  long tod = secs % 86400;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), tod / 3600, tod / 60 % 60, tod % 60);
  return buf;
}

std::string next(const char* cron, const char* zone, const char* after, bool seconds = false) {
  auto expr = sch::parse_cron(cron, {seconds});
  if (!expr) FAIL(expr.error().message());
  auto tz = sch::TimeZone::locate(zone);
  if (!tz) FAIL(tz.error().message());
  return show(tz->next_fire(*expr, utc(after)));
}

std::string parse_error(const char* cron, bool seconds = false) {
  auto expr = sch::parse_cron(cron, {seconds});
  if (expr) return "parsed";
  CHECK(expr.error().code() == svc::Code::kInvalidArgument);
  return expr.error().message();
}

}  // namespace

TEST_CASE("cron: next fire times across the calendar", "[cron]") {
  struct Row {
    const char* cron;
    const char* zone;
    const char* after;
    const char* expected;
  };
  const Row rows[] = {
      // Strictly after: a due time equal to `after` is not returned again.
      {"0 * * * *", "UTC", "2026-03-25T10:00:00Z", "2026-03-25T11:00:00Z"},
      {"0 * * * *", "UTC", "2026-03-25T09:59:59.999Z", "2026-03-25T10:00:00Z"},
      {"*/5 * * * *", "UTC", "2026-03-25T10:01:00Z", "2026-03-25T10:05:00Z"},
      {"5,35 8-9 * * *", "UTC", "2026-03-25T08:40:00Z", "2026-03-25T09:05:00Z"},
      {"10-20/5 * * * *", "UTC", "2026-03-25T10:16:00Z", "2026-03-25T10:20:00Z"},
      {"10/20 * * * *", "UTC", "2026-03-25T10:31:00Z", "2026-03-25T10:50:00Z"},
      // Month ends: the 31st skips the months without one.
      {"0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
      {"0 12 30 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-30T12:00:00Z"},
      {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
      // Feb 29 only in leap years (2028, then 2032).
      {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      {"0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
      {"0 0 28 2 *", "UTC", "2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z"},
      // Sunday is 0 and 7 (2026-03-25 is a Wednesday, the 29th a Sunday).
      {"0 0 * * 0", "UTC", "2026-03-25T00:00:00Z", "2026-03-29T00:00:00Z"},
      {"0 0 * * 7", "UTC", "2026-03-25T00:00:00Z", "2026-03-29T00:00:00Z"},
      {"0 0 * * sun", "UTC", "2026-03-25T00:00:00Z", "2026-03-29T00:00:00Z"},
      {"0 0 * * 5-7", "UTC", "2026-03-25T00:00:00Z", "2026-03-27T00:00:00Z"},
      {"0 9 * JAN-Mar Mon-FRI", "UTC", "2026-03-27T10:00:00Z", "2026-03-30T09:00:00Z"},
      {"0 9 * jan-mar mon-fri", "UTC", "2026-03-31T10:00:00Z", "2027-01-01T09:00:00Z"},
      // The Vixie day rule: both restricted = either (2026-03-06 is a Friday, before the 13th)...
      {"0 0 13 * fri", "UTC", "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z"},
      {"0 0 13 * *", "UTC", "2026-03-01T00:00:00Z", "2026-03-13T00:00:00Z"},
      // ...a `*`-led field means both (odd days that are Mondays: the 9th).
      {"0 0 */2 * mon", "UTC", "2026-03-01T00:00:00Z", "2026-03-09T00:00:00Z"},
      {"0 0 * * mon", "UTC", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},
      // Macros.
      {"@hourly", "UTC", "2026-03-25T10:20:00Z", "2026-03-25T11:00:00Z"},
      {"@daily", "UTC", "2026-03-25T10:20:00Z", "2026-03-26T00:00:00Z"},
      {"@midnight", "UTC", "2026-03-25T10:20:00Z", "2026-03-26T00:00:00Z"},
      {"@weekly", "UTC", "2026-03-25T10:20:00Z", "2026-03-29T00:00:00Z"},
      {"@monthly", "UTC", "2026-03-25T10:20:00Z", "2026-04-01T00:00:00Z"},
      {"@yearly", "UTC", "2026-03-25T10:20:00Z", "2027-01-01T00:00:00Z"},
      {"@annually", "UTC", "2026-03-25T10:20:00Z", "2027-01-01T00:00:00Z"},
      // Time zones: 09:00 in Paris is 08:00Z in winter, 07:00Z in summer.
      {"0 9 * * *", "Europe/Paris", "2026-01-10T12:00:00Z", "2026-01-11T08:00:00Z"},
      {"0 9 * * *", "Europe/Paris", "2026-07-10T12:00:00Z", "2026-07-11T07:00:00Z"},
      // Paris springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST: 02:30 does not
      // exist that night and runs at the end of the gap, 03:00 CEST, then at 02:30 CEST again.
      {"30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
      {"30 2 * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
      // Paris falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET: 02:30 happens twice
      // and runs once, at the first (00:30Z); the next run is the next day's 02:30 CET.
      {"30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
      {"30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
      // New York springs forward on 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT: the 02:00
      // hourly run happens at 03:00 EDT, and every 02:xx maps there, once.
      {"0 * * * *", "America/New_York", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z"},
      {"0 * * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
      {"*/15 2 * * *", "America/New_York", "2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z"},
      {"*/15 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"},
      // New York falls back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST: 01:00 and 01:30
      // fire in EDT only; the next run after 01:30 EDT is 02:00 EST (07:00Z).
      {"*/30 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"},
      {"*/30 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z"},
      {"*/30 * * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-01T07:00:00Z"},
      {"0 1 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z"},
  };
  for (const Row& r : rows) {
    INFO(r.cron << " in " << r.zone << " after " << r.after);
    CHECK(next(r.cron, r.zone, r.after) == r.expected);
  }
}

TEST_CASE("cron: a leading seconds field when allowed", "[cron]") {
  CHECK(next("*/5 * * * * *", "UTC", "2026-03-25T10:00:02.500Z", true) == "2026-03-25T10:00:05Z");
  CHECK(next("30 0 12 * * *", "UTC", "2026-03-25T12:00:30Z", true) == "2026-03-26T12:00:30Z");
  CHECK(next("* * * * * *", "UTC", "2026-03-25T23:59:59Z", true) == "2026-03-26T00:00:00Z");
  // Five fields with seconds allowed still fire on the minute.
  CHECK(next("* * * * *", "UTC", "2026-03-25T10:00:01Z", true) == "2026-03-25T10:01:00Z");
  CHECK_THAT(parse_error("*/5 * * * * *"), Catch::Contains("allow_seconds"));
}

TEST_CASE("cron: bad expressions are refused naming the field and the token", "[cron]") {
  using Catch::Contains;
  CHECK_THAT(parse_error("61 * * * *"), Contains("minute: 61 is out of range 0-59"));
  CHECK_THAT(parse_error("* 24 * * *"), Contains("hour: 24 is out of range 0-23"));
  CHECK_THAT(parse_error("* * 0 * *"), Contains("day-of-month: 0 is out of range 1-31"));
  CHECK_THAT(parse_error("* * * 13 *"), Contains("month: 13 is out of range 1-12"));
  CHECK_THAT(parse_error("* * * * 8"), Contains("day-of-week: 8 is out of range 0-7"));
  CHECK_THAT(parse_error("* * * foo *"), Contains("month: \"foo\" is not a number"));
  CHECK_THAT(parse_error("* * * * funday"), Contains("day-of-week: \"funday\""));
  CHECK_THAT(parse_error("x * * * *"), Contains("minute: \"x\" is not a number"));
  CHECK_THAT(parse_error("*/0 * * * *"), Contains("minute: \"*/0\": the step \"0\""));
  CHECK_THAT(parse_error("*/x * * * *"), Contains("the step \"x\""));
  CHECK_THAT(parse_error("5-1 * * * *"), Contains("minute: \"5-1\": the range runs backwards"));
  CHECK_THAT(parse_error("1,,2 * * * *"), Contains("minute: \"1,,2\": an empty list element"));
  CHECK_THAT(parse_error("1- * * * *"), Contains("minute: \"1-\": a value is missing"));
  CHECK_THAT(parse_error("* * * *"), Contains("4 fields"));
  CHECK_THAT(parse_error(""), Contains("0 fields"));
  CHECK_THAT(parse_error("* * * * * * *", true), Contains("7 fields"));
  CHECK_THAT(parse_error("@reboot"), Contains("unknown macro @reboot"));
  CHECK_THAT(parse_error("0 0 30 2 *"), Contains("day-of-month: \"30\" never occurs"));
  CHECK_THAT(parse_error("0 0 31 4,6 *"), Contains("never occurs in month \"4,6\""));
  CHECK_THAT(parse_error("99 * * * *"), Contains("cron \"99 * * * *\": minute"));
  // Both day fields restricted: the weekday alone can match, so it is fine.
  CHECK(parse_error("0 0 30 2 mon") == "parsed");
}

TEST_CASE("cron: an unknown time zone is refused", "[cron]") {
  auto tz = sch::TimeZone::locate("Mars/Olympus_Mons");
  REQUIRE_FALSE(tz);
  CHECK(tz.error().code() == svc::Code::kNotFound);
  CHECK_THAT(tz.error().message(), Catch::Contains("Mars/Olympus_Mons"));
  CHECK(sch::TimeZone::locate("").value().name() == "UTC");
  auto paris = sch::TimeZone::locate("Europe/Paris").value();
  CHECK(paris.format_local(utc("2026-03-29T01:00:00Z")) == "2026-03-29 03:00:00 CEST");
}
