#include <catch2/catch.hpp>

#include "api/server/auth_limiter.hpp"

using namespace svc;
using namespace svc::api;
using namespace std::chrono_literals;

namespace {
class StepClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(t.time_since_epoch());
  }
  std::chrono::steady_clock::time_point steady_now() const override { return t; }
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
};
}  // namespace

TEST_CASE("a good token right after a bad one still works", "[auth_limiter]") {
  StepClock clock;
  AuthLimiter limiter(clock);
  limiter.failed("192.0.2.1");
  CHECK_FALSE(limiter.retry_after("192.0.2.1"));
}

TEST_CASE("past 10 failures a minute the peer waits, and only that peer", "[auth_limiter]") {
  StepClock clock;
  AuthLimiter limiter(clock);
  for (int i = 0; i < 9; ++i) {
    limiter.failed("192.0.2.1");
    clock.t += 1s;
  }
  CHECK_FALSE(limiter.retry_after("192.0.2.1"));  // 9 failures: still may try
  limiter.failed("192.0.2.1");                    // the 10th, at t0 + 9 s
  auto wait = limiter.retry_after("192.0.2.1");
  REQUIRE(wait);
  // Free once the first failure (t0) leaves the minute: at t0 + 60 s, now is t0 + 9 s.
  CHECK(*wait == 51s);
  CHECK_FALSE(limiter.retry_after("192.0.2.2"));

  clock.t += 50s;
  CHECK(limiter.retry_after("192.0.2.1"));
  clock.t += 1s;  // t0 + 60 s: the first failure left the window
  CHECK_FALSE(limiter.retry_after("192.0.2.1"));
  // One more failure puts it back at the limit, until the second failure (t0 + 1 s) leaves.
  limiter.failed("192.0.2.1");
  auto again = limiter.retry_after("192.0.2.1");
  REQUIRE(again);
  CHECK(*again == 1s);
}

TEST_CASE("failures older than the window are forgotten", "[auth_limiter]") {
  StepClock clock;
  AuthLimiter limiter(clock);
  for (int i = 0; i < 10; ++i) limiter.failed("192.0.2.1");
  CHECK(limiter.retry_after("192.0.2.1"));
  clock.t += 61s;
  CHECK_FALSE(limiter.retry_after("192.0.2.1"));
  CHECK(limiter.tracked_peers() == 0);
}

TEST_CASE("the limit and the window are options", "[auth_limiter]") {
  StepClock clock;
  AuthLimiter limiter(clock, {.max_failures = 2, .window = 10s, .max_peers = 100});
  limiter.failed("a");
  CHECK_FALSE(limiter.retry_after("a"));
  limiter.failed("a");
  CHECK(limiter.retry_after("a").value() == 10s);
}

TEST_CASE("memory stays bounded when many peers fail", "[auth_limiter]") {
  StepClock clock;
  AuthLimiter limiter(clock, {.max_failures = 10, .window = 60s, .max_peers = 100});
  for (int i = 0; i < 1000; ++i) {
    limiter.failed("peer-" + std::to_string(i));
    clock.t += 1ms;
  }
  CHECK(limiter.tracked_peers() <= 100);
  // The newest are kept.
  for (int i = 0; i < 9; ++i) limiter.failed("peer-999");
  CHECK(limiter.retry_after("peer-999"));
}

TEST_CASE("the peer key is the address without its port", "[auth_limiter]") {
  CHECK(AuthLimiter::peer_key("192.0.2.1:40000") == "192.0.2.1");
  CHECK(AuthLimiter::peer_key("[::1]:40000") == "::1");
  CHECK(AuthLimiter::peer_key("[2001:db8::1]:1") == "2001:db8::1");
  CHECK(AuthLimiter::peer_key("") == "");
  CHECK(AuthLimiter::peer_key("host") == "host");
}
