// Instance billing wired to the services' store and the proxy's edges, on a fake clock and a
// real svcd.db: the record opens in the write that records the sandbox's start and closes in
// the one that removes the instance's row; BilledControlPlane feeds the recorder and the CPU
// idle throttle and passes every edge on; a restart carries open records on and closes those
// whose instance is gone.
#include <catch2/catch.hpp>

#include <set>

#include "common/fs.hpp"
#include "daemon/billing/instance_billing.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;
using namespace std::chrono_literals;
namespace svs = svc::services;

namespace {

struct Limiter final : scheduler::CpuLimiter {
  std::vector<std::pair<std::string, std::int64_t>> writes;
  Result<> set_cpu_limit(const std::string& id, std::int64_t millis) override {
    writes.emplace_back(id, millis);
    return {};
  }
};

// The controller's side of the edges: what reached it.
struct Inner final : ingress::ControlPlane {
  std::vector<std::string> calls;
  void on_demand(const std::string& r, std::size_t) override { calls.push_back("demand " + r); }
  void on_ready(const std::string& id, ingress::SteadyTime) override {
    calls.push_back("ready " + id);
  }
  void on_not_ready(const std::string& id, std::string) override {
    calls.push_back("not_ready " + id);
  }
  void on_drained(const std::string& id) override { calls.push_back("drained " + id); }
  void on_busy(const std::string& id, bool busy, ingress::SteadyTime) override {
    calls.push_back((busy ? "busy " : "idle ") + id);
  }
  void on_upstream_error(const std::string& id, std::string) override {
    calls.push_back("error " + id);
  }
  void on_request(const ingress::RequestRecord& r) override {
    calls.push_back("request " + r.instance);
  }
};

ingress::RequestRecord request_to(const std::string& instance) {
  ingress::RequestRecord r;
  r.instance = instance;
  return r;
}

struct Harness {
  explicit Harness(ServiceMode mode = ServiceMode::kInstance) {
    policy.service_mode = mode;
    recorder = std::make_unique<InstanceUsageRecorder>(policy, clock);
    billing = std::make_unique<InstanceBilling>(*recorder, &throttle);
    services = std::make_unique<SqlServiceStore>(*db, billing.get());
    control = std::make_unique<BilledControlPlane>(inner, *recorder, &throttle, clock);
  }
  scheduler::test::FakeClock clock;
  TempDir dir;
  std::unique_ptr<Store> db = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage{*db};
  Policy policy;
  Limiter limiter;
  scheduler::CpuIdleThrottle throttle{limiter, clock, scheduler::CpuIdleOptions{}};
  std::unique_ptr<InstanceUsageRecorder> recorder;
  std::unique_ptr<InstanceBilling> billing;
  std::unique_ptr<SqlServiceStore> services;
  Inner inner;
  std::unique_ptr<BilledControlPlane> control;
  std::chrono::system_clock::time_point t0 = clock.now();

  std::chrono::steady_clock::time_point at(std::int64_t ms) {
    clock.offset = std::chrono::milliseconds(ms);
    return clock.steady_now();
  }
  svs::Instance instance(const std::string& id) {
    svs::Instance i;
    i.id = id;
    i.service = "hello";
    i.revision = "hello-00001";
    i.state = svs::InstanceState::kStarting;
    i.created_at = t0;
    i.resources.cpu_request_millis = 500;
    i.resources.cpu_limit_millis = 1000;
    i.resources.memory_request_bytes = 256ULL << 20;
    i.resources.memory_limit_bytes = 512ULL << 20;
    i.labels["team"] = "web";
    return i;
  }
  // As the controller writes it: the row when it is asked for, then its sandbox's start.
  svs::Instance launch(const std::string& id) {
    svs::Instance i = instance(id);
    REQUIRE(services->put_instance(i));
    i.pid = 4242;
    i.started_at = t0;
    REQUIRE(services->put_instance(i));
    return i;
  }
  void end(svs::Instance i, std::int64_t ms, bool lost = false) {
    at(ms);
    i.stop_reason = "ScaledDown";
    i.end = svs::InstanceEnd{clock.now(), 2.5, 90ULL << 20, lost, std::nullopt};
    REQUIRE(services->end_instance(i));
  }
  std::optional<UsageRecord> record(const std::string& id) {
    return usage.get(InstanceUsageRecorder::record_id(id)).value();
  }
  std::size_t rows() { return services->load_all().value().instances.size(); }
};

}  // namespace

