#pragma once
// Money and other exact quantities of a bill, as integers: prices and costs in nano-units of the
// currency (0.0000113 per vCPU-second is 11'300), CPU in milli-vCPU-seconds, memory in
// MiB-seconds. Nothing on the way from a price in svcd.toml to a total in `svctl usage` is a
// float, so totals are the exact sums of their rows and never drift.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc::billing {

// Nano-units of the currency (1e-9). int64 holds 9.2e9 whole units: far beyond any one node.
using Nanos = std::int64_t;
inline constexpr Nanos kNanosPerUnit = 1'000'000'000;

// "0.0000113" -> 11'300. Plain decimal: digits, at most one '.', at most 9 decimals (a finer
// price cannot be represented and is refused, not rounded), not negative, below 1e9.
Result<Nanos> parse_price(std::string_view decimal);
// A TOML float such as 0.0000113: exact when it has at most 9 decimals (checked on the nearest
// nano-unit, since binary floats cannot hold 0.0000113 exactly); else refused.
Result<Nanos> price_from_number(double value);

// value / 10^scale as an exact decimal with trailing zeros trimmed down to min_decimals:
// (11300, 9) -> "0.0000113", (1500, 3) -> "1.5", (-25, 2) -> "-0.25".
std::string format_scaled(std::int64_t value, int scale, int min_decimals = 0);
// A price or cost: format_scaled(nanos, 9, 2): "0.0000113", "12.40", "0.00".
std::string format_money(Nanos nanos);

// round(a * b / d), halves away from zero, computed in 128 bits (no overflow for any int64
// a and b); d > 0.
std::int64_t mul_div_round(std::int64_t a, std::int64_t b, std::int64_t d);
// ceil(a / d) for a >= 0, d > 0.
inline std::int64_t ceil_div(std::int64_t a, std::int64_t d) {
  return a <= 0 ? 0 : (a + d - 1) / d;
}

}  // namespace svc::billing
