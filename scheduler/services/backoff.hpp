#pragma once
// Crash back-off of one revision: a failed start or an early crash is replaced at once the
// first time (a single crash should cost one request, not a pause), then after 1 s, 2 s, 4 s
// ... up to a cap, as Kubernetes' CrashLoopBackOff but starting at zero and capped lower (held
// requests are waiting). An instance that stayed ready for `healthy_after` ends the streak.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace svc::services {

struct BackoffPolicy {
  std::chrono::milliseconds first{1'000};  // the delay after the second failure in a row
  std::chrono::milliseconds cap{30'000};
  std::chrono::milliseconds healthy_after{10'000};
};

class CrashBackoff {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit CrashBackoff(BackoffPolicy policy = {}) : policy_(policy) {}

  // A start failed or an instance crashed at `now`; ready_for: how long it had been ready
  // (nullopt: it never was). Returns the delay before the next start.
  std::chrono::milliseconds failed(Time now, std::optional<std::chrono::milliseconds> ready_for,
                                   std::string why) {
    if (ready_for && *ready_for >= policy_.healthy_after) streak_ = 0;
    ++streak_;
    last_error_ = std::move(why);
    std::chrono::milliseconds delay{0};
    if (streak_ >= 2) {
      delay = policy_.first;
      for (int i = 2; i < streak_ && delay < policy_.cap; ++i) delay *= 2;
      delay = std::min(delay, policy_.cap);
    }
    not_before_ = now + delay;
    return delay;
  }
  // An instance became ready: the revision can start; the streak ends once it stays healthy.
  void succeeded() { last_error_.clear(); }
  void reset() {
    streak_ = 0;
    last_error_.clear();
    not_before_ = Time{};
  }

  bool allowed(Time now) const { return now >= not_before_; }
  Time not_before() const { return not_before_; }
  int streak() const { return streak_; }
  const std::string& last_error() const { return last_error_; }

 private:
  BackoffPolicy policy_;
  int streak_ = 0;
  Time not_before_{};
  std::string last_error_;
};

}  // namespace svc::services