TEST_CASE("an instance's record opens with its sandbox's start and closes with its end",
          "[billing][instances]") {
  Harness h;
  svs::Instance i = h.instance("hello-00001-aaaa0001");
  REQUIRE(h.services->put_instance(i));
  CHECK_FALSE(h.record(i.id));  // asked for, not running: nothing of the user's ran yet
  i = h.launch(i.id);
  auto open = h.record(i.id);
  REQUIRE(open);
  CHECK(open->open());
  CHECK(open->owner.kind == RunKind::kInstance);
  CHECK(open->owner.service == "hello");
  CHECK(open->owner.revision == "hello-00001");
  CHECK(open->owner.instance == i.id);
  CHECK(open->labels.at("team") == "web");
  CHECK(open->cpu_request_millis == 500);
  CHECK(open->memory_limit_bytes == 512ULL << 20);
  CHECK(open->mode == ServiceMode::kInstance);

  // Later writes of the live instance (ready, draining) change nothing of its record.
  h.at(1'000);
  i.state = svs::InstanceState::kReady;
  i.ready_at = h.clock.now();
  REQUIRE(h.services->put_instance(i));
  CHECK(h.record(i.id)->start_ms == open->start_ms);

  h.end(i, 7'400);
  CHECK(h.rows() == 0);
  auto closed = h.record(i.id);
  REQUIRE(closed);
  CHECK_FALSE(closed->open());
  CHECK(*closed->end_ms - closed->start_ms == 7'400);
  CHECK(closed->bill.billed_seconds == 8);  // instance mode: every second it existed
  CHECK(closed->measured.cpu_ms == 2'500);
  CHECK(closed->end_reason == "ScaledDown");

  // An end written twice (a retry) bills nothing more.
  h.end(i, 9'000);
  CHECK(h.record(i.id)->bill.billed_seconds == 8);
}

TEST_CASE("an instance that never started has no record, and its end closes nothing",
          "[billing][instances]") {
  Harness h;
  svs::Instance i = h.instance("hello-00001-aaaa0002");
  REQUIRE(h.services->put_instance(i));
  h.end(i, 3'000);
  CHECK(h.rows() == 0);
  CHECK_FALSE(h.record(i.id));
}

TEST_CASE("request mode bills start-up, busy seconds and shut-down from the proxy's edges",
          "[billing][instances]") {
  Harness h(ServiceMode::kRequest);
  svs::Instance i = h.launch("hello-00001-bbbb0001");
  h.control->on_ready(i.id, h.at(1'200));  // start-up: seconds 0 and 1
  h.control->on_busy(i.id, true, h.at(10'100));
  h.control->on_request(request_to(i.id));
  h.control->on_busy(i.id, false, h.at(11'300));  // seconds 10 and 11
  h.control->on_busy(i.id, true, h.at(20'500));
  h.control->on_request(request_to(i.id));
  h.control->on_busy(i.id, false, h.at(20'600));  // second 20
  h.at(40'000);
  h.control->on_drained(i.id);  // shut-down: 40.0 .. 41.5, seconds 40 and 41
  h.end(i, 41'500);
  auto r = h.record(i.id);
  REQUIRE(r);
  CHECK(r->mode == ServiceMode::kRequest);
  CHECK(r->bill.billed_seconds == 2 + 2 + 1 + 2);
  CHECK(*r->end_ms - r->start_ms == 41'500);
  CHECK(r->measured.requests == 2);
  // Every edge reached the controller, in order.
  CHECK(h.inner.calls == std::vector<std::string>{
                             "ready " + i.id, "busy " + i.id, "request " + i.id, "idle " + i.id,
                             "busy " + i.id, "request " + i.id, "idle " + i.id, "drained " + i.id});
}

TEST_CASE("request mode throttles an idle instance's CPU and gives it back on a request",
          "[billing][instances][cpu_idle]") {
  Harness h(ServiceMode::kRequest);
  svs::Instance i = h.launch("hello-00001-cccc0001");
  h.control->on_ready(i.id, h.at(1'000));
  h.at(1'400);
  CHECK(h.throttle.apply_due() == 0);  // within the hold
  h.at(1'600);
  CHECK(h.throttle.apply_due() == 1);
  REQUIRE(h.limiter.writes.size() == 1);
  CHECK(h.limiter.writes[0] == std::make_pair(i.id, std::int64_t{10}));
  CHECK(h.throttle.throttled(i.id));
  h.control->on_busy(i.id, true, h.at(2'000));
  CHECK(h.throttle.apply_due() == 1);
  CHECK(h.limiter.writes.back() == std::make_pair(i.id, std::int64_t{1000}));  // its own limit
  h.control->on_busy(i.id, false, h.at(2'100));
  h.at(2'700);
  CHECK(h.throttle.apply_due() == 1);  // throttled again after the hold
  // Its shut-down runs at full CPU: the drain gives it back at once.
  h.control->on_drained(i.id);
  CHECK(h.throttle.apply_due() == 1);
  CHECK_FALSE(h.throttle.throttled(i.id));
  h.end(i, 3'000);
  h.at(10'000);
  CHECK(h.throttle.apply_due() == 0);  // forgotten with its end
}

TEST_CASE("instance mode never throttles", "[billing][instances][cpu_idle]") {
  Harness h(ServiceMode::kInstance);
  svs::Instance i = h.launch("hello-00001-cccc0002");
  h.control->on_ready(i.id, h.at(1'000));
  h.at(60'000);
  CHECK(h.throttle.apply_due() == 0);
  CHECK(h.limiter.writes.empty());
}

TEST_CASE("a restart carries open instance records on and closes those of vanished instances",
          "[billing][instances][recovery]") {
  Harness h(ServiceMode::kRequest);
  svs::Instance kept = h.launch("hello-00001-dddd0001");
  svs::Instance gone = h.launch("hello-00001-dddd0002");
  h.control->on_ready(kept.id, h.at(1'000));
  h.control->on_ready(gone.id, h.at(1'000));
  h.control->on_busy(kept.id, true, h.at(5'100));
  h.control->on_busy(kept.id, false, h.at(5'200));
  // The meter's checkpoint at 6 s writes both records' accounting; then svcd dies.
  struct Probe final : UsageProbe {
    std::optional<Sample> sample(const std::string&) override { return Sample{0.1, 1 << 20, 0}; }
  } probe;
  UsageMeter meter(h.usage, probe, h.clock, UsageMeter::Options{});
  meter.set_activity(h.recorder.get());
  h.at(6'000);
  REQUIRE(meter.checkpoint_once());

  // svcd starts again: a new recorder adopts what is open.
  auto recorder = std::make_unique<InstanceUsageRecorder>(h.policy, h.clock);
  std::set<std::string> seen;
  auto adopted = InstanceBilling::adopt_open(
      h.usage, *recorder, [&](const UsageRecord& r) { seen.insert(r.owner.instance); });
  REQUIRE(adopted);
  CHECK(*adopted == 2);
  CHECK(seen == std::set<std::string>{kept.id, gone.id});
  CHECK(recorder->billing_of(kept.id)->mode == ServiceMode::kRequest);
  CHECK(recorder->billing_of(kept.id)->cpu_limit_millis == 1000);
  // The vanished one closes at its last checkpoint; the other goes on.
  auto closed =
      InstanceBilling::close_orphans(h.usage, [&](const std::string& id) { return id == kept.id; });
  REQUIRE(closed);
  CHECK(*closed == 1);
  auto g = h.record(gone.id);
  REQUIRE(g);
  CHECK_FALSE(g->open());
  CHECK(*g->end_ms - g->start_ms == 6'000);
  CHECK(g->bill.billed_seconds == 1);  // its start-up (seconds 0): no request came

  InstanceBilling billing(*recorder, nullptr);
  SqlServiceStore services(*h.db, &billing);
  BilledControlPlane control(h.inner, *recorder, nullptr, h.clock);
  control.on_ready(kept.id, h.at(9'000));  // re-probed: its start-up was over before
  control.on_busy(kept.id, true, h.at(12'500));
  control.on_busy(kept.id, false, h.at(12'900));
  h.at(15'000);
  kept.adopted = true;
  kept.end = svs::InstanceEnd{h.clock.now(), 3.0, 0, false, std::nullopt};
  REQUIRE(services.end_instance(kept));
  auto k = h.record(kept.id);
  REQUIRE(k);
  CHECK_FALSE(k->open());
  CHECK(k->bill.billed_seconds == 1 + 1 + 1);  // start-up (0), 5, 12: each second once
}
