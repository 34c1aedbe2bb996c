#pragma once
// Time behind an interface so timers and timestamps are testable without sleeping.
#include <chrono>
#include <cstdint>
#include <string>

namespace svc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (for records users read and bills).
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Monotonic time (for timeouts and durations).
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
};

// RFC 3339 in UTC with milliseconds: "2026-11-22T15:08:20.123Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::int64_t unix_millis(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_unix_millis(std::int64_t ms);

}  // namespace svc
