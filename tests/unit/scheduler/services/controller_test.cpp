// The service controller against a fake data plane, runtime, store and executor on a fake
// clock: deploys and revisions, cold starts, idle scale-down, bursts, min/max, capacity,
// crashes and back-off, readiness, rollouts, removal and recovery after a restart.
#include <csignal>

#include <catch2/catch.hpp>

#include "scheduler/services/controller.hpp"
#include "tests/unit/scheduler/services/fakes.hpp"
#include "tests/unit/scheduler/services/store_suite.hpp"

using namespace svc;
using namespace svc::services;
using namespace svc::services::test;
using namespace std::chrono_literals;
using svc::scheduler::Amount;
using svc::scheduler::test::FakeClock;
using svc::scheduler::test::FakeImages;
using svc::scheduler::test::FakeRuntime;
using svc::scheduler::test::ManualExecutor;

namespace {

struct Harness {
  explicit Harness(Amount room = Amount{8000, 16ULL << 30}) : capacity(room) { make(); }
  FakeClock clock;
  FakeImages images;
  FakeRuntime runtime;
  ManualExecutor executor{clock};
  scheduler::Capacity capacity;
  FakeServiceStore store;
  FakeNetwork network;
  FakeServiceLogs logs;
  FakeDataPlane dp;
  ServiceController::Options options = [] {
    ServiceController::Options o;
    o.resources = {100, 64ULL << 20, 256ULL << 20, 512};
    return o;
  }();
  std::unique_ptr<ServiceController> sc;
  std::atomic<bool> never{false};

  void make() {
    sc = std::make_unique<ServiceController>(store, images, runtime, executor, capacity, network,
                                             logs, clock, options);
    sc->attach(dp);
    dp.control = sc.get();
  }
  ServiceSpec spec(std::string name = "hello") {
    ServiceSpec s;
    s.name = std::move(name);
    s.image = "busybox:1";
    s.scaling.concurrency = 10;
    s.scaling.idle_timeout = 1s;
    return s;
  }
  DeployResult deploy(const ServiceSpec& s) {
    auto r = sc->deploy(s, never);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    executor.run_all();
    return *r;
  }
  static std::string service_of(const std::string& rev) { return rev.substr(0, rev.rfind('-')); }
  // A tick: dt passes with c in flight and w held on rev; then the scale pass and what it posts.
  void tick(const std::string& rev, double c = 0, std::size_t w = 0, Millis dt = 100ms) {
    dp.flow(service_of(rev), rev, c, w, dt, c > 0 ? 1 : 0);
    executor.advance(dt);
    sc->scale_pass();
    executor.run_all();
  }
  // Requests held: as the data plane reports them.
  void demand(const std::string& rev, std::size_t w) {
    dp.flow(service_of(rev), rev, 0, w, 1ms);
    sc->on_demand(rev, w);
    executor.run_all();
  }
  std::vector<Instance> instances(const std::string& name = "hello") {
    auto s = sc->get(name);
    return s ? s->instances : std::vector<Instance>{};
  }
  int count(InstanceState st, const std::string& name = "hello") {
    int n = 0;
    for (const auto& i : instances(name)) n += i.state == st;
    return n;
  }
  // The data plane's probe passes for every instance it was given.
  void ready_all() {
    std::vector<std::string> ids;
    for (const auto& i : instances())
      if (i.state == InstanceState::kStarting && dp.routed(i.id)) ids.push_back(i.id);
    for (const auto& id : ids) sc->on_ready(id, clock.steady_now());
    executor.run_all();
  }
  // Every sandbox the runtime was asked to stop exits on the signal it got.
  void finish_stops() {
    std::vector<FakeRuntime::Stop> stops;
    {
      std::lock_guard l(runtime.mu);
      stops = runtime.stops;
    }
    for (const auto& s : stops) {
      bool running;
      {
        std::lock_guard l(runtime.mu);
        running = runtime.running.count(s.id) > 0;
      }
      if (running) runtime.exit(s.id, killed(s.sig));
    }
    executor.run_all();
  }
  static scheduler::ExitInfo exited(int code) {
    scheduler::ExitInfo i;
    i.exit_code = code;
    return i;
  }
  static scheduler::ExitInfo killed(int sig) {
    scheduler::ExitInfo i;
    i.signal = sig;
    i.exit_code = 128 + sig;
    return i;
  }
  const Condition* condition(const ServiceStatus& s, const std::string& type) {
    for (const auto& c : s.conditions)
      if (c.type == type) return &c;
    return nullptr;
  }
  // One instance from zero, ready.
  std::string cold_start(const std::string& rev = "hello-00001") {
    demand(rev, 1);
    ready_all();
    auto all = instances(service_of(rev));
    REQUIRE_FALSE(all.empty());
    return all.back().id;
  }
  bool logged_before(const std::string& a, const std::string& b) {
    auto ia = std::find(dp.log.begin(), dp.log.end(), a);
    auto ib = std::find(dp.log.begin(), dp.log.end(), b);
    return ia != dp.log.end() && ib != dp.log.end() && ia < ib;
  }
};

}  // namespace

