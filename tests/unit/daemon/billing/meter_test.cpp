// The meter on a fake clock: which records it samples when, and what it writes.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/billing/meter.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;
using namespace std::chrono_literals;

namespace {

struct Probe final : UsageProbe {
  std::map<std::string, Sample> samples;
  int calls = 0;
  std::optional<Sample> sample(const std::string& id) override {
    ++calls;
    auto it = samples.find(id);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
};

struct Harness {
  scheduler::test::FakeClock clock;
  TempDir dir;
  std::unique_ptr<Store> db = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage{*db};
  Probe probe;
  UsageMeter::Options options = [] {
    UsageMeter::Options o;
    o.interval = 10s;
    return o;
  }();
  UsageMeter meter{usage, probe, clock, options};

  std::int64_t now() const { return unix_millis(clock.now()); }
  UsageRecord open(const std::string& task_id) {
    UsageRecord r;
    r.id = "task:" + task_id;
    r.owner.task_id = task_id;
    r.owner.name = task_id;
    r.start_ms = now();
    r.cpu_request_millis = 1000;
    r.memory_request_bytes = 1ULL << 30;
    REQUIRE(usage.open(r));
    return r;
  }
  UsageRecord get(const std::string& task_id) {
    return usage.get("task:" + task_id).value().value();
  }
};

}  // namespace

TEST_CASE("meter: a new run is sampled after a second, then every interval", "[billing][meter]") {
  Harness h;
  h.open("a");
  h.probe.samples["a"] = Sample{0.5, 100 << 20, 120 << 20};
  h.clock.offset += 500ms;
  CHECK(h.meter.checkpoint_once().value() == 0);
  h.clock.offset += 500ms;
  CHECK(h.meter.checkpoint_once().value() == 1);
  UsageRecord r = h.get("a");
  CHECK(r.checkpoint_ms == h.now());
  CHECK(r.measured.cpu_ms == 500);
  CHECK(r.measured.memory_peak_bytes == 120 << 20);
  CHECK(r.measured.memory_avg_bytes == 100 << 20);
  CHECK(r.measured.memory_sampled_ms == 1'000);
  h.clock.offset += 9'000ms;
  CHECK(h.meter.checkpoint_once().value() == 0);
  h.probe.samples["a"] = Sample{4.0, 200 << 20, 210 << 20};
  h.clock.offset += 1'000ms;
  CHECK(h.meter.checkpoint_once().value() == 1);
  r = h.get("a");
  CHECK(r.measured.cpu_ms == 4'000);
  // 100 MiB for 1 s, then 200 MiB for 10 s: time-weighted.
  CHECK(r.measured.memory_avg_bytes == (100ULL * 1'000 + 200ULL * 10'000) * (1 << 20) / 11'000);
  CHECK(r.measured.memory_sampled_ms == 11'000);
}

TEST_CASE("meter: measured figures never go down, a vanished sandbox is skipped",
          "[billing][meter]") {
  Harness h;
  h.open("a");
  h.open("b");
  h.probe.samples["a"] = Sample{3.0, 50 << 20, 90 << 20};
  h.clock.offset += 2s;
  CHECK(h.meter.checkpoint_once().value() == 1);  // b's sandbox is gone: nothing to write
  CHECK(h.get("b").checkpoint_ms == h.get("b").start_ms);
  h.probe.samples["a"] = Sample{2.0, 10 << 20, 20 << 20};  // a reset counter reads lower
  h.clock.offset += 10s;
  CHECK(h.meter.checkpoint_once().value() == 1);
  CHECK(h.get("a").measured.cpu_ms == 3'000);
  CHECK(h.get("a").measured.memory_peak_bytes == 90 << 20);
}

TEST_CASE("meter: after svcd was down, one sample does not stand for the whole gap",
          "[billing][meter]") {
  Harness h;
  h.open("a");
  h.probe.samples["a"] = Sample{1.0, 100 << 20, 100 << 20};
  h.clock.offset += 1s;
  REQUIRE(h.meter.checkpoint_once().value() == 1);
  // svcd down for an hour: a new meter (a restarted svcd) picks the record up at once.
  h.clock.offset += 3'600s;
  UsageMeter again(h.usage, h.probe, h.clock, h.options);
  h.probe.samples["a"] = Sample{9.0, 300 << 20, 300 << 20};
  CHECK(again.checkpoint_once().value() == 1);
  UsageRecord r = h.get("a");
  CHECK(r.measured.memory_sampled_ms == 1'000 + 20'000);  // capped at two intervals
  CHECK(r.measured.cpu_ms == 9'000);
}

TEST_CASE("meter: the thread checkpoints on its own and stops cleanly", "[billing][meter]") {
  Harness h;
  h.open("a");
  h.probe.samples["a"] = Sample{1.0, 1 << 20, 1 << 20};
  h.clock.offset += 5s;  // due as soon as the thread ticks
  UsageMeter::Options o = h.options;
  o.tick = 10ms;
  UsageMeter threaded(h.usage, h.probe, h.clock, o);
  threaded.start();
  threaded.wake();
  bool written = false;
  for (int i = 0; i < 500 && !written; ++i) {
    written = h.get("a").checkpoint_ms == h.now();
    if (!written) std::this_thread::sleep_for(10ms);
  }
  threaded.stop();
  CHECK(written);
}
