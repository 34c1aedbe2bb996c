// CPU outside requests on a fake clock: the planner's hysteresis (release at once, throttle after
// the hold), retries of failed writes, and the executor applying changes through a recording
// limiter — from its thread too, woken by a busy edge.
#include <catch2/catch.hpp>

#include <condition_variable>

#include "scheduler/cpu_idle.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::scheduler;
using namespace std::chrono_literals;

namespace {

SteadyTime t(std::int64_t ms) {
  return SteadyTime(std::chrono::hours(1) + std::chrono::milliseconds(ms));
}

CpuIdleOptions options() {
  CpuIdleOptions o;
  o.hold = 500ms;
  o.idle_cpu_millis = 10;
  return o;
}

struct Limiter final : CpuLimiter {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::int64_t>> writes;
  int fail = 0;  // the next `fail` writes fail
  Result<> set_cpu_limit(const std::string& id, std::int64_t millis) override {
    std::lock_guard lock(mu);
    if (fail > 0) {
      --fail;
      return svc::fail(Code::kUnavailable, "cpu.max: device busy");
    }
    writes.emplace_back(id, millis);
    cv.notify_all();
    return {};
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return writes.size();
  }
};

}  // namespace

TEST_CASE("cpu idle: throttled after the hold, released at once on a request",
          "[scheduler][cpu_idle]") {
  CpuIdlePlanner p(options());
  p.add("i1", 1000, t(0));
  CHECK(p.due(t(499)).empty());
  CHECK(p.next_deadline() == t(500));
  auto d = p.due(t(500));
  REQUIRE(d.size() == 1);
  CHECK(d[0] == CpuLimitChange{"i1", 10, true});
  CHECK(p.throttled("i1"));
  CHECK_FALSE(p.next_deadline().has_value());  // nothing pending while idle and throttled
  // A request: due at once, and the caller is told to wake the executor.
  CHECK(p.on_busy("i1", true, t(900)));
  CHECK(p.next_deadline() == SteadyTime::min());
  d = p.due(t(900));
  REQUIRE(d.size() == 1);
  CHECK(d[0] == CpuLimitChange{"i1", 1000, false});
  CHECK_FALSE(p.throttled("i1"));
  // Busy: never throttled, however long the request.
  CHECK(p.due(t(60'000)).empty());
}

TEST_CASE("cpu idle: gaps shorter than the hold write nothing (hysteresis)",
          "[scheduler][cpu_idle]") {
  CpuIdlePlanner p(options());
  p.add("i1", 2000, t(0));
  std::size_t changes = 0;
  // A request every 300 ms lasting 100 ms, for 30 s: idle gaps of 200 ms.
  for (std::int64_t at = 100; at < 30'000; at += 300) {
    CHECK_FALSE(p.on_busy("i1", true, t(at)));
    changes += p.due(t(at)).size();
    CHECK_FALSE(p.on_busy("i1", false, t(at + 100)));
    changes += p.due(t(at + 250)).size();
  }
  CHECK(changes == 0);
  // Repeated edges (a reconnect re-reports) change nothing.
  CHECK_FALSE(p.on_busy("i1", false, t(30'000)));
  // Then it goes quiet: one throttle, after the hold from its last request.
  CHECK(p.due(t(29'900 + 499)).empty());
  CHECK(p.due(t(29'900 + 500)).size() == 1);
  // Unknown instances (task sandboxes, instance mode) are ignored.
  CHECK_FALSE(p.on_busy("other", true, t(0)));
}

TEST_CASE("cpu idle: failed writes are retried, releases first", "[scheduler][cpu_idle]") {
  CpuIdlePlanner p(options());
  p.add("a", 1000, t(0));
  p.add("b", 500, t(0));
  auto d = p.due(t(600));
  REQUIRE(d.size() == 2);
  p.failed(d[0], t(600));  // the throttle of one did not happen: tried again after a hold
  CHECK(p.due(t(1'000)).empty());
  CHECK(p.due(t(1'100)).size() == 1);
  // Both throttled now; "b" busy, and a new idle "c" due too: the release comes first.
  p.add("c", 1000, t(0));
  p.on_busy("b", true, t(1'200));
  d = p.due(t(1'200));
  REQUIRE(d.size() == 2);
  CHECK(d[0] == CpuLimitChange{"b", 500, false});
  CHECK(d[1].throttle);
  p.failed(d[0], t(1'200));  // the release failed: due again at once
  CHECK(p.next_deadline() == SteadyTime::min());
  d = p.due(t(1'210));
  REQUIRE(d.size() == 1);
  CHECK(d[0] == CpuLimitChange{"b", 500, false});
  // Removing a throttled instance gives back the write of its full limit.
  auto back = p.remove("a");
  REQUIRE(back);
  CHECK(*back == CpuLimitChange{"a", 1000, false});
  CHECK_FALSE(p.remove("b").has_value());  // not throttled: nothing to restore
  CHECK(p.size() == 1);
}

TEST_CASE("cpu idle executor: applies through the limiter, woken by a request",
          "[scheduler][cpu_idle]") {
  test::FakeClock clock;
  Limiter limiter;
  CpuIdleThrottle throttle(limiter, clock, options());
  throttle.add("i1", 1000);
  CHECK(throttle.apply_due() == 0);
  clock.offset = 500ms;
  CHECK(throttle.apply_due() == 1);
  CHECK(limiter.writes.back() == std::make_pair(std::string("i1"), std::int64_t{10}));
  CHECK(throttle.throttled("i1"));

  // With the thread running: a busy edge is applied without waiting for a deadline.
  throttle.start();
  throttle.on_busy("i1", true, clock.steady_now());
  {
    std::unique_lock lock(limiter.mu);
    REQUIRE(limiter.cv.wait_for(lock, 10s, [&] { return limiter.writes.size() == 2; }));
    CHECK(limiter.writes.back() == std::make_pair(std::string("i1"), std::int64_t{1000}));
  }
  throttle.stop();
  CHECK_FALSE(throttle.throttled("i1"));

  // A failed write is retried; removing a throttled instance restores its limit.
  throttle.on_busy("i1", false, clock.steady_now());
  clock.offset += 500ms;
  limiter.fail = 1;
  CHECK(throttle.apply_due() == 0);
  CHECK_FALSE(throttle.throttled("i1"));
  clock.offset += 500ms;
  CHECK(throttle.apply_due() == 1);
  CHECK(throttle.throttled("i1"));
  throttle.remove("i1");
  CHECK(limiter.writes.back() == std::make_pair(std::string("i1"), std::int64_t{1000}));
  CHECK(limiter.count() == 4);
}