TEST_CASE("deploy: the first revision is routed and nothing runs until a request",
          "[services][controller]") {
  Harness h;
  auto d = h.deploy(h.spec());
  CHECK(d.outcome == DeployOutcome::kCreated);
  CHECK(d.revision == "hello-00001");
  REQUIRE(h.dp.routes.count("hello"));
  const auto& route = h.dp.routes["hello"];
  REQUIRE(route.traffic.size() == 1);
  CHECK(route.traffic[0].revision == "hello-00001");
  CHECK(route.traffic[0].percent == 100);
  CHECK(route.queue_limit == 1000);
  CHECK(route.request_timeout == 5min);
  CHECK(h.store.services.count("hello"));
  CHECK(h.store.revisions.count("hello-00001"));
  CHECK(h.store.revisions["hello-00001"].image_digest == "sha256:abc");
  CHECK(h.images.leases.count("revision-hello-00001"));
  for (int i = 0; i < 30; ++i) h.tick("hello-00001");
  CHECK(h.runtime.launched.empty());
  auto s = h.sc->get("hello");
  REQUIRE(s);
  CHECK(s->service.serving_revision == "hello-00001");
  CHECK(h.condition(*s, "Ready")->reason == "ScaledToZero");
}

TEST_CASE("deploy: an identical spec makes no revision, a changed one makes the next",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  auto same = h.deploy(h.spec());
  CHECK(same.outcome == DeployOutcome::kUnchanged);
  CHECK(same.revision == "hello-00001");
  CHECK(h.store.revisions.size() == 1);
  ServiceSpec changed = h.spec();
  changed.env = {{"MODE", "b"}};
  auto next = h.deploy(changed);
  CHECK(next.outcome == DeployOutcome::kUpdated);
  CHECK(next.revision == "hello-00002");
  CHECK(h.store.revisions.size() == 2);
  CHECK(h.store.services["hello"].latest_revision == 2);
  // Nothing ran on 00001: the route moves at once and 00001 lets its image go.
  CHECK(h.dp.routes["hello"].traffic[0].revision == "hello-00002");
  h.tick("hello-00002");
  CHECK_FALSE(h.images.leases.count("revision-hello-00001"));
  CHECK(h.images.leases.count("revision-hello-00002"));
  auto s = h.sc->get("hello");
  REQUIRE(s->revisions.size() == 2);
  CHECK(s->revisions[0].revision.name == "hello-00002");
  CHECK(s->revisions[0].traffic_percent == 100);
  CHECK(s->revisions[1].retired);
  // The same spec as the latest again: still nothing new.
  CHECK(h.deploy(changed).outcome == DeployOutcome::kUnchanged);
}

TEST_CASE("deploy: bad input is refused and nothing is stored", "[services][controller]") {
  Harness h;
  auto bad = [&](ServiceSpec s, std::string_view expect) {
    auto r = h.sc->deploy(s, h.never);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    INFO(r.error().message());
    CHECK(r.error().message().find(expect) != std::string::npos);
  };
  ServiceSpec s = h.spec("Bad_Name");
  bad(s, "name \"Bad_Name\"");
  s = h.spec();
  s.scaling.idle_timeout = 10ms;
  bad(s, "idle timeout");
  s = h.spec();
  s.scaling.min_instances = 5;
  s.scaling.max_instances = 1;
  bad(s, "min instances 5");
  s = h.spec();
  s.request_timeout = 100ms;
  bad(s, "request timeout");
  // An image with nothing to run fails at deploy, not at the first request.
  h.images.image.entrypoint.clear();
  h.images.image.cmd.clear();
  bad(h.spec(), "no entrypoint or command");
  CHECK(h.store.services.empty());
  CHECK(h.store.revisions.empty());
  CHECK(h.dp.routes.empty());
  CHECK(h.images.leases.empty());
  // A pull that fails says so and stores nothing either.
  h.images.image = FakeImages().image;
  h.images.failing.insert("busybox:1");
  auto r = h.sc->deploy(h.spec(), h.never);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("image busybox:1") != std::string::npos);
  CHECK(h.store.services.empty());
  // More than the node can ever give.
  h.images.failing.clear();
  s = h.spec();
  s.memory_bytes = 1ULL << 40;
  auto big = h.sc->deploy(s, h.never);
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == Code::kResourceExhausted);
}

