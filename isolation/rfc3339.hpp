#pragma once
// RFC 3339 timestamps with nanoseconds in UTC, as the CRI log format and exit records use:
// "2026-11-22T15:08:20.123456789Z". Parsing also takes fewer fraction digits and "+00:00".
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc::isolation {

using TimePoint = std::chrono::system_clock::time_point;

std::string format_rfc3339_nano(TimePoint t);
Result<TimePoint> parse_rfc3339(std::string_view text);

}  // namespace svc::isolation
