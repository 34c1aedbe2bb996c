#pragma once
// Fakes for the ingress's unit tests: a clock the test moves, a control plane that records what
// the data plane told it, and a waiter that records the outcome of a held request.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "scheduler/ingress/activator.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::ingress::test {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'000)) +
           std::chrono::nanoseconds(offset_ns.load());
  }
  SteadyTime steady_now() const override {
    return SteadyTime(std::chrono::hours(1)) + std::chrono::nanoseconds(offset_ns.load());
  }
  void advance(std::chrono::nanoseconds d) { offset_ns += d.count(); }
  SteadyTime at(std::chrono::nanoseconds since_start) const {
    return SteadyTime(std::chrono::hours(1)) + since_start;
  }
  std::atomic<std::int64_t> offset_ns{0};
};

class RecordingControlPlane final : public ControlPlane {
 public:
  void on_demand(const std::string& revision, std::size_t waiting) override {
    std::lock_guard l(mu);
    events.push_back("demand " + revision + " " + std::to_string(waiting));
  }
  void on_ready(const std::string& id, SteadyTime) override {
    std::lock_guard l(mu);
    events.push_back("ready " + id);
  }
  void on_not_ready(const std::string& id, std::string why) override {
    std::lock_guard l(mu);
    events.push_back("not_ready " + id + ": " + why);
  }
  void on_drained(const std::string& id) override {
    std::lock_guard l(mu);
    events.push_back("drained " + id);
  }
  void on_busy(const std::string& id, bool busy, SteadyTime) override {
    std::lock_guard l(mu);
    events.push_back(std::string(busy ? "busy " : "idle ") + id);
  }
  void on_upstream_error(const std::string& id, std::string why) override {
    std::lock_guard l(mu);
    events.push_back("upstream_error " + id + ": " + why);
  }
  void on_request(const RequestRecord& r) override {
    std::lock_guard l(mu);
    records.push_back(r);
  }
  std::vector<std::string> take() {
    std::lock_guard l(mu);
    return std::exchange(events, {});
  }
  std::mutex mu;
  std::vector<std::string> events;
  std::vector<RequestRecord> records;
};

class RecordingWaiter final : public Waiter {
 public:
  void granted(std::uint64_t wait_id, Lease given) override {
    id = wait_id;
    lease = std::move(given);
  }
  void rejected(std::uint64_t wait_id, int s, std::string r) override {
    id = wait_id;
    status = s;
    reason = std::move(r);
  }
  std::optional<std::uint64_t> id;
  Lease lease;
  int status = 0;
  std::string reason;
};

inline InstanceEndpoint endpoint(const std::string& id, const std::string& revision,
                                 int concurrency = 2) {
  InstanceEndpoint ep;
  ep.id = id;
  ep.service = revision.substr(0, revision.rfind('-'));
  ep.revision = revision;
  ep.concurrency = concurrency;
  return ep;
}

inline ServiceRoute route(const std::string& service, std::vector<TrafficTarget> traffic,
                          std::size_t queue_limit = 1000) {
  ServiceRoute r;
  r.service = service;
  r.traffic = std::move(traffic);
  r.queue_limit = queue_limit;
  return r;
}

}  // namespace svc::ingress::test