TEST_CASE("cold start: a held request starts one instance at once, routed with its timings",
          "[services][controller]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.readiness_path = "/healthz";
  s.port = 9000;
  h.deploy(s);
  h.demand("hello-00001", 1);
  REQUIRE(h.runtime.launched.size() == 1);
  std::string id = h.runtime.launched.begin()->first;
  CHECK(id.starts_with("hello-00001-"));
  CHECK(id.size() == std::string("hello-00001-").size() + 8);
  const auto& launch = h.runtime.launched[id];
  CHECK(std::find(launch.env.begin(), launch.env.end(), "PORT=9000") != launch.env.end());
  CHECK(launch.memory_bytes == 256ULL << 20);  // the node's default limit
  CHECK(h.capacity.holds("instance:" + id));
  CHECK(h.capacity.reserved() == Amount{100, 64ULL << 20});
  REQUIRE(h.dp.endpoints.count(id));
  const auto& ep = h.dp.endpoints[id];
  CHECK(ep.service == "hello");
  CHECK(ep.revision == "hello-00001");
  CHECK(ep.port == 9000);
  CHECK(ep.concurrency == 10);
  CHECK(ep.start_requested.has_value());
  CHECK(ep.sandbox_started.has_value());
  CHECK(h.dp.readiness_of[id].http_path == "/healthz");
  CHECK(h.network.opened.count(id));
  CHECK(h.count(InstanceState::kStarting) == 1);
  CHECK(h.store.instances.count(id));

  h.ready_all();
  CHECK(h.count(InstanceState::kReady) == 1);
  CHECK(h.store.instances[id].state == InstanceState::kReady);
  auto st = h.sc->get("hello");
  CHECK(h.condition(*st, "Ready")->status);
  CHECK(h.condition(*st, "Ready")->reason == "Serving");
  // A second held request while one instance has room starts nothing more.
  h.tick("hello-00001", 1);
  CHECK(h.runtime.launched.size() == 1);
}

TEST_CASE("describe shows an instance's requests as the data plane counts them now, not at the "
          "last scale pass",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  h.demand("hello-00001", 1);
  REQUIRE(h.runtime.launched.size() == 1);
  std::string id = h.runtime.launched.begin()->first;
  h.ready_all();
  {
    // The data plane served 3 requests and has 1 in flight; no scale pass ran since.
    std::lock_guard l(h.dp.mu);
    ingress::RevisionLoad& load = h.dp.loads["hello-00001"];
    load.service = "hello";
    load.revision = "hello-00001";
    load.instances.push_back({id, 1, true, false, 3, 40});
  }
  auto st = h.sc->get("hello");
  REQUIRE(st);
  REQUIRE(st->instances.size() == 1);
  CHECK(st->instances[0].requests_total == 3);
  CHECK(st->instances[0].in_flight == 1);
  auto all = h.sc->list();
  REQUIRE(all.size() == 1);
  REQUIRE(all[0].instances.size() == 1);
  CHECK(all[0].instances[0].requests_total == 3);
}

