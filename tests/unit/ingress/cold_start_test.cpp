#include <catch2/catch.hpp>

#include "scheduler/ingress/cold_start.hpp"

using namespace svc::ingress;
using std::chrono::microseconds;

namespace {
SteadyTime t(long us) { return SteadyTime(microseconds(us)); }
}  // namespace

TEST_CASE("cold start: phases partition the wait from arrival to readiness", "[ingress][cold]") {
  // Arrived at 0, sandbox asked for at 200 us, running at 5 ms, ready at 5.6 ms.
  ColdPhases p = cold_phases(t(0), t(200), t(5000), t(5600));
  CHECK(p.queue == microseconds(200));
  CHECK(p.sandbox == microseconds(4800));
  CHECK(p.readiness == microseconds(600));
  p.first_byte = microseconds(400);
  std::string header;
  append_server_timing(header, p);
  CHECK(header == "queue;dur=0.2, sandbox;dur=4.8, readiness;dur=0.6, first-byte;dur=0.4");
}

TEST_CASE("cold start: a request that joined a start in progress, or a re-adopted instance",
          "[ingress][cold]") {
  // Arrived at 3 ms, after the start was asked for (1 ms) but before the sandbox ran (5 ms).
  ColdPhases p = cold_phases(t(3000), t(1000), t(5000), t(6000));
  CHECK(p.queue == microseconds(0));
  CHECK(p.sandbox == microseconds(2000));
  CHECK(p.readiness == microseconds(1000));
  // No start times at all: the whole wait is readiness.
  p = cold_phases(t(0), std::nullopt, std::nullopt, t(1500));
  CHECK(p.queue.count() == 0);
  CHECK(p.sandbox.count() == 0);
  CHECK(p.readiness == microseconds(1500));
  // Clock oddities never make negative phases.
  p = cold_phases(t(100), t(500), t(300), t(50));
  CHECK(p.queue.count() >= 0);
  CHECK(p.sandbox.count() >= 0);
  CHECK(p.readiness.count() >= 0);
}

TEST_CASE("cold start: the record rounds to milliseconds, the header keeps precision",
          "[ingress][cold]") {
  ColdPhases p;
  p.queue = microseconds(52);
  p.sandbox = microseconds(12345);
  p.readiness = microseconds(1500);
  p.first_byte = microseconds(999);
  ColdStart c = to_cold_start(p);
  CHECK(c.queue.count() == 0);
  CHECK(c.sandbox.count() == 12);
  CHECK(c.readiness.count() == 2);
  CHECK(c.first_byte.count() == 1);
  std::string header;
  append_server_timing(header, p);
  CHECK(header == "queue;dur=0.052, sandbox;dur=12.345, readiness;dur=1.5, first-byte;dur=0.999");
}
