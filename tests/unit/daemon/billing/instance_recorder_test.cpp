// Instance usage records on a fake clock and a real svcd.db: both billing modes from the proxy's
// edges (start-up, busy seconds, shut-down), the meter writing the accounting of live instances,
// and a restart of svcd that re-adopts an instance and bills each second once.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/billing/instance_recorder.hpp"
#include "daemon/billing/usage_api.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;
using namespace std::chrono_literals;

namespace {

struct Probe final : UsageProbe {
  std::optional<Sample> sample(const std::string&) override { return Sample{0.5, 64 << 20, 0}; }
};

struct Harness {
  scheduler::test::FakeClock clock;
  TempDir dir;
  std::unique_ptr<Store> db = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage{*db};
  Policy policy;
  std::unique_ptr<InstanceUsageRecorder> recorder =
      std::make_unique<InstanceUsageRecorder>(policy, clock);
  std::chrono::system_clock::time_point t0 = clock.now();

  // Moves the clock to t0 + ms; returns the steady time of that moment, as the proxy reports it.
  std::chrono::steady_clock::time_point at(std::int64_t ms) {
    clock.offset = std::chrono::milliseconds(ms);
    return clock.steady_now();
  }
  InstanceRun run(const std::string& id, std::optional<ServiceMode> mode) {
    InstanceRun r;
    r.instance_id = id;
    r.service = "hello";
    r.revision = "hello-00001";
    r.labels["team"] = "web";
    r.cpu_request_millis = 1000;
    r.cpu_limit_millis = 2000;
    r.memory_request_bytes = 512ULL << 20;
    r.memory_limit_bytes = 1ULL << 30;
    r.mode = mode;
    r.started_at = t0;
    return r;
  }
  void start(const InstanceRun& r) {
    auto tx = db->begin().value();
    REQUIRE(recorder->on_started(tx, r));
    REQUIRE(tx.commit());
  }
  void exit(const std::string& id, std::int64_t ms, bool lost = false,
            std::optional<std::chrono::system_clock::time_point> process_started = {}) {
    at(ms);
    InstanceExit e;
    e.at = clock.now();
    e.started_at = process_started;
    e.cpu_seconds = 1.25;
    e.memory_peak_bytes = 100 << 20;
    e.reason = "ScaledDown";
    e.lost = lost;
    auto tx = db->begin().value();
    REQUIRE(recorder->on_exited(tx, id, e));
    REQUIRE(tx.commit());
  }
  UsageRecord get(const std::string& id) {
    return usage.get(InstanceUsageRecorder::record_id(id)).value().value();
  }
  // A request-mode instance's traffic: ready at 1.5 s (start-up: seconds 0 and 1), a 3 ms
  // request at 5.000 s (second 5), two overlapping requests from 7.9 s to 8.1 s (7 and 8).
  void traffic(const std::string& id) {
    recorder->on_ready(id, at(1'500));
    recorder->on_busy(id, true, at(5'000));
    recorder->on_busy(id, false, at(5'003));
    recorder->on_busy(id, true, at(7'900));   // the first request; the second joins at 8.0
    recorder->on_busy(id, false, at(8'100));  // the last one ends
    recorder->on_requests(id, 3);
  }
};

}  // namespace

TEST_CASE("instances in instance mode bill every second they exist, none minimum",
          "[billing][instances]") {
  Harness h;
  h.start(h.run("i1", ServiceMode::kInstance));
  h.traffic("i1");
  h.exit("i1", 10'200);
  UsageRecord r = h.get("i1");
  CHECK(r.owner.kind == RunKind::kInstance);
  CHECK(r.owner.service == "hello");
  CHECK(r.owner.revision == "hello-00001");
  CHECK(r.owner.instance == "i1");
  CHECK(r.labels.at("team") == "web");
  CHECK(r.end_ms == r.start_ms + 10'200);
  CHECK(r.bill.run_ms == 10'200);
  CHECK(r.bill.billed_seconds == 11);             // rounded up, no 60 s minimum
  CHECK(r.bill.vcpu_milli_seconds == 11 * 1000);  // requests are billed by default
  CHECK(r.bill.memory_mib_seconds == 11 * 512);
  CHECK(r.measured.requests == 3);
  CHECK(r.measured.busy_ms == 3 + 200);  // measured: busy milliseconds, not billed here
  CHECK(r.measured.cpu_ms == 1'250);
  CHECK(r.bill.request_cost == 3 * h.policy.prices.million_requests / 1'000'000);
  CHECK(h.recorder->live() == 0);
}

TEST_CASE("instances in request mode bill start-up, busy seconds and shut-down",
          "[billing][instances]") {
  Harness h;
  h.start(h.run("i1", ServiceMode::kRequest));
  h.traffic("i1");
  h.recorder->on_draining("i1", h.at(20'500));  // shut-down: seconds 20 and 21
  h.exit("i1", 21'200);
  UsageRecord r = h.get("i1");
  CHECK(r.mode == ServiceMode::kRequest);
  CHECK(r.bill.run_ms == 21'200);
  // 0, 1 (start-up), 5, 7, 8 (requests), 20, 21 (shut-down).
  CHECK(r.bill.billed_seconds == 7);
  CHECK(r.bill.vcpu_milli_seconds == 7 * 1000);
  CHECK(r.measured.busy_ms == 203);
  CHECK(r.measured.requests == 3);
}

TEST_CASE("an instance's bill starts when its process started, as its exit record says",
          "[billing][instances]") {
  // svcd notes the start (t0) a few ms after the shim started the process (t0 - 4 ms).
  const auto process_started = std::chrono::milliseconds(-4);
  SECTION("instance mode: the run is the process's whole life") {
    Harness h;
    h.start(h.run("i1", ServiceMode::kInstance));
    h.exit("i1", 9'998, false, h.t0 + process_started);
    UsageRecord r = h.get("i1");
    CHECK(r.start_ms == unix_millis(h.t0) - 4);
    CHECK(r.bill.run_ms == 10'002);
    CHECK(r.bill.billed_seconds == 11);
  }
  SECTION("request mode: the seconds already counted keep their numbers") {
    Harness h;
    h.start(h.run("i1", ServiceMode::kRequest));
    h.traffic("i1");
    h.recorder->on_draining("i1", h.at(20'500));
    h.exit("i1", 21'200, false, h.t0 + process_started);
    UsageRecord r = h.get("i1");
    CHECK(r.start_ms == unix_millis(h.t0) - 4);
    CHECK(r.bill.run_ms == 21'204);
    CHECK(r.bill.billed_seconds == 7);  // as without the correction: 0, 1, 5, 7, 8, 20, 21
  }
  SECTION("a lost instance keeps the start it was recorded with") {
    Harness h;
    h.start(h.run("i1", ServiceMode::kInstance));
    h.exit("i1", 5'000, true, h.t0 + process_started);
    CHECK(h.get("i1").start_ms == unix_millis(h.t0));
  }
}

TEST_CASE("usage queries see an open instance's requests at once, not at the next checkpoint",
          "[billing][instances]") {
  Harness h;
  h.start(h.run("i1", ServiceMode::kRequest));
  h.traffic("i1");  // ready at 1.5 s, 3 requests busy in seconds 5, 7 and 8
  h.at(9'000);
  UsageApi plain(h.usage, h.policy, h.clock);
  UsageApi live(h.usage, h.policy, h.clock);
  live.set_activity(h.recorder.get());
  api::UsageSummaryQuery q;
  q.by = api::UsageGroupBy::kService;
  // The record holds what it opened with: no meter tick has written anything since.
  auto stored = plain.summary(q).value();
  REQUIRE(stored.rows.size() == 1);
  CHECK(stored.rows[0].requests == 0);
  CHECK(stored.rows[0].billed_seconds == 0);
  auto now = live.summary(q).value();
  REQUIRE(now.rows.size() == 1);
  CHECK(now.rows[0].name == "hello");
  CHECK(now.rows[0].open_runs == 1);
  CHECK(now.rows[0].requests == 3);
  CHECK(now.rows[0].billed_seconds == 5);  // 0, 1 (start-up), 5, 7, 8
  CHECK(now.total.requests == 3);
  api::UsageRunsQuery rq;
  rq.service = "hello";
  auto runs = live.runs(rq).value().first;
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].requests == 3);
  CHECK(runs[0].billed_seconds == 5);
  CHECK(runs[0].busy_ms == 203);
  // Once it has exited the record itself has them.
  h.exit("i1", 9'500);
  auto closed = plain.summary(q).value();
  REQUIRE(closed.rows.size() == 1);
  CHECK(closed.rows[0].requests == 3);
}

TEST_CASE("request mode: the service's choice wins over the default, which is config's",
          "[billing][instances]") {
  Harness h;
  h.policy.service_mode = ServiceMode::kRequest;
  h.recorder = std::make_unique<InstanceUsageRecorder>(h.policy, h.clock);
  h.start(h.run("default", std::nullopt));
  h.start(h.run("chosen", ServiceMode::kInstance));
  CHECK(h.get("default").mode == ServiceMode::kRequest);
  CHECK(h.get("chosen").mode == ServiceMode::kInstance);
  // An instance that never became ready was starting up all its life (3 s).
  h.exit("default", 2'500);
  CHECK(h.get("default").bill.billed_seconds == 3);
}

TEST_CASE("a start written twice opens one record and keeps its accounting",
          "[billing][instances]") {
  Harness h;
  auto run = h.run("i1", ServiceMode::kRequest);
  h.start(run);
  h.traffic("i1");
  h.start(run);  // e.g. a retried write of the same start
  h.exit("i1", 9'000);
  CHECK(h.get("i1").bill.billed_seconds == 5);  // 0, 1, 5, 7, 8
  auto page = h.usage.list({}).value().first;
  CHECK(page.size() == 1);
}

TEST_CASE("the meter writes live instances' accounting, and a restart bills each second once",
          "[billing][instances][meter]") {
  Harness h;
  Probe probe;
  UsageMeter::Options o;
  o.interval = 10s;
  auto meter = std::make_unique<UsageMeter>(h.usage, probe, h.clock, o);
  meter->set_activity(h.recorder.get());
  h.start(h.run("i1", ServiceMode::kRequest));
  h.start(h.run("i2", ServiceMode::kRequest));
  h.traffic("i1");
  h.traffic("i2");

  // At 8.5 s: i1's accounting so far is written with its sample.
  h.at(8'500);
  CHECK(meter->checkpoint_once().value() == 2);
  UsageRecord seen = h.get("i1");
  CHECK(seen.checkpoint_ms == seen.start_ms + 8'500);
  CHECK(seen.busy.counted == 5);
  CHECK(seen.measured.requests == 3);
  // Nothing changed: nothing is written (no cgroup sample due either).
  h.at(9'000);
  CHECK(meter->checkpoint_once().value() == 0);
  // A request starts at 12.2 s; the next tick writes it at once, without a sample, so the
  // checkpoint time stays that of the last sample.
  h.recorder->on_busy("i1", true, h.at(12'200));
  h.at(12'300);
  CHECK(meter->checkpoint_once().value() == 1);
  seen = h.get("i1");
  CHECK(seen.busy.busy_since_ms == seen.start_ms + 12'200);
  CHECK(seen.checkpoint_ms == seen.start_ms + 8'500);

  // svcd is killed at 14 s with the request in flight (the proxy dies with it) and restarts.
  meter.reset();
  h.recorder = std::make_unique<InstanceUsageRecorder>(h.policy, h.clock);
  h.at(30'000);
  auto open = h.usage.open_records().value();
  for (const UsageRecord& r : open)
    if (r.owner.instance == "i1") h.recorder->adopt(r);  // i2 vanished while svcd was down
  CHECK(h.recorder->live() == 1);
  // i1 carries on: a request at 31 s, then it scales down.
  h.recorder->on_busy("i1", true, h.at(31'000));
  h.recorder->on_busy("i1", false, h.at(31'400));
  h.recorder->on_draining("i1", h.at(40'000));
  h.exit("i1", 40'300);
  UsageRecord one = h.get("i1");
  // 0, 1, 5, 7, 8; 12 (the request cut by the crash, billed up to what was written); 31; 40.
  CHECK(one.bill.billed_seconds == 8);
  CHECK(one.end_ms == one.start_ms + 40'300);
  // i2 is closed from its exit record: it ends at its last checkpoint, with what was written.
  h.exit("i2", 30'000, /*lost=*/true);
  UsageRecord two = h.get("i2");
  CHECK(two.end_estimated);
  CHECK(two.end_ms == two.start_ms + 8'500);
  CHECK(two.bill.billed_seconds == 5);
  // Closed once: a second exit changes nothing.
  h.exit("i1", 50'000);
  CHECK(h.get("i1").bill == one.bill);
}

TEST_CASE("tasks' records have no instance activity", "[billing][instances]") {
  Harness h;
  CHECK_FALSE(h.recorder->activity("task:t1").has_value());
  CHECK_FALSE(h.recorder->activity("instance:nope").has_value());
  auto tx = h.db->begin().value();
  InstanceRun bad;
  auto r = h.recorder->on_started(tx, bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("instance id") != std::string::npos);
}
