#include "scheduler/schedules/time_zone.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <stdexcept>

namespace svc::scheduler {

namespace {

using std::chrono::seconds;

// The next set bit at or after from, or -1.
template <std::size_t N>
int next_bit(const std::bitset<N>& bits, unsigned from) {
  for (std::size_t i = from; i < N; ++i)
    if (bits.test(i)) return static_cast<int>(i);
  return -1;
}

}  // namespace

TimeZone::TimeZone() = default;

Result<TimeZone> TimeZone::locate(std::string_view name) {
  TimeZone tz;
  if (name.empty() || name == "UTC") return tz;
  try {
    tz.zone_ = date::locate_zone(name);
  } catch (const std::exception& e) {
    return fail(Code::kNotFound,
                "timezone \"{}\": not in the system's tz database (/usr/share/zoneinfo, Debian "
                "package tzdata); use an IANA name such as Europe/Paris or America/New_York",
                name);
  }
  tz.name_ = std::string(name);
  return tz;
}

std::optional<TimeZone::TimePoint> TimeZone::next_fire(const CronExpr& expr,
                                                       TimePoint after) const {
  auto to_local = [&](date::sys_seconds s) -> date::local_seconds {
    if (!zone_) return date::local_seconds{s.time_since_epoch()};
    return zone_->to_local(s);
  };
  // The instant a matching local time fires at (the DST rules in time_zone.hpp).
  auto to_sys = [&](date::local_seconds l) -> date::sys_seconds {
    date::sys_seconds as_utc{l.time_since_epoch()};
    if (!zone_) return as_utc;
    date::local_info info = zone_->get_info(l);
    switch (info.result) {
      case date::local_info::unique:
      case date::local_info::ambiguous:  // first: the offset before the clocks fell back
        return as_utc - info.first.offset;
      case date::local_info::nonexistent:  // in the gap: the instant the gap ends
        return info.second.begin;
    }
    return as_utc - info.first.offset;
  };

  date::sys_seconds start = date::floor<seconds>(after);
  date::local_seconds l = to_local(start);
  const date::local_seconds limit = l + date::days{3660};
  while (l < limit) {
    date::local_days day = date::floor<date::days>(l);
    date::year_month_day ymd{day};
    auto month = static_cast<unsigned>(ymd.month());
    if (!expr.months.test(month)) {
      l = date::local_days{date::year_month_day{ymd.year() / ymd.month() / 1} + date::months{1}};
      continue;
    }
    if (!expr.matches_day(month, static_cast<unsigned>(ymd.day()),
                          date::weekday{day}.c_encoding())) {
      l = day + date::days{1};
      continue;
    }
    date::hh_mm_ss<seconds> tod{l - day};
    auto h = static_cast<unsigned>(tod.hours().count());
    auto m = static_cast<unsigned>(tod.minutes().count());
    auto s = static_cast<unsigned>(tod.seconds().count());
    if (!expr.hours.test(h)) {
      int nh = next_bit(expr.hours, h);
      l = nh < 0 ? day + date::days{1} : day + std::chrono::hours{nh};
      continue;
    }
    if (!expr.minutes.test(m)) {
      int nm = next_bit(expr.minutes, m);
      l = nm < 0 ? day + std::chrono::hours{h + 1}
                 : day + std::chrono::hours{h} + std::chrono::minutes{nm};
      continue;
    }
    if (!expr.seconds.test(s)) {
      int ns = next_bit(expr.seconds, s);
      l = ns < 0 ? day + std::chrono::hours{h} + std::chrono::minutes{m + 1}
                 : day + std::chrono::hours{h} + std::chrono::minutes{m} + seconds{ns};
      continue;
    }
    date::sys_seconds fire = to_sys(l);
    if (fire > after) return TimePoint{fire.time_since_epoch()};
    l += seconds{1};
  }
  return std::nullopt;
}

std::string TimeZone::format_local(TimePoint t) const {
  auto s = date::floor<seconds>(t);
  if (!zone_) return date::format("%F %T UTC", s);
  return date::format("%F %T %Z", date::make_zoned(zone_, s));
}

}  // namespace svc::scheduler
