#pragma once
// Request-mode accounting (Cloud Run's "CPU only during requests"): an instance bills for the
// seconds of its life in which it was busy — at least one request in flight — plus its start-up
// and shut-down. Second k of an instance is [origin + k s, origin + (k+1) s), origin being when
// its sandbox started; a second is billed once when any busy interval touches it, so a 3 ms
// request bills one second and a request from 0.9 s to 1.1 s bills two (seconds 0 and 1).
//
// The proxy reports edges (0 -> 1 in flight: busy, 1 -> 0: idle) on the millisecond; the state
// is a few integers, checkpointed with the usage record, so a restarted svcd carries on counting
// where the last checkpoint left off. Pure logic: no clock of its own, times are wall ms.
#include <cstdint>
#include <optional>

namespace svc::billing {

struct BusyState {
  std::int64_t counted = 0;                   // billed seconds of intervals already closed
  std::int64_t last_bucket = -1;              // the highest second counted so far (-1: none)
  std::optional<std::int64_t> busy_since_ms;  // an interval still open (wall ms)
  std::int64_t busy_ms = 0;  // milliseconds busy over closed intervals (measured, not billed)
  bool operator==(const BusyState&) const = default;
};

class BusySeconds {
 public:
  explicit BusySeconds(std::int64_t origin_ms, BusyState state = {})
      : origin_ms_(origin_ms), state_(state) {}

  // Edges; a second busy() while busy and an idle() while idle change nothing (the proxy's
  // edges may repeat after a reconnect).
  void busy(std::int64_t at_ms);
  void idle(std::int64_t at_ms);
  // A whole interval: start-up (sandbox start -> ready) and shut-down (drain -> exit).
  void add(std::int64_t from_ms, std::int64_t to_ms);

  // Billed seconds up to now: an open busy interval counts up to now.
  std::int64_t billed_seconds(std::int64_t now_ms) const;
  std::int64_t busy_ms(std::int64_t now_ms) const;
  bool is_busy() const { return state_.busy_since_ms.has_value(); }
  const BusyState& state() const { return state_; }
  std::int64_t origin_ms() const { return origin_ms_; }
  // The second that at_ms falls in (0-based from origin).
  std::int64_t bucket(std::int64_t at_ms) const;

 private:
  // Buckets [from, to] beyond last counted, and the new last bucket.
  std::int64_t new_buckets(std::int64_t from_ms, std::int64_t to_ms,
                           std::int64_t* last_bucket) const;

  std::int64_t origin_ms_;
  BusyState state_;
};

// Turns overlapping requests into busy/idle edges: what the proxy does per instance, kept here so
// request-mode accounting is tested end to end on a fake clock.
class InFlight {
 public:
  explicit InFlight(BusySeconds& seconds) : seconds_(seconds) {}
  void begin(std::int64_t at_ms) {
    if (in_flight_++ == 0) seconds_.busy(at_ms);
  }
  void end(std::int64_t at_ms) {
    if (in_flight_ > 0 && --in_flight_ == 0) seconds_.idle(at_ms);
  }
  int in_flight() const { return in_flight_; }

 private:
  BusySeconds& seconds_;
  int in_flight_ = 0;
};

}  // namespace svc::billing
