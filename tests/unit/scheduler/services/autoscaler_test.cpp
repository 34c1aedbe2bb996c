// The autoscaler on a fake clock, against Knative KPA's published behaviour and the flapping
// cases its users reported.
#include <catch2/catch.hpp>

#include "scheduler/services/autoscaler.hpp"

using namespace svc::services;
using namespace std::chrono_literals;

namespace {

// One revision under scripted load: each step is a 100 ms tick; instances become ready at once
// (ready = what was wanted the tick before), unless a test says otherwise.
struct Sim {
  // The controller records a sample at every pass, from the revision's creation on.
  explicit Sim(ScalingSpec s) : spec(s), scaler(s) { scaler.record(LoadSample{now, 0, 0, 0, 0}); }
  ScalingSpec spec;
  Autoscaler scaler;
  SteadyTime now = SteadyTime(std::chrono::hours(5));
  double integral = 0;
  std::uint64_t requests = 0;
  int ready = 0;
  bool instant_ready = true;

  // c requests want service at once: the ready instances take up to `concurrency` each, the
  // data plane holds the rest (as it would), plus w held on top.
  ScaleDecision step(double c, std::size_t w = 0, Millis dt = 100ms) {
    now += dt;
    integral += (c + static_cast<double>(w)) * static_cast<double>(dt.count());
    if (c > 0) ++requests;
    double in = std::min(c, static_cast<double>(ready) * spec.concurrency);
    auto held = static_cast<std::size_t>(c - in) + w;
    scaler.record(LoadSample{now, integral, requests, held, static_cast<int>(in)});
    ScaleDecision d = scaler.decide(now, ready);
    if (instant_ready) ready = d.desired;
    return d;
  }
  // Runs for `d` at a constant load and returns every desired count seen.
  std::vector<int> run(Millis d, double c, std::size_t w = 0) {
    std::vector<int> seen;
    for (Millis t{0}; t < d; t += 100ms) seen.push_back(step(c, w).desired);
    return seen;
  }
};

ScalingSpec knobs(int concurrency = 10) {
  ScalingSpec s;
  s.concurrency = concurrency;  // target = 7 at 70 %
  return s;
}

bool non_increasing(const std::vector<int>& v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[i - 1]) return false;
  return true;
}

}  // namespace

TEST_CASE("autoscaler: a new revision is idle, idle-timeout alone decides zero", "[autoscaler]") {
  ScalingSpec s = knobs();
  s.idle_timeout = 1s;
  Sim sim(s);
  CHECK(sim.step(0).desired == 0);  // nothing has asked for it yet
  CHECK(sim.step(0).idle);

  // One request: an instance, kept while requests come and for idle-timeout after the last.
  CHECK(sim.step(0, 1).desired == 1);
  CHECK(sim.step(1).desired == 1);
  SteadyTime last = sim.now;
  int zero_after_ms = -1;
  for (int i = 1; i <= 20; ++i) {
    ScaleDecision d = sim.step(0);
    if (d.desired == 0) {
      zero_after_ms = static_cast<int>((sim.now - last) / 1ms);
      break;
    }
    CHECK(d.desired == 1);
  }
  CHECK(zero_after_ms == 1000);  // exactly at idle-timeout, on the tick that reaches it
}

TEST_CASE("autoscaler: the stable average against concurrency x target utilisation",
          "[autoscaler]") {
  Sim sim(knobs(10));
  // 35 at once, 10 per instance at 70 % -> ceil(35 / 7) = 5, from the first tick on (a young
  // revision averages over what it has seen) and steadily after.
  auto seen = sim.run(70s, 35);
  CHECK(seen.front() == 5);
  CHECK(seen.back() == 5);
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 5; }));
  ScaleDecision d = sim.step(35);
  CHECK(d.stable_concurrency == Approx(35));
  CHECK(d.panic_concurrency == Approx(35));
  CHECK_FALSE(d.panicking);
}

TEST_CASE("autoscaler: a burst held at zero gets every instance it needs in one tick",
          "[autoscaler]") {
  ScalingSpec s = knobs(10);
  s.max_instances = 50;
  Sim sim(s);
  sim.instant_ready = false;  // nothing is ready yet while they start
  ScaleDecision d = sim.step(0, 1000);
  CHECK(d.desired == 50);  // 1000 / 10 = 100, capped by max
  CHECK(d.panicking);
  // While the instances start the count holds (no scale-down in panic).
  sim.ready = 10;
  CHECK(sim.step(100, 900).desired == 50);
}

