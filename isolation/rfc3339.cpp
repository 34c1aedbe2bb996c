#include "isolation/rfc3339.hpp"

#include <time.h>

#include <charconv>

#include <fmt/format.h>

namespace svc::isolation {

std::string format_rfc3339_nano(TimePoint t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  long long secs = ns / 1'000'000'000;
  long long frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  time_t s = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&s, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:09d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

Result<TimePoint> parse_rfc3339(std::string_view text) {
  auto bad = [&] {
    return fail(Code::kInvalidArgument, "\"{}\" is not an RFC 3339 time (2006-01-02T15:04:05Z)",
                text);
  };
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size()) return false;
    auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && p == text.data() + pos + len;
  };
  int year, mon, day, hour, min, sec;
  if (text.size() < 20 || !num(0, 4, year) || text[4] != '-' || !num(5, 2, mon) || text[7] != '-' ||
      !num(8, 2, day) || (text[10] != 'T' && text[10] != 't') || !num(11, 2, hour) ||
      text[13] != ':' || !num(14, 2, min) || text[16] != ':' || !num(17, 2, sec))
    return bad();
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return bad();
    for (; digits < 9; ++digits) nanos *= 10;
  }
  long long offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || text[pos + 3] != ':' || !num(pos + 4, 2, om)) return bad();
    offset = (oh * 3600LL + om * 60LL) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  long long secs = static_cast<long long>(timegm(&tm)) - offset;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

}  // namespace svc::isolation
