#include "scheduler/services/autoscaler.hpp"

#include <algorithm>
#include <cmath>

namespace svc::services {

namespace {
// KPA's max scale-up rate (1000x the ready count per tick) and max scale-down rate (2: at most
// half goes per tick), config-autoscaler defaults.
constexpr double kMaxScaleUpRate = 1000;
constexpr double kMaxScaleDownRate = 2;

double millis_between(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

Autoscaler::Autoscaler(ScalingSpec spec) : spec_(spec) {}

void Autoscaler::record(const LoadSample& s) {
  if (!samples_.empty()) {
    const LoadSample& last = samples_.back();
    if (s.at < last.at) return;  // out of order: ignore
    if (s.requests_total != last.requests_total ||
        s.concurrency_ms_total > last.concurrency_ms_total)
      touch(s.at);
  }
  if (s.in_flight > 0 || s.waiting > 0) touch(s.at);
  samples_.push_back(s);
  // Keep one sample at or before the start of the stable window, to interpolate from.
  SteadyTime horizon = s.at - spec_.stable_window;
  while (samples_.size() > 2 && samples_[1].at <= horizon) samples_.pop_front();
}

void Autoscaler::touch(SteadyTime t) {
  if (!last_active_ || *last_active_ < t) last_active_ = t;
}

void Autoscaler::start_in_panic(SteadyTime now, int instances) {
  if (instances <= 1) return;
  panic_time_ = now;
  max_panic_ = instances;
}

double Autoscaler::integral_at(SteadyTime t) const {
  // Linear between samples: the integral grows at the concurrency of the interval.
  if (t <= samples_.front().at) return samples_.front().concurrency_ms_total;
  for (std::size_t i = 1; i < samples_.size(); ++i) {
    const LoadSample& a = samples_[i - 1];
    const LoadSample& b = samples_[i];
    if (t <= b.at) {
      double span = millis_between(a.at, b.at);
      if (span <= 0) return b.concurrency_ms_total;
      double f = millis_between(a.at, t) / span;
      return a.concurrency_ms_total + f * (b.concurrency_ms_total - a.concurrency_ms_total);
    }
  }
  return samples_.back().concurrency_ms_total;
}

double Autoscaler::average(SteadyTime now, Millis window) const {
  if (samples_.empty()) return 0;
  const LoadSample& last = samples_.back();
  SteadyTime end = std::min(now, last.at);
  // A revision younger than the window averages over what it has seen (as KPA does with the
  // buckets it has); with a single sample, what it sees now is all there is.
  SteadyTime start = std::max(end - window, samples_.front().at);
  double span = millis_between(start, end);
  if (span < 1) return static_cast<double>(last.in_flight) + static_cast<double>(last.waiting);
  return std::max(0.0, (integral_at(end) - integral_at(start)) / span);
}

ScaleDecision Autoscaler::decide(SteadyTime now, int ready) {
  ScaleDecision d;
  int in_flight = samples_.empty() ? 0 : samples_.back().in_flight;
  std::size_t waiting = samples_.empty() ? 0 : samples_.back().waiting;
  d.demand_now = in_flight + static_cast<int>(waiting);
  d.stable_concurrency = average(now, spec_.stable_window);
  d.panic_concurrency = average(now, spec_.panic_window);

  // Idle-timeout alone decides zero (and min-instances): nothing in flight, nothing held, no
  // request for that long. It also ends any panic: there is nothing left to panic about.
  if (d.demand_now == 0 && (!last_active_ || now - *last_active_ >= spec_.idle_timeout)) {
    panic_time_.reset();
    max_panic_ = 0;
    d.idle = true;
    d.desired = spec_.min_instances;
    return d;
  }

  double ready1 = std::max(1, ready);
  double target = std::max(0.01, spec_.concurrency * spec_.target_utilization_percent / 100.0);
  double max_up = std::ceil(kMaxScaleUpRate * ready1);
  double max_down = std::floor(ready1 / kMaxScaleDownRate);
  double dspc = std::ceil(d.stable_concurrency / target);
  double dppc = std::ceil(d.panic_concurrency / target);
  int stable = static_cast<int>(std::min(std::max(dspc, max_down), max_up));
  int panic = static_cast<int>(std::min(std::max(dppc, max_down), max_up));
  // Held requests with no free slot: enough instances for all of them at once.
  int instant = 0;
  if (waiting > 0) instant = (d.demand_now + spec_.concurrency - 1) / spec_.concurrency;

  bool over = dppc / ready1 >= spec_.panic_threshold_percent / 100.0 || instant > ready;
  if (over) {
    panic_time_ = now;
  } else if (panic_time_ && *panic_time_ + spec_.stable_window < now) {
    panic_time_.reset();
    max_panic_ = 0;
  }

  int desired = std::max(stable, instant);
  if (panic_time_) {
    // Provision for the larger of the two windows, and never shrink while panicking.
    desired = std::max(desired, panic);
    max_panic_ = std::max(max_panic_, desired);
    desired = max_panic_;
    d.panicking = true;
  }
  desired = std::max(desired, 1);  // not idle: someone may be about to send the next request
  desired = std::max(desired, spec_.min_instances);
  if (spec_.max_instances > 0) desired = std::min(desired, spec_.max_instances);
  desired = std::min(desired, kMaxInstances);
  d.desired = desired;
  return d;
}

}  // namespace svc::services
