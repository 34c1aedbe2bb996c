#pragma once
// The autoscaler of one revision: how many instances it should have now. It follows Knative's
// KPA (pkg/autoscaler/scaling/autoscaler.go) where that works, and departs from it where KPA's
// users hit trouble:
//
// - Average concurrency (requests in flight plus held) over a stable window (60 s) and a panic
//   window (6 s), from the data plane's exact concurrency integral (no sampling gaps), against
//   concurrency x target utilisation (70 %). Desired = ceil(average / target).
// - Panic: when the panic window asks for at least panic-threshold (200 %) of the ready
//   instances, or requests are held with no free slot. While panicking the count only grows;
//   panic ends one stable window after the last tick over the threshold (by then the surge is
//   part of the stable average, so leaving panic does not undo it: knative/serving#3153).
// - Scale-down is at most by half per tick (KPA's max scale-down rate of 2), so an average that
//   lags behind a burst cannot cut the count to a fraction and make it climb back (#9121).
// - Requests held with no free slot ask at once for ceil((in flight + held) / concurrency)
//   instances, so a burst at zero gets its instances in the same tick, not windows later.
// - Zero is decided by idle-timeout alone: no request for that long (nothing in flight, nothing
//   held) means min-instances (0), whatever the windows say; until then never fewer than one.
//   Low, sparse traffic therefore neither flaps 1 -> 0 -> 1 nor lingers past its idle-timeout
//   (#11926, #12966, #5813).
// - min and max always hold; the caller (the controller) also bounds the count by the node's
//   capacity.
//
// Pure logic on the caller's clock: no threads, no locks (the controller serialises calls).
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "scheduler/services/service.hpp"

namespace svc::services {

// One reading of the data plane's load for the revision.
struct LoadSample {
  SteadyTime at{};
  double concurrency_ms_total = 0;  // integral of (in flight + held), request-ms
  std::uint64_t requests_total = 0;
  std::size_t waiting = 0;
  int in_flight = 0;
};

struct ScaleDecision {
  int desired = 0;
  bool panicking = false;
  bool idle = false;  // idle-timeout passed: desired is min-instances
  double stable_concurrency = 0;
  double panic_concurrency = 0;
  int demand_now = 0;  // in flight + held at the last sample
};

class Autoscaler {
 public:
  // A new revision is idle until its first request (it costs nothing until then).
  explicit Autoscaler(ScalingSpec spec);

  void set_spec(const ScalingSpec& spec) { spec_ = spec; }
  const ScalingSpec& spec() const { return spec_; }

  // Feeds one reading (at most one per tick is enough; more are fine).
  void record(const LoadSample& sample);
  // A request was seen at t (held or routed): the idle clock restarts.
  void touch(SteadyTime t);
  // Starts in panic holding `instances` (a restarted svcd re-adopting more than one instance
  // has no history yet: it must not scale down before it has some, as KPA starts in panic).
  void start_in_panic(SteadyTime now, int instances);

  // ready: instances serving now (the base of the rates, as KPA's ready pod count).
  ScaleDecision decide(SteadyTime now, int ready);

  std::optional<SteadyTime> last_active() const { return last_active_; }

  // Average concurrency over [now - window, now] (exposed for tests and `describe`).
  double average(SteadyTime now, Millis window) const;

 private:
  double integral_at(SteadyTime t) const;

  ScalingSpec spec_;
  std::deque<LoadSample> samples_;         // oldest first, trimmed to the stable window
  std::optional<SteadyTime> last_active_;  // the last request seen; none yet: idle
  std::optional<SteadyTime> panic_time_;   // last tick over the panic threshold
  int max_panic_ = 0;
};

}  // namespace svc::services
