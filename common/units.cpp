#include "common/units.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace svc {
namespace {

struct Number {
  // The value as an integer part and a fraction of up to 9 digits, kept exact so "0.1Gi" does
  // not pick up binary floating-point noise.
  std::uint64_t whole = 0;
  std::uint64_t frac = 0;  // fraction digits as an integer
  int frac_digits = 0;
  std::size_t length = 0;  // characters consumed
};

// Parses [0-9]+(\.[0-9]+)? at the start of text.
Result<Number> parse_number(std::string_view text, std::string_view input, std::string_view what) {
  Number n;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n.whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
      return fail(Code::kInvalidArgument, "invalid {} \"{}\": number too large", what, input);
    n.whole = n.whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  const bool had_whole = i > 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n.frac_digits < 9) {
        n.frac = n.frac * 10 + static_cast<std::uint64_t>(text[i] - '0');
        ++n.frac_digits;
      } else if (text[i] != '0') {
        return fail(Code::kInvalidArgument, "invalid {} \"{}\": too many decimal places", what,
                    input);
      }
      ++i;
    }
    if (i == start)
      return fail(Code::kInvalidArgument, "invalid {} \"{}\": expected digits after '.'", what,
                  input);
  } else if (!had_whole) {
    return fail(Code::kInvalidArgument, "invalid {} \"{}\": expected a number", what, input);
  }
  n.length = i;
  return n;
}

std::uint64_t pow10(int digits) {
  std::uint64_t p = 1;
  for (int i = 0; i < digits; ++i) p *= 10;
  return p;
}