TEST_CASE("idle: the instance drains, stops with its grace period, and everything is released",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  std::string id = h.cold_start();
  h.tick("hello-00001", 1);
  for (int i = 0; i < 9; ++i) h.tick("hello-00001");
  CHECK(h.count(InstanceState::kReady) == 1);  // 0.9 s idle: not yet
  h.tick("hello-00001");                       // 1 s: idle-timeout
  CHECK(h.dp.draining.count(id) + std::count(h.dp.log.begin(), h.dp.log.end(), "drain " + id) >= 1);
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.runtime.stops[0].id == id);
  CHECK(h.runtime.stops[0].sig == SIGTERM);
  CHECK(h.runtime.stops[0].grace == 10s);
  auto inst = h.instances();
  REQUIRE(inst.size() == 1);
  CHECK(inst[0].state == InstanceState::kDraining);
  CHECK(inst[0].stop_reason == "ScaledDown");
  CHECK(inst[0].stop_message.find("idle timeout") != std::string::npos);

  h.finish_stops();
  CHECK(h.instances().empty());
  CHECK_FALSE(h.capacity.holds("instance:" + id));
  CHECK_FALSE(h.store.instances.count(id));
  CHECK_FALSE(h.network.opened.count(id));
  CHECK(h.logs.archived == std::vector<std::pair<std::string, std::string>>{{"hello", id}});
  CHECK(std::find(h.runtime.removed.begin(), h.runtime.removed.end(), id) !=
        h.runtime.removed.end());
  CHECK(h.dp.removed.back().first == id);
  // Only the drain: no failure counted, the next request is a plain cold start.
  auto st = h.sc->get("hello");
  CHECK(h.condition(*st, "Ready")->status);
  h.demand("hello-00001", 1);
  CHECK(h.runtime.launched.size() == 2);
}

TEST_CASE("a drain waits for what is in flight", "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  std::string id = h.cold_start();
  h.dp.busy.insert(id);  // the data plane still has a request on it
  for (int i = 0; i < 11; ++i) h.tick("hello-00001");
  CHECK(h.runtime.stops.empty());
  CHECK(h.count(InstanceState::kDraining) == 1);
  h.sc->on_drained(id);
  h.executor.run_all();
  REQUIRE(h.runtime.stops.size() == 1);
}

TEST_CASE("a burst of 1000 held at zero starts every instance it may have in one pass",
          "[services][controller]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.scaling.max_instances = 50;
  h.deploy(s);
  h.demand("hello-00001", 1000);
  CHECK(h.runtime.launched.size() == 50);
  CHECK(h.dp.endpoints.size() == 50);
  h.ready_all();
  CHECK(h.count(InstanceState::kReady) == 50);
  // Max caps it whatever comes next.
  h.tick("hello-00001", 500, 500);
  CHECK(h.runtime.launched.size() == 50);
}

TEST_CASE("min-instances start without traffic and stay when idle, max caps",
          "[services][controller]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.scaling.min_instances = 2;
  s.scaling.max_instances = 3;
  h.deploy(s);
  CHECK(h.runtime.launched.size() == 2);  // the deploy's own pass
  h.ready_all();
  for (int i = 0; i < 50; ++i) h.tick("hello-00001");
  CHECK(h.count(InstanceState::kReady) == 2);
  CHECK(h.runtime.stops.empty());
  h.tick("hello-00001", 30, 200);
  CHECK(h.runtime.launched.size() == 3);
}

TEST_CASE("capacity: no room is said clearly, held requests fail, room freed starts it",
          "[services][controller]") {
  Harness h(Amount{150, 1ULL << 30});
  h.deploy(h.spec());
  REQUIRE(h.capacity.try_reserve("task:big", Amount{100, 1ULL << 20}));
  h.demand("hello-00001", 3);
  CHECK(h.runtime.launched.empty());
  REQUIRE_FALSE(h.dp.failed.empty());
  CHECK(h.dp.failed.back().first == "hello-00001");
  CHECK(h.dp.failed.back().second.find("no room on this node") != std::string::npos);
  // Nothing failed: the node is full for now, so held requests hear 503 (and Retry-After).
  CHECK(h.dp.failed_status.back() == 503);
  auto st = h.sc->get("hello");
  const Condition* cap = h.condition(*st, "Capacity");
  REQUIRE(cap);
  CHECK_FALSE(cap->status);
  CHECK(cap->reason == "CapacityExhausted");
  CHECK(cap->message.find("the node has") != std::string::npos);
  CHECK_FALSE(h.condition(*st, "Ready")->status);
  // The task ends: the start goes ahead without waiting for a tick.
  h.capacity.release("task:big");
  h.executor.run_all();
  CHECK(h.runtime.launched.size() == 1);
  h.ready_all();
  st = h.sc->get("hello");
  CHECK(h.condition(*st, "Capacity") == nullptr);
  CHECK(h.condition(*st, "Ready")->status);
}