TEST_CASE("autoscaler: leaving panic does not undo the scale-up (knative/serving#3153)",
          "[autoscaler]") {
  Sim sim(knobs(10));
  auto warm = sim.run(60s, 14);  // 2 instances
  CHECK(warm.back() == 2);
  auto burst = sim.run(6s, 200);  // held requests: panic, then ceil(200 / 7) = 29
  CHECK(burst.front() == 20);     // all 200 at once, 10 each, in the burst's first tick
  CHECK(burst.back() == 29);
  CHECK(non_increasing(std::vector<int>(burst.rbegin(), burst.rend())));  // only grew
  // Back to the old load: the count holds for a stable window after the panic began, then
  // comes down step by step, never below what the load needs and never back up (no flapping).
  auto after = sim.run(150s, 14);
  std::vector<int> hold(after.begin(), after.begin() + 500);  // the 50 s after the burst
  CHECK(std::all_of(hold.begin(), hold.end(), [](int n) { return n == 29; }));
  CHECK(non_increasing(after));
  CHECK(*std::min_element(after.begin(), after.end()) == 2);
  CHECK(after.back() == 2);
}

TEST_CASE("autoscaler: no dip below the need once the panic window passes (#9121)",
          "[autoscaler]") {
  // The load is queued while too few instances are ready (high concurrency), and served fast
  // once enough are (concurrency falls to what they really need): the count must settle from
  // above, without dropping below the need and climbing back.
  Sim sim(knobs(10));
  sim.instant_ready = false;
  std::vector<int> seen;
  for (int tick = 0; tick < 3000; ++tick) {
    double c = sim.ready < 9 ? 140 : 60;  // 60 at once needs ceil(60 / 7) = 9
    ScaleDecision d = sim.step(c);
    seen.push_back(d.desired);
    if (tick % 5 == 4) sim.ready = d.desired;  // instances get ready half a second later
  }
  auto peak = std::max_element(seen.begin(), seen.end());
  CHECK(*peak == 20);
  std::vector<int> down(peak, seen.end());
  CHECK(non_increasing(down));
  CHECK(*std::min_element(down.begin(), down.end()) >= 9);
  CHECK(seen.back() == 9);
}

TEST_CASE("autoscaler: sparse traffic neither flaps to zero nor lingers (#11926, #12966)",
          "[autoscaler]") {
  ScalingSpec s = knobs(80);
  s.idle_timeout = 60s;
  Sim sim(s);
  // One 20 ms request every 5 s for five minutes: the windows average near zero (what makes
  // KPA flap 1 -> 0 -> 1), but idle-timeout never passes, so one instance stays.
  std::vector<int> seen;
  for (int i = 0; i < 60; ++i) {
    sim.now += 80ms;  // a request of 20 ms inside a 100 ms tick
    sim.integral += 20;
    ++sim.requests;
    sim.scaler.record(LoadSample{sim.now, sim.integral, sim.requests, 0, 0});
    seen.push_back(sim.scaler.decide(sim.now, sim.ready).desired);
    sim.ready = seen.back();
    for (int t = 0; t < 49; ++t) seen.push_back(sim.step(0).desired);
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  // The last request was 4.9 s ago: zero 60 s after it, not before and not later.
  SteadyTime last = sim.now - 4900ms;
  while (sim.step(0).desired == 1) {
  }
  CHECK(sim.now - last == 60s);
}

TEST_CASE("autoscaler: min and max always hold, min stays when idle", "[autoscaler]") {
  ScalingSpec s = knobs(10);
  s.min_instances = 2;
  s.max_instances = 4;
  s.idle_timeout = 1s;
  Sim sim(s);
  CHECK(sim.step(0).desired == 2);    // idle: min
  CHECK(sim.step(100).desired == 4);  // 100 / 7 = 15, capped
  CHECK(sim.step(0, 500).desired == 4);
  auto idle = sim.run(120s, 0);
  CHECK(idle.back() == 2);
}

TEST_CASE("autoscaler: scale-down at most halves per tick", "[autoscaler]") {
  ScalingSpec s = knobs(10);
  s.stable_window = 6s;  // short windows, so the average falls within the test
  s.panic_window = 6s;
  Sim sim(s);
  sim.run(20s, 280);  // 40 instances
  CHECK(sim.ready == 40);
  // The load stops but a request trickles in (not idle): down 40 -> 20 -> 10 ... -> 1.
  std::vector<int> seen;
  for (int i = 0; i < 400 && sim.ready > 1; ++i) {
    int before = sim.ready;
    int now = sim.step(i % 5 == 0 ? 1 : 0).desired;
    CHECK(now >= before / 2);
    seen.push_back(now);
  }
  CHECK(sim.ready == 1);
}

TEST_CASE("autoscaler: a restart holds the re-adopted count until it has history", "[autoscaler]") {
  ScalingSpec s = knobs(10);
  s.idle_timeout = 60s;
  Sim sim(s);
  sim.scaler.start_in_panic(sim.now, 5);
  sim.scaler.touch(sim.now);
  sim.ready = 5;
  auto seen = sim.run(30s, 1);  // little load: stable wants 1, but no history yet
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 5; }));
  auto later = sim.run(60s, 1);
  CHECK(later.back() == 1);
}
