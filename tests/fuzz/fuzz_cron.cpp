// libFuzzer: the cron parser (with and without the seconds field) and next-fire times in UTC and
// in a zone with DST. A parsed expression fires strictly later each time, at a second its fields
// allow, and its text (normalised) parses to the same expression.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scheduler/schedules/cron.hpp"
#include "scheduler/schedules/time_zone.hpp"

namespace sch = svc::scheduler;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 512) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const sch::TimeZone utc;
  static const sch::TimeZone paris = sch::TimeZone::locate("Europe/Paris").value();
  for (bool seconds : {false, true}) {
    auto expr = sch::parse_cron(text, {seconds});
    if (!expr) {
      if (expr.error().message().empty()) std::abort();
      continue;
    }
    auto again = sch::parse_cron(expr->text, {seconds});
    if (!again || again->minutes != expr->minutes || again->hours != expr->hours ||
        again->days_of_month != expr->days_of_month || again->months != expr->months ||
        again->days_of_week != expr->days_of_week || again->seconds != expr->seconds)
      std::abort();
    // 2026-03-29 00:59:30Z: half a minute before Paris springs forward.
    sch::TimeZone::TimePoint t{std::chrono::seconds(1'774'745'970)};
    for (const sch::TimeZone* zone : {&utc, &paris}) {
      auto at = t;
      for (int i = 0; i < 3; ++i) {
        auto next = zone->next_fire(*expr, at);
        if (!next) break;  // nothing within ten years (a Feb 29 that is also a Monday, say)
        if (*next <= at) std::abort();
        auto secs =
            std::chrono::duration_cast<std::chrono::seconds>(next->time_since_epoch()).count();
        if (zone == &utc && !expr->seconds.test(static_cast<std::size_t>(secs % 60))) std::abort();
        at = *next;
      }
    }
  }
  return 0;
}