TEST_CASE("node drain: every instance drains, none starts while cordoned, resume restarts the "
          "minimum",
          "[services][controller]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.scaling.min_instances = 1;
  h.deploy(s);
  h.ready_all();
  REQUIRE(h.count(InstanceState::kReady) == 1);
  std::string id = h.instances().front().id;

  h.capacity.cordon("the node is draining (svctl node drain)");
  CHECK(h.sc->drain_all("the node is draining") == 1);
  h.executor.run_all();
  auto inst = h.instances();
  REQUIRE(inst.size() == 1);
  CHECK(inst[0].state == InstanceState::kDraining);
  CHECK(inst[0].stop_reason == "NodeDrained");
  CHECK(h.sc->drain_all("again") == 0);  // draining already: not counted twice
  h.finish_stops();
  CHECK(h.instances().empty());
  CHECK_FALSE(h.capacity.holds("instance:" + id));

  // Below its minimum and asked for: nothing starts, and the request hears why at once.
  for (int i = 0; i < 5; ++i) h.tick("hello-00001");
  h.demand("hello-00001", 1);
  CHECK(h.runtime.launched.size() == 1);
  REQUIRE_FALSE(h.dp.failed.empty());
  CHECK(h.dp.failed.back().second.find("the node is draining") != std::string::npos);
  CHECK(h.dp.failed_status.back() == 503);
  const Condition* cap = h.condition(*h.sc->get("hello"), "Capacity");
  REQUIRE(cap);
  CHECK(cap->message.find("the node is draining") != std::string::npos);

  h.capacity.uncordon();
  h.executor.run_all();
  CHECK(h.runtime.launched.size() == 2);
}

TEST_CASE(
    "a crash while serving: in-flight fails, a replacement starts at once, a crash loop "
    "backs off and says so",
    "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  std::string first = h.cold_start();
  h.tick("hello-00001", 1);
  h.runtime.exit(first, Harness::exited(1));
  h.executor.run_all();
  REQUIRE_FALSE(h.dp.removed.empty());
  CHECK(h.dp.removed.back().first == first);
  CHECK(h.dp.removed.back().second == "exited with code 1 while serving");
  CHECK(h.runtime.launched.size() == 2);  // replaced at once: the first failure costs nothing
  auto st = h.sc->get("hello");
  const Condition* cold = h.condition(*st, "ColdStart");
  REQUIRE(cold);
  CHECK_FALSE(cold->status);
  CHECK(cold->reason == "Crashed");
  h.ready_all();

  // It crashes again within seconds: back-off, and requests held meanwhile get the reason.
  std::string second = h.instances().back().id;
  h.tick("hello-00001", 1);
  h.runtime.exit(second, Harness::exited(1));
  h.executor.run_all();
  CHECK(h.runtime.launched.size() == 2);
  h.demand("hello-00001", 2);
  REQUIRE_FALSE(h.dp.failed.empty());
  CHECK(h.dp.failed.back().second.find("exited with code 1 while serving") != std::string::npos);
  CHECK(h.dp.failed_status.back() == 502);  // a start that failed
  st = h.sc->get("hello");
  CHECK(h.condition(*st, "ColdStart")->message.find("2 times in a row") != std::string::npos);
  CHECK_FALSE(h.condition(*st, "Ready")->status);
  h.executor.advance(999ms);
  CHECK(h.runtime.launched.size() == 2);
  h.tick("hello-00001", 0, 2, 1ms);  // 1 s after the crash: the next attempt
  CHECK(h.runtime.launched.size() == 3);
  h.ready_all();
  st = h.sc->get("hello");
  CHECK(h.condition(*st, "ColdStart")->status);
  CHECK(h.condition(*st, "Ready")->status);
}

TEST_CASE("a launch that fails is retried once at once, then held requests get the reason",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  h.runtime.fail_launch = true;
  h.demand("hello-00001", 1);
  REQUIRE_FALSE(h.dp.failed.empty());
  CHECK(h.dp.failed.back().second.find("pivot_root") != std::string::npos);
  CHECK(h.instances().empty());
  CHECK(h.capacity.holders() == 0);
  CHECK(h.store.instances.empty());
  auto st = h.sc->get("hello");
  CHECK(h.condition(*st, "ColdStart")->reason == "StartFailed");
  CHECK(h.condition(*st, "Ready")->message.find("pivot_root") != std::string::npos);
}

TEST_CASE("an instance that never gets ready is killed and counted as a failed start",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  h.demand("hello-00001", 1);
  std::string id = h.instances().front().id;
  h.sc->on_not_ready(id, "connection refused on port 8080");
  h.executor.run_all();
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.runtime.stops[0].sig == SIGKILL);
  CHECK(h.dp.removed.back().first == id);
  CHECK(h.dp.removed.back().second.find("connection refused") != std::string::npos);
  for (const auto& i : h.instances())
    if (i.id == id) CHECK(i.stop_reason == "NotReady");
  h.finish_stops();
  auto st = h.sc->get("hello");
  CHECK(h.condition(*st, "ColdStart")->message.find("not ready within 1m") != std::string::npos);
}