// value * multiplier, rounded up, with overflow detection.
Result<std::uint64_t> scale(const Number& n, std::uint64_t multiplier, std::string_view input,
                            std::string_view what) {
  unsigned __int128 whole = static_cast<unsigned __int128>(n.whole) * multiplier;
  unsigned __int128 denom = pow10(n.frac_digits);
  unsigned __int128 frac =
      (static_cast<unsigned __int128>(n.frac) * multiplier + denom - 1) / denom;
  unsigned __int128 total = whole + frac;
  if (total > std::numeric_limits<std::uint64_t>::max())
    return fail(Code::kInvalidArgument, "invalid {} \"{}\": too large", what, input);
  return static_cast<std::uint64_t>(total);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view input) {
  std::string_view text = trim(input);
  if (text.empty()) return fail(Code::kInvalidArgument, "invalid size \"{}\": empty", input);
  if (text.front() == '-')
    return fail(Code::kInvalidArgument, "invalid size \"{}\": must not be negative", input);
  Number n = SVC_TRY(parse_number(text, input, "size"));
  std::string_view suffix = text.substr(n.length);
  struct Unit {
    std::string_view name;
    std::uint64_t multiplier;
  };
  static constexpr std::array<Unit, 14> kUnits = {{
      {"", 1},
      {"Ki", 1ULL << 10},
      {"Mi", 1ULL << 20},
      {"Gi", 1ULL << 30},
      {"Ti", 1ULL << 40},
      {"Pi", 1ULL << 50},
      {"Ei", 1ULL << 60},
      {"k", 1000ULL},
      {"K", 1000ULL},
      {"M", 1000ULL * 1000},
      {"G", 1000ULL * 1000 * 1000},
      {"T", 1000ULL * 1000 * 1000 * 1000},
      {"P", 1000ULL * 1000 * 1000 * 1000 * 1000},
      {"E", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
  }};
  std::string_view unit = suffix;
  // A lowercase b is a bit in every unit table people know ("10Gb" = 10 gigabits): reading it
  // as bytes would be a silent guess, so it is refused with what to write instead.
  if (unit == "b")
    return fail(Code::kInvalidArgument,
                "invalid size \"{}\": \"b\" means bits; write {}B for bytes", input,
                text.substr(0, n.length));
  if (!unit.empty() && unit.back() == 'b') {
    std::string_view number = text.substr(0, n.length), prefix = unit.substr(0, unit.size() - 1);
    if (prefix.ends_with('i')) prefix.remove_suffix(1);
    std::string binary(prefix);
    if (!binary.empty()) binary[0] = static_cast<char>(std::toupper(binary[0]));
    return fail(Code::kInvalidArgument,
                "invalid size \"{}\": \"b\" means bits; write {}{}i for powers of 1024 or {}{}B "
                "for powers of 1000 (bytes)",
                input, number, binary, number, prefix);
  }
  if (!unit.empty() && unit.back() == 'B') unit.remove_suffix(1);
  // Docker reads "512m" and "2g" as binary units; Kubernetes reads "m" as milli. Neither guess
  // is safe, so say both spellings svc takes.
  if (unit == "m" || unit == "g" || unit == "t" || unit == "p" || unit == "e") {
    std::string upper(1, static_cast<char>(unit[0] - 'a' + 'A'));
    return fail(Code::kInvalidArgument,
                "invalid size \"{}\": unknown unit \"{}\"; write {}{}i for powers of 1024 (what "
                "Docker means by {}) or {}{} for powers of 1000",
                input, suffix, text.substr(0, n.length), upper, input, text.substr(0, n.length),
                upper);
  }
  for (const Unit& u : kUnits) {
    if (u.name == unit) {
      if (u.multiplier == 1 && unit.empty() && n.frac_digits > 0 && n.frac != 0)
        return fail(Code::kInvalidArgument,
                    "invalid size \"{}\": a fraction of a byte (use a unit such as Mi)", input);
      return scale(n, u.multiplier, input, "size");
    }
  }
  return fail(Code::kInvalidArgument,
              "invalid size \"{}\": unknown unit \"{}\" (use Ki, Mi, Gi, Ti or k, M, G, T)", input,
              suffix);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> kNames = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (bytes == 0) return "0";
  int best = -1;
  for (int i = 0; i < 6; ++i) {
    std::uint64_t m = 1ULL << (10 * (i + 1));
    if (bytes % m == 0) best = i;
  }
  if (best < 0) return std::to_string(bytes);
  return fmt::format("{}{}", bytes >> (10 * (best + 1)), kNames[static_cast<std::size_t>(best)]);
}

std::string format_size_human(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> kNames = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (bytes < 1024) return fmt::format("{}B", bytes);
  double v = static_cast<double>(bytes);
  std::size_t unit = 0;
  v /= 1024;
  while (v >= 1024 && unit + 1 < kNames.size()) {
    v /= 1024;
    ++unit;
  }
  std::string s = fmt::format("{:.1f}", v);
  if (s.ends_with(".0")) s.resize(s.size() - 2);
  return s + std::string(kNames[unit]);
}

Result<std::int64_t> parse_cpu_millis(std::string_view input, bool allow_zero) {
  std::string_view text = trim(input);
  if (text.empty()) return fail(Code::kInvalidArgument, "invalid CPU amount \"{}\": empty", input);
  if (text.front() == '-')
    return fail(Code::kInvalidArgument, "invalid CPU amount \"{}\": must not be negative", input);
  Number n = SVC_TRY(parse_number(text, input, "CPU amount"));
  std::string_view suffix = text.substr(n.length);
  std::uint64_t millis = 0;
  if (suffix == "m") {
    if (n.frac_digits > 0 && n.frac != 0)
      return fail(Code::kInvalidArgument,
                  "invalid CPU amount \"{}\": millicores must be whole (\"250m\")", input);
    millis = n.whole;
  } else if (suffix.empty()) {
    if (n.frac_digits > 3 && n.frac % pow10(n.frac_digits - 3) != 0)
      return fail(Code::kInvalidArgument,
                  "invalid CPU amount \"{}\": at most 3 decimal places (0.001 = 1m)", input);
    millis = SVC_TRY(scale(n, 1000, input, "CPU amount"));
  } else {
    return fail(Code::kInvalidArgument,
                "invalid CPU amount \"{}\": unknown unit \"{}\" (use cores like \"0.5\" or "
                "millicores like \"500m\")",
                input, suffix);
  }
  if (millis == 0 && !allow_zero)
    return fail(Code::kInvalidArgument, "invalid CPU amount \"{}\": must be more than 0", input);
  if (millis > 1'000'000'000ULL)
    return fail(Code::kInvalidArgument, "invalid CPU amount \"{}\": more than a million cores",
                input);
  return static_cast<std::int64_t>(millis);
}

std::string format_cpu_millis(std::int64_t millis) {
  if (millis % 1000 == 0) return std::to_string(millis / 1000);
  std::string s = fmt::format("{}.{:03}", millis / 1000, millis % 1000);
  while (s.back() == '0') s.pop_back();
  return s;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view input) {
  std::string_view text = trim(input);
  if (text.empty()) return fail(Code::kInvalidArgument, "invalid duration \"{}\": empty", input);
  if (text.front() == '-')
    return fail(Code::kInvalidArgument, "invalid duration \"{}\": must not be negative", input);
  if (text == "0") return std::chrono::milliseconds(0);
  unsigned __int128 total_ms = 0;
  while (!text.empty()) {
    Number n = SVC_TRY(parse_number(text, input, "duration"));
    text.remove_prefix(n.length);
    std::size_t u = 0;
    while (u < text.size() &&
           ((text[u] >= 'a' && text[u] <= 'z') || (text[u] >= 'A' && text[u] <= 'Z')))
      ++u;
    std::string_view unit = text.substr(0, u);
    std::uint64_t mult = 0;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else if (unit == "d")
      mult = 86'400'000;
    else if (unit.empty())
      return fail(Code::kInvalidArgument,
                  "invalid duration \"{}\": missing unit after the number (use ms, s, m, h or d, "
                  "as in \"90s\")",
                  input);
    else
      return fail(Code::kInvalidArgument,
                  "invalid duration \"{}\": unknown unit \"{}\" (use ms, s, m, h or d)", input,
                  unit);
    total_ms += SVC_TRY(scale(n, mult, input, "duration"));
    if (total_ms > static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()))
      return fail(Code::kInvalidArgument, "invalid duration \"{}\": too large", input);
    text.remove_prefix(u);
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms));
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::int64_t h = ms / 3'600'000;
  const std::int64_t m = (ms / 60'000) % 60;
  const std::int64_t s = (ms / 1000) % 60;
  const std::int64_t rest = ms % 1000;
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s || (rest && (h || m))) {
    if (rest) {
      std::string frac = fmt::format("{:03}", rest);
      while (frac.back() == '0') frac.pop_back();
      out += fmt::format("{}.{}s", s, frac);
    } else {
      out += fmt::format("{}s", s);
    }
  } else if (rest) {
    out += fmt::format("{}ms", rest);
  }
  return out;
}

}  // namespace svc
