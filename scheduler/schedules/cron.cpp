#include "scheduler/schedules/cron.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <vector>

namespace svc::scheduler {

namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

struct Field {
  std::string_view name;
  unsigned min;
  unsigned max;
  // Names for the values starting at min (months: jan = 1; days: sun = 0), or empty.
  const std::string_view* names = nullptr;
  std::size_t name_count = 0;
};

constexpr Field kSecond{"second", 0, 59};
constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day-of-month", 1, 31};
constexpr Field kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size()};
// 0-7: both 0 and 7 are Sunday, as in crontab(5).
constexpr Field kDayOfWeek{"day-of-week", 0, 7, kDayNames.data(), kDayNames.size()};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string valid_names(const Field& f) {
  if (!f.names) return {};
  std::string out = " or a name (";
  for (std::size_t i = 0; i < f.name_count; ++i) {
    if (i) out += ", ";
    out += f.names[i];
  }
  return out + ")";
}

Result<unsigned> parse_value(const Field& f, std::string_view token, std::string_view element) {
  if (token.empty())
    return fail(Code::kInvalidArgument, "{}: \"{}\": a value is missing", f.name, element);
  if (f.names && !(token[0] >= '0' && token[0] <= '9')) {
    std::string l = lower(token);
    for (std::size_t i = 0; i < f.name_count; ++i)
      if (f.names[i] == l) return static_cast<unsigned>(f.min + i);
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not a number{}", f.name, token,
                valid_names(f));
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec == std::errc::result_out_of_range)
    return fail(Code::kInvalidArgument, "{}: {} is out of range {}-{}", f.name, token, f.min,
                f.max);
  if (ec != std::errc() || end != token.data() + token.size())
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not a number{}", f.name, token,
                valid_names(f));
  if (v < f.min || v > f.max)
    return fail(Code::kInvalidArgument, "{}: {} is out of range {}-{}", f.name, token, f.min,
                f.max);
  return v;
}

// Sets the bits of one field; *star is whether it starts with `*` (the Vixie day rule).
template <std::size_t N>
Result<> parse_field(const Field& f, std::string_view text, std::bitset<N>& bits, bool* star) {
  bits.reset();
  if (star) *star = !text.empty() && text[0] == '*';
  std::size_t pos = 0;
  for (;;) {
    std::size_t comma = text.find(',', pos);
    std::string_view element =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (element.empty())
      return fail(Code::kInvalidArgument, "{}: \"{}\": an empty list element", f.name, text);
    std::string_view range = element;
    unsigned step = 1;
    bool stepped = false;
    if (auto slash = element.find('/'); slash != std::string_view::npos) {
      range = element.substr(0, slash);
      std::string_view s = element.substr(slash + 1);
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (s.empty() || ec != std::errc() || end != s.data() + s.size() || step == 0)
        return fail(Code::kInvalidArgument,
                    "{}: \"{}\": the step \"{}\" must be a whole number of at least 1", f.name,
                    element, s);
      stepped = true;
    }
    unsigned lo = 0;
    unsigned hi = 0;
    if (range == "*") {
      lo = f.min;
      hi = f.max;
    } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
      lo = SVC_TRY(parse_value(f, range.substr(0, dash), element));
      hi = SVC_TRY(parse_value(f, range.substr(dash + 1), element));
      if (lo > hi)
        return fail(Code::kInvalidArgument,
                    "{}: \"{}\": the range runs backwards (write it low-high, e.g. {}-{})", f.name,
                    element, hi, lo);
    } else {
      lo = SVC_TRY(parse_value(f, range, element));
      // "a/n" is a..max by n, as Kubernetes and most crons read it.
      hi = stepped ? f.max : lo;
    }
    for (unsigned v = lo; v <= hi; v += step) bits.set(&f == &kDayOfWeek && v == 7 ? 0 : v);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return {};
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<std::string_view> macro(std::string_view name) {
  std::string l = lower(name);
  if (l == "@yearly" || l == "@annually") return "0 0 1 1 *";
  if (l == "@monthly") return "0 0 1 * *";
  if (l == "@weekly") return "0 0 * * 0";
  if (l == "@daily" || l == "@midnight") return "0 0 * * *";
  if (l == "@hourly") return "0 * * * *";
  return std::nullopt;
}

// The most days each month can have (February: 29, in leap years).
constexpr std::array<unsigned, 13> kMaxDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

}  // namespace