TEST_CASE(
    "a serving instance that refuses connections is stopped with its grace period and "
    "replaced",
    "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  std::string id = h.cold_start();
  REQUIRE(h.count(InstanceState::kReady) == 1);
  // The proxy's connect was refused: its app no longer listens (the data plane stopped
  // routing to it already).
  h.sc->on_not_ready(id, "connect to port 8080: Connection refused");
  h.executor.run_all();
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.runtime.stops[0].id == id);
  CHECK(h.runtime.stops[0].sig == SIGTERM);  // what it has in flight may finish
  CHECK(h.dp.removed.empty());               // not cut: removed once it exits
  for (const auto& i : h.instances())
    if (i.id == id) {
      CHECK(i.state == InstanceState::kDraining);
      CHECK(i.stop_reason == "StoppedListening");
      CHECK(i.stop_message.find("Connection refused") != std::string::npos);
    }
  auto st = h.sc->get("hello");
  CHECK(h.condition(*st, "ColdStart")->reason == "Crashed");
  h.finish_stops();
  CHECK(h.dp.removed.back().first == id);
  // A request waiting for it starts another.
  h.demand("hello-00001", 1);
  CHECK(h.runtime.launched.size() == 2);
}

TEST_CASE("rolling deploy: new instances are ready before the old ones drain",
          "[services][controller]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.scaling.min_instances = 2;
  h.deploy(s);
  h.ready_all();
  auto old_ids = h.instances();
  REQUIRE(old_ids.size() == 2);
  s.env = {{"V", "2"}};
  auto d = h.deploy(s);
  CHECK(d.outcome == DeployOutcome::kUpdated);
  CHECK(h.dp.routes["hello"].traffic[0].revision == "hello-00001");  // the old one serves
  h.executor.run_all();
  int new_launches = 0;
  for (const auto& [id, l] : h.runtime.launched) new_launches += id.starts_with("hello-00002-");
  CHECK(new_launches == 2);
  auto st = h.sc->get("hello");
  CHECK_FALSE(h.condition(*st, "Rollout")->status);
  // One of two ready: still the old revision.
  std::vector<std::string> fresh;
  for (const auto& i : h.instances())
    if (i.revision == "hello-00002") fresh.push_back(i.id);
  REQUIRE(fresh.size() == 2);
  h.sc->on_ready(fresh[0], h.clock.steady_now());
  h.executor.run_all();
  h.tick("hello-00001", 1);
  CHECK(h.dp.routes["hello"].traffic[0].revision == "hello-00001");
  CHECK(h.runtime.stops.empty());
  // Both ready: the route switches, then (never before) the old ones drain.
  h.sc->on_ready(fresh[1], h.clock.steady_now());
  h.executor.run_all();
  CHECK(h.dp.routes["hello"].traffic[0].revision == "hello-00002");
  for (const auto& old : old_ids)
    CHECK(h.logged_before("route hello hello-00002", "drain " + old.id));
  h.finish_stops();
  for (const auto& i : h.instances()) CHECK(i.revision == "hello-00002");
  CHECK(h.store.services["hello"].serving_revision == "hello-00002");
  st = h.sc->get("hello");
  CHECK(h.condition(*st, "Rollout")->status);
}

TEST_CASE("remove: the route goes at once, instances drain and stop, records and logs go",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  std::string id = h.cold_start();
  REQUIRE(h.sc->remove("hello"));
  h.executor.run_all();
  CHECK_FALSE(h.dp.routes.count("hello"));
  CHECK(h.logged_before("unroute hello", "drain " + id));
  CHECK(h.store.services.empty());
  CHECK(h.store.revisions.empty());
  CHECK(h.logs.forgotten == std::vector<std::string>{"hello"});
  CHECK(h.sc->get("hello").error().code() == Code::kNotFound);
  REQUIRE(h.runtime.stops.size() == 1);
  h.finish_stops();
  h.tick("hello-00001");
  CHECK_FALSE(h.capacity.holds("instance:" + id));
  CHECK(h.logs.archived.empty());  // its logs went with it
  CHECK_FALSE(h.images.leases.count("revision-hello-00001"));
  CHECK(h.sc->remove("hello").error().code() == Code::kNotFound);
  // The name can be used again; numbering continues past what may still be draining.
  CHECK(h.deploy(h.spec()).revision == "hello-00001");
}

