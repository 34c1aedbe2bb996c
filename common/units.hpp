#pragma once
// Parsing and printing of the quantities users type: sizes ("256Mi", "1G"), CPU amounts ("0.25",
// "500m") and durations ("90s", "5m", "1h30m"). Every bad form is an error that quotes the input.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc {

// Bytes. Binary suffixes Ki Mi Gi Ti Pi Ei (powers of 1024), decimal k K M G T P E (powers of
// 1000, as Kubernetes quantities), and optional trailing "B"/"b" after either ("256MiB", "1GB").
// A bare number is bytes. Fractions are allowed with a suffix ("1.5Gi") and rounded up to a byte.
Result<std::uint64_t> parse_size(std::string_view text);
// "256Mi", "123" — the shortest exact binary form, else bytes (round-trips through parse_size).
std::string format_size(std::uint64_t bytes);
// For people: one decimal in the largest binary unit that fits ("23.5Gi", "512Mi", "980B").
std::string format_size_human(std::uint64_t bytes);

// CPU in millicores: "0.25" and "250m" are both 250; "2" is 2000. At most 3 decimals; > 0 unless
// allow_zero; at most 1,000,000 cores (an absurd value is a typo).
Result<std::int64_t> parse_cpu_millis(std::string_view text, bool allow_zero = false);
std::string format_cpu_millis(std::int64_t millis);

// Durations: a sequence of <number><unit> with units ms, s, m, h, d ("1h30m", "90s", "250ms",
// "1.5s"). A bare "0" is zero. Negative durations are refused.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace svc