bool CronExpr::matches_day(unsigned month, unsigned day, unsigned weekday) const {
  if (!months.test(month)) return false;
  bool dom = days_of_month.test(day);
  bool dow = days_of_week.test(weekday % 7);
  if (dom_star || dow_star) return dom && dow;
  return dom || dow;
}

Result<CronExpr> parse_cron(std::string_view text, const CronOptions& options) {
  auto error = [&](Error e) {
    return tl::unexpected(std::move(e).context(fmt::format("cron \"{}\"", text)));
  };
  std::vector<std::string_view> fields = split_fields(text);
  CronExpr c;
  for (std::size_t i = 0; i < fields.size(); ++i) c.text += (i ? " " : "") + std::string(fields[i]);
  if (fields.size() == 1 && fields[0].starts_with('@')) {
    auto expanded = macro(fields[0]);
    if (!expanded)
      return error(Error(Code::kInvalidArgument,
                         fmt::format("unknown macro {} (use @yearly, @annually, @monthly, "
                                     "@weekly, @daily, @midnight or @hourly)",
                                     fields[0])));
    fields = split_fields(*expanded);
  }
  if (fields.size() == 6 && !options.allow_seconds)
    return error(Error(Code::kInvalidArgument,
                       "6 fields: a leading seconds field is allowed only when svcd's "
                       "[schedules] allow_seconds is true; use 5 fields (minute hour "
                       "day-of-month month day-of-week)"));
  if (fields.size() != 5 && fields.size() != 6)
    return error(
        Error(Code::kInvalidArgument,
              fmt::format("{} fields: give 5 (minute hour day-of-month month "
                          "day-of-week){}, or a macro such as @hourly",
                          fields.size(),
                          options.allow_seconds ? " or 6 (a leading seconds field)" : "")));
  std::size_t i = 0;
  c.seconds.set(0);
  if (fields.size() == 6) {
    c.has_seconds = true;
    if (auto r = parse_field(kSecond, fields[i++], c.seconds, nullptr); !r) return error(r.error());
  }
  if (auto r = parse_field(kMinute, fields[i++], c.minutes, nullptr); !r) return error(r.error());
  if (auto r = parse_field(kHour, fields[i++], c.hours, nullptr); !r) return error(r.error());
  if (auto r = parse_field(kDayOfMonth, fields[i++], c.days_of_month, &c.dom_star); !r)
    return error(r.error());
  if (auto r = parse_field(kMonth, fields[i++], c.months, nullptr); !r) return error(r.error());
  std::bitset<8> dow8;
  if (auto r = parse_field(kDayOfWeek, fields[i++], dow8, &c.dow_star); !r) return error(r.error());
  for (unsigned d = 0; d < 7; ++d) c.days_of_week.set(d, dow8.test(d));

  // "0 0 30 2 *" would never fire: refuse it now rather than schedule nothing. With both day
  // fields restricted the weekday alone can match, so it always fires.
  if (c.dow_star) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m)
      if (c.months.test(m))
        for (unsigned d = 1; d <= kMaxDays[m] && !possible; ++d) possible = c.days_of_month.test(d);
    if (!possible)
      return error(Error(Code::kInvalidArgument,
                         fmt::format("day-of-month: \"{}\" never occurs in month \"{}\"",
                                     fields[i - 3], fields[i - 2])));
  }
  return c;
}

}  // namespace svc::scheduler