TEST_CASE("recover: running instances are re-adopted and routed again, the rest is cleaned",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  h.demand("hello-00001", 12);  // two instances (12 at once, 7 each at 70 %)
  h.ready_all();
  auto before = h.instances();
  REQUIRE(before.size() == 2);
  // svcd dies: the sandboxes keep running; one more ended meanwhile, one belongs to nothing.
  for (const auto& i : before) {
    scheduler::SandboxInfo sb;
    sb.id = i.id;
    sb.status = scheduler::SandboxInfo::Status::kRunning;
    sb.pid = 4242;
    h.runtime.sandboxes.push_back(sb);
  }
  scheduler::SandboxInfo ended;
  ended.id = "hello-00001-deadbeef";
  ended.status = scheduler::SandboxInfo::Status::kExited;
  h.runtime.sandboxes.push_back(ended);
  Instance row;
  row.id = ended.id;
  row.service = "hello";
  row.revision = "hello-00001";
  h.store.instances[row.id] = row;
  scheduler::SandboxInfo orphan;
  orphan.id = "gone-00001-00000000";
  orphan.status = scheduler::SandboxInfo::Status::kRunning;
  h.runtime.sandboxes.push_back(orphan);

  h.sc->shutdown();
  FakeDataPlane dp2;
  h.sc = std::make_unique<ServiceController>(h.store, h.images, h.runtime, h.executor, h.capacity,
                                             h.network, h.logs, h.clock, h.options);
  h.sc->attach(dp2);
  dp2.control = h.sc.get();
  REQUIRE(h.sc->recover(false));
  h.executor.run_all();
  REQUIRE(dp2.routes.count("hello"));
  CHECK(dp2.routes["hello"].traffic[0].revision == "hello-00001");
  for (const auto& i : before) {
    REQUIRE(dp2.endpoints.count(i.id));
    CHECK_FALSE(dp2.endpoints[i.id].start_requested);  // no cold start to report
    CHECK(h.capacity.holds("instance:" + i.id));
  }
  auto adopted = h.instances();
  REQUIRE(adopted.size() == 2);
  CHECK(adopted[0].adopted);
  CHECK(adopted[0].pid == 4242);
  CHECK(std::find(h.runtime.removed.begin(), h.runtime.removed.end(), ended.id) !=
        h.runtime.removed.end());
  CHECK(std::find(h.runtime.removed.begin(), h.runtime.removed.end(), orphan.id) !=
        h.runtime.removed.end());
  CHECK_FALSE(h.store.instances.count(ended.id));
  CHECK(std::find(h.logs.archived.begin(), h.logs.archived.end(),
                  std::make_pair(std::string("hello"), ended.id)) != h.logs.archived.end());
  // Their probes pass: served again. They are not torn down at once for want of history.
  for (const auto& i : before) h.sc->on_ready(i.id, h.clock.steady_now());
  h.executor.run_all();
  CHECK(h.count(InstanceState::kReady) == 2);
  h.dp.loads = dp2.loads;
  for (int i = 0; i < 5; ++i) {
    dp2.flow("hello", "hello-00001", 1, 0, 100ms, 1);
    h.executor.advance(100ms);
    h.sc->scale_pass();
    h.executor.run_all();
  }
  CHECK(h.count(InstanceState::kReady) == 2);
  // An exit after the restart is still seen (the watch was set again).
  h.runtime.exit(before[0].id, Harness::exited(0));
  h.executor.run_all();
  CHECK(dp2.removed.back().first == before[0].id);
}

TEST_CASE("request records feed the service's statistics and its request log",
          "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  ingress::RequestRecord r;
  r.service = "hello";
  r.revision = "hello-00001";
  r.status = 200;
  r.duration = 4ms;
  r.cold_start = ingress::ColdStart{1ms, 5ms, 1ms, 1ms};
  h.sc->on_request(r);
  r.cold_start.reset();
  r.status = 503;
  h.sc->on_request(r);
  ingress::RequestRecord unknown;
  unknown.status = 404;
  h.sc->on_request(unknown);
  auto st = h.sc->get("hello");
  CHECK(st->stats.requests_total == 2);
  CHECK(st->stats.by_class[2] == 1);
  CHECK(st->stats.by_class[5] == 1);
  CHECK(st->stats.cold_starts == 1);
  CHECK(h.logs.requests.size() == 2);
}

