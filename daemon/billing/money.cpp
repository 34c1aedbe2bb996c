#include "daemon/billing/money.hpp"

#include <cmath>

namespace svc::billing {

Result<Nanos> parse_price(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Code::kInvalidArgument,
                "price \"{}\" {}: write a plain decimal such as \"0.0000113\" (at most 9 "
                "decimals)",
                text, why);
  };
  if (text.empty()) return bad("is empty");
  if (text.front() == '-') return bad("is negative");
  std::int64_t whole = 0;
  std::int64_t frac = 0;
  int decimals = 0;
  bool dot = false;
  bool digits = false;
  for (char c : text) {
    if (c == '.') {
      if (dot) return bad("has two decimal points");
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') return bad("is not a number");
    digits = true;
    int d = c - '0';
    if (!dot) {
      if (whole >= 100'000'000) return bad("is too large");
      whole = whole * 10 + d;
    } else {
      if (++decimals > 9) {
        if (d != 0) return bad("has more than 9 decimals");
        continue;  // trailing zeros past nano-units change nothing
      }
      frac = frac * 10 + d;
    }
  }
  if (!digits) return bad("has no digits");
  for (int i = decimals; i < 9; ++i) frac *= 10;
  return whole * kNanosPerUnit + frac;
}

Result<Nanos> price_from_number(double value) {
  if (!std::isfinite(value) || value < 0)
    return fail(Code::kInvalidArgument, "price {} must be a non-negative number", value);
  if (value >= 1e8) return fail(Code::kInvalidArgument, "price {} is too large", value);
  double scaled = value * static_cast<double>(kNanosPerUnit);
  double nearest = std::round(scaled);
  // A double carries ~16 significant digits: a price with at most 9 decimals lands within a
  // tiny fraction of a nano-unit of an integer; anything further is a finer price than we keep.
  if (std::fabs(scaled - nearest) > 1e-3)
    return fail(Code::kInvalidArgument,
                "price {} has more than 9 decimals: prices are kept in nano-units", value);
  return static_cast<Nanos>(nearest);
}

std::string format_scaled(std::int64_t value, int scale, int min_decimals) {
  bool negative = value < 0;
  // Magnitude in unsigned so INT64_MIN does not overflow.
  std::uint64_t mag =
      negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::uint64_t pow = 1;
  for (int i = 0; i < scale; ++i) pow *= 10;
  std::uint64_t whole = mag / pow;
  std::uint64_t frac = mag % pow;
  std::string digits = scale > 0 ? fmt::format("{:0{}}", frac, scale) : std::string();
  while (static_cast<int>(digits.size()) > min_decimals && !digits.empty() && digits.back() == '0')
    digits.pop_back();
  std::string out = negative ? "-" : "";
  out += std::to_string(whole);
  if (!digits.empty()) out += "." + digits;
  return out;
}

std::string format_money(Nanos nanos) { return format_scaled(nanos, 9, 2); }

std::int64_t mul_div_round(std::int64_t a, std::int64_t b, std::int64_t d) {
  __int128 p = static_cast<__int128>(a) * b;
  __int128 half = d / 2;
  __int128 q = p >= 0 ? (p + half) / d : -((-p + half) / d);
  return static_cast<std::int64_t>(q);
}

}  // namespace svc::billing