TEST_CASE("start(): a scale pass runs every tick", "[services][controller]") {
  Harness h;
  h.deploy(h.spec());
  h.sc->start();
  h.dp.flow("hello", "hello-00001", 0, 1, 1ms);  // held, but nobody called on_demand
  h.executor.advance(100ms);
  CHECK(h.runtime.launched.size() == 1);
  h.sc->shutdown();
  h.executor.advance(100ms);
  CHECK(h.executor.pending_timers() == 0);
}

TEST_CASE("the fake service store behaves as the store suite says", "[services][store]") {
  FakeServiceStore store;
  service_store_suite(store);
}

TEST_CASE("billing: the sandbox's start is written with what it reserves, and its end with how",
          "[services][controller][billing]") {
  Harness h;
  ServiceSpec s = h.spec();
  s.labels["team"] = "web";
  h.deploy(s);
  std::string id = h.cold_start();
  // The write after the launch carries its sandbox's start (its usage record opens with it).
  REQUIRE(h.store.instances.count(id));
  const Instance& row = h.store.instances.at(id);
  REQUIRE(row.started_at);
  CHECK(row.pid > 0);
  CHECK(row.resources.cpu_request_millis == 100);
  CHECK(row.resources.memory_limit_bytes == 256ULL << 20);
  CHECK(row.labels.at("team") == "web");
  CHECK_FALSE(row.end);
  for (int i = 0; i < 11; ++i) h.tick("hello-00001");  // idle: drained and stopped
  scheduler::ExitInfo info = Harness::killed(SIGTERM);
  info.exited_at = h.clock.now();
  info.cpu_seconds = 1.5;
  info.memory_peak_bytes = 42 << 20;
  h.runtime.exit(id, info);
  h.executor.run_all();
  REQUIRE(h.store.ended.size() == 1);
  const Instance& e = h.store.ended[0];
  CHECK(e.id == id);
  CHECK(e.stop_reason == "ScaledDown");
  REQUIRE(e.end);
  CHECK(e.end->at == *info.exited_at);
  CHECK(e.end->cpu_seconds == 1.5);
  CHECK(e.end->memory_peak_bytes == 42ULL << 20);
  CHECK_FALSE(e.end->lost);
  CHECK_FALSE(h.store.instances.count(id));
}

TEST_CASE("billing: recover ends what ended while svcd was down from its exit record",
          "[services][controller][billing]") {
  Harness h;
  h.deploy(h.spec());
  auto row_of = [&](const std::string& id) {
    Instance row;
    row.id = id;
    row.service = "hello";
    row.revision = "hello-00001";
    h.store.instances[id] = row;
  };
  // One exited with an exit record, one's shim vanished, one has a row and no sandbox at all.
  scheduler::SandboxInfo exited;
  exited.id = "hello-00001-00000001";
  exited.status = scheduler::SandboxInfo::Status::kExited;
  exited.exit = scheduler::ExitInfo{};
  exited.exit->exited_at = h.clock.now() - 5s;
  exited.exit->cpu_seconds = 2.25;
  h.runtime.sandboxes.push_back(exited);
  row_of(exited.id);
  scheduler::SandboxInfo lost;
  lost.id = "hello-00001-00000002";
  lost.status = scheduler::SandboxInfo::Status::kLost;
  h.runtime.sandboxes.push_back(lost);
  row_of(lost.id);
  row_of("hello-00001-00000003");

  h.sc->shutdown();
  FakeDataPlane dp2;
  h.sc = std::make_unique<ServiceController>(h.store, h.images, h.runtime, h.executor, h.capacity,
                                             h.network, h.logs, h.clock, h.options);
  h.sc->attach(dp2);
  dp2.control = h.sc.get();
  REQUIRE(h.sc->recover(false));
  h.executor.run_all();
  std::map<std::string, InstanceEnd> ends;
  for (const auto& i : h.store.ended) {
    REQUIRE(i.end);
    ends[i.id] = *i.end;
  }
  REQUIRE(ends.size() == 3);
  CHECK(ends.at(exited.id).at == *exited.exit->exited_at);
  CHECK(ends.at(exited.id).cpu_seconds == 2.25);
  CHECK_FALSE(ends.at(exited.id).lost);
  CHECK(ends.at(lost.id).lost);  // ends at its record's last checkpoint
  CHECK(ends.at("hello-00001-00000003").lost);
  CHECK(h.store.instances.empty());
}
