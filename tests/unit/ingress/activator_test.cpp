// The activator's decisions on a fake clock: admission, the bounded queue, slots per instance,
// least-loaded picking, cold starts, drain, removal, failed starts, route changes, the exact
// load integral the autoscaler reads, and the events the control plane hears.
#include <deque>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/unit/ingress/fakes.hpp"

using namespace svc::ingress;
using namespace svc::ingress::test;
using std::chrono::milliseconds;

namespace {

struct Fixture {
  FakeClock clock;
  RecordingControlPlane control;
  Activator act{clock, control};

  // A request that is held or granted; returns the waiter (its lease when granted at once).
  std::shared_ptr<RecordingWaiter> request(const std::string& service, Admission::Kind expect,
                                           std::uint64_t id = 1) {
    auto w = std::make_shared<RecordingWaiter>();
    Admission a = act.admit(service, w, id, clock.steady_now());
    CHECK(static_cast<int>(a.kind) == static_cast<int>(expect));
    if (a.kind == Admission::Kind::kGranted) w->lease = std::move(a.lease);
    last = std::move(a);
    return w;
  }
  std::shared_ptr<Instance> ready(const std::string& id, const std::string& revision,
                                  int concurrency = 2) {
    auto inst = act.add_instance(endpoint(id, revision, concurrency), Readiness{});
    act.mark_ready(inst);
    return inst;
  }
  const RevisionLoad* load_of(const std::string& revision) {
    loads = act.load();
    for (auto& l : loads)
      if (l.revision == revision) return &l;
    return nullptr;
  }
  Admission last;
  std::vector<RevisionLoad> loads;
};

}  // namespace

TEST_CASE("activator: unknown services, routes without traffic", "[ingress][activator]") {
  Fixture f;
  f.request("nope", Admission::Kind::kUnknownService);
  f.act.set_route(route("hello", {}));
  f.request("hello", Admission::Kind::kNoRevision);
  CHECK(f.last.metrics->service == "hello");
}

TEST_CASE(
    "activator: a request at zero is held, fires on_demand at once, and gets the "
    "instance when it is ready",
    "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto w = f.request("hello", Admission::Kind::kQueued, 7);
  CHECK(f.control.take() == std::vector<std::string>{"demand hello-00001 1"});
  CHECK(f.load_of("hello-00001")->waiting == 1);

  InstanceEndpoint ep = endpoint("i1", "hello-00001");
  ep.start_requested = f.clock.steady_now() + milliseconds(1);
  ep.sandbox_started = f.clock.steady_now() + milliseconds(6);
  f.clock.advance(milliseconds(6));
  auto inst = f.act.add_instance(ep, Readiness{});
  CHECK_FALSE(w->id);  // probing: not routed yet
  CHECK(f.act.probing(*inst));
  f.clock.advance(milliseconds(1));
  f.act.mark_ready(inst);
  REQUIRE(w->id == 7u);
  REQUIRE(w->lease);
  CHECK(w->lease.instance()->endpoint.id == "i1");
  REQUIRE(w->lease.cold());
  CHECK(w->lease.cold_primary());
  CHECK(w->lease.cold()->queue == milliseconds(1));
  CHECK(w->lease.cold()->sandbox == milliseconds(5));
  CHECK(w->lease.cold()->readiness == milliseconds(1));
  CHECK(f.control.take() == std::vector<std::string>{"ready i1", "busy i1"});
  CHECK_FALSE(f.act.probing(*inst));
  w->lease.release();
  CHECK(f.control.take() == std::vector<std::string>{"idle i1"});
  // A warm request is granted at once, without cold-start phases.
  auto warm = f.request("hello", Admission::Kind::kGranted);
  CHECK_FALSE(warm->lease.cold());
}

TEST_CASE("activator: every request held for a start carries its phases, one is primary",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  auto b = f.request("hello", Admission::Kind::kQueued, 2);
  auto c = f.request("hello", Admission::Kind::kQueued, 3);
  f.ready("i1", "hello-00001", 2);
  REQUIRE(a->lease);
  REQUIRE(b->lease);
  CHECK_FALSE(c->id);  // concurrency 2: the third waits for a slot
  CHECK(a->lease.cold_primary());
  CHECK_FALSE(b->lease.cold_primary());
  CHECK(b->lease.cold());
  a->lease.release();
  REQUIRE(c->lease);
  CHECK_FALSE(c->lease.cold());  // it waited for a slot, not for the start
}

TEST_CASE("activator: at most concurrency requests per instance, the rest wait in order",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  f.ready("i1", "hello-00001", 2);
  auto r1 = f.request("hello", Admission::Kind::kGranted);
  auto r2 = f.request("hello", Admission::Kind::kGranted);
  auto r3 = f.request("hello", Admission::Kind::kQueued, 3);
  auto r4 = f.request("hello", Admission::Kind::kQueued, 4);
  auto* l = f.load_of("hello-00001");
  CHECK(l->in_flight == 2);
  CHECK(l->waiting == 2);
  CHECK(l->instances.at(0).in_flight == 2);
  r2->lease.release();
  CHECK(r3->lease);  // first in, first out
  CHECK_FALSE(r4->id);
  r1->lease.release();
  CHECK(r4->lease);
  CHECK(f.load_of("hello-00001")->waiting == 0);
  CHECK(f.load_of("hello-00001")->in_flight == 2);
}

TEST_CASE("activator: a full queue refuses at once and counts the refusal",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}, 2));
  f.request("hello", Admission::Kind::kQueued, 1);
  f.request("hello", Admission::Kind::kQueued, 2);
  f.request("hello", Admission::Kind::kQueueFull, 3);
  CHECK(f.last.metrics->queue_rejections == 1);
  CHECK(f.load_of("hello-00001")->waiting == 2);
  // queue_limit 0: nothing is ever held.
  f.act.set_route(route("nowait", {{"nowait-00001", 100, ""}}, 0));
  f.request("nowait", Admission::Kind::kQueueFull);
}

TEST_CASE("activator: the least loaded ready instance takes the request", "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  f.ready("i1", "hello-00001", 10);
  f.ready("i2", "hello-00001", 10);
  std::vector<std::shared_ptr<RecordingWaiter>> held;
  std::map<std::string, int> per;
  for (int i = 0; i < 6; ++i) {
    held.push_back(f.request("hello", Admission::Kind::kGranted));
    ++per[held.back()->lease.instance()->endpoint.id];
  }
  CHECK(per["i1"] == 3);
  CHECK(per["i2"] == 3);
  // Free two slots on i1: the next two go there.
  int freed = 0;
  for (auto& w : held)
    if (freed < 2 && w->lease.instance()->endpoint.id == "i1") {
      w->lease.release();
      ++freed;
    }
  CHECK(f.request("hello", Admission::Kind::kGranted)->lease.instance()->endpoint.id == "i1");
}

TEST_CASE(
    "activator: an instance that refused a connection gets nothing new, and the control "
    "plane hears why",
    "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto i1 = f.ready("i1", "hello-00001", 4);
  auto r1 = f.request("hello", Admission::Kind::kGranted);  // in flight on i1: left alone
  f.control.take();
  f.act.refused(*i1, "connect to port 8080: Connection refused");
  CHECK_FALSE(i1->routable);
  auto events = f.control.take();
  CHECK(std::find(events.begin(), events.end(),
                  "not_ready i1: connect to port 8080: Connection refused") != events.end());
  f.act.refused(*i1, "again");  // said once
  CHECK(f.control.take().empty());
  auto r2 = f.request("hello", Admission::Kind::kQueued, 2);  // held, not sent to i1
  auto i2 = f.ready("i2", "hello-00001", 4);
  CHECK(r2->lease);
  CHECK(r2->lease.instance() == i2);
  r1->lease.release();
}

TEST_CASE("activator: a draining instance gets nothing new and reports drained when idle",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto i1 = f.ready("i1", "hello-00001", 4);
  auto r1 = f.request("hello", Admission::Kind::kGranted);
  f.control.take();
  f.act.drain_instance("i1");
  CHECK_FALSE(i1->routable);
  CHECK(f.control.take().empty());                            // one still in flight
  auto r2 = f.request("hello", Admission::Kind::kQueued, 2);  // not sent to the draining one
  auto i2 = f.ready("i2", "hello-00001", 4);
  CHECK(r2->lease);
  r1->lease.release();
  auto events = f.control.take();
  CHECK(std::find(events.begin(), events.end(), "drained i1") != events.end());
  CHECK(f.load_of("hello-00001")->instances.at(0).draining);
  f.act.drain_instance("i2");
  events = f.control.take();
  CHECK(std::find(events.begin(), events.end(), "drained i2") == events.end());  // r2 on it
  r2->lease.release();
  events = f.control.take();
  CHECK(std::find(events.begin(), events.end(), "drained i2") != events.end());
  // Draining an instance that never became ready reports at once.
  auto i3 = f.act.add_instance(endpoint("i3", "hello-00001"), Readiness{});
  f.act.drain_instance("i3");  // still probing: nothing in flight
  events = f.control.take();
  CHECK(std::find(events.begin(), events.end(), "drained i3") != events.end());
  CHECK_FALSE(f.act.probing(*i3));
}

TEST_CASE("activator: a removed instance is gone at once, its leases still end cleanly",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  f.ready("i1", "hello-00001", 4);
  auto r1 = f.request("hello", Admission::Kind::kGranted);
  f.control.take();
  auto gone = f.act.remove_instance("i1");
  REQUIRE(gone);
  CHECK(gone->gone);
  CHECK_FALSE(gone->routable);
  CHECK_FALSE(f.act.remove_instance("i1"));
  f.request("hello", Admission::Kind::kQueued, 2);  // nothing left to take it
  r1->lease.release();
  CHECK(f.control.take() == std::vector<std::string>{"demand hello-00001 1"});  // no idle edge
  CHECK(f.load_of("hello-00001")->instances.empty());
  CHECK(f.load_of("hello-00001")->in_flight == 0);
}

TEST_CASE("activator: fail_waiting answers that revision's held requests 502 with the reason",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  f.act.set_route(route("other", {{"other-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  auto b = f.request("other", Admission::Kind::kQueued, 2);
  f.act.fail_waiting("hello-00001", "image pull failed: not found");
  CHECK(a->status == 502);
  CHECK(a->reason == "image pull failed: not found");
  CHECK_FALSE(b->id);
  CHECK(f.load_of("hello-00001")->waiting == 0);
  // The queue is free again.
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}, 1));
  auto c = f.request("hello", Admission::Kind::kQueued, 3);
  // No start could begin (a full or drained node): the status the control plane gives.
  f.act.fail_waiting("hello-00001", "no room on this node for another instance: cpu", 503);
  CHECK(c->status == 503);
}

TEST_CASE("activator: removing a route answers held requests 503 and new ones 404",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  f.act.remove_route("hello");
  CHECK(a->status == 503);
  CHECK(a->reason.find("hello was removed") != std::string::npos);
  f.request("hello", Admission::Kind::kUnknownService);
  CHECK(f.load_of("hello-00001") == nullptr);  // forgotten: nothing refers to it
}

TEST_CASE("activator: a new split moves held requests to the new revision",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  f.control.take();
  f.act.set_route(route("hello", {{"hello-00002", 100, ""}}));
  CHECK(f.control.take() == std::vector<std::string>{"demand hello-00002 1"});
  CHECK(f.load_of("hello-00002")->waiting == 1);
  f.ready("i2", "hello-00002");
  REQUIRE(a->lease);
  CHECK(a->lease.instance()->endpoint.revision == "hello-00002");
}

TEST_CASE("activator: traffic split by percent across revisions", "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 80, ""}, {"hello-00002", 20, ""}}));
  f.ready("a", "hello-00001", 1000);
  f.ready("b", "hello-00002", 1000);
  std::map<std::string, int> per;
  std::vector<std::shared_ptr<RecordingWaiter>> held;
  for (int i = 0; i < 100; ++i) {
    held.push_back(f.request("hello", Admission::Kind::kGranted));
    ++per[held.back()->lease.instance()->endpoint.revision];
  }
  CHECK(per["hello-00001"] == 80);
  CHECK(per["hello-00002"] == 20);
}

TEST_CASE("activator: a cancelled held request leaves the queue, a granted one cannot",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}, 1));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  auto rev = f.last.revision;
  CHECK_FALSE(f.act.cancel(*rev, a.get(), 2));  // another wait of the same waiter
  CHECK(f.act.cancel(*rev, a.get(), 1));
  CHECK_FALSE(f.act.cancel(*rev, a.get(), 1));
  auto b = f.request("hello", Admission::Kind::kQueued, 3);  // room again
  f.ready("i1", "hello-00001");
  CHECK(b->lease);
  CHECK_FALSE(f.act.cancel(*rev, b.get(), 3));
}

TEST_CASE("activator: the concurrency integral is exact and busy time adds up",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  f.ready("i1", "hello-00001", 2);
  double before = f.load_of("hello-00001")->concurrency_ms_total;
  auto r1 = f.request("hello", Admission::Kind::kGranted);
  auto r2 = f.request("hello", Admission::Kind::kGranted);
  f.clock.advance(milliseconds(100));                         // 2 x 100
  auto r3 = f.request("hello", Admission::Kind::kQueued, 3);  // 3 x 50
  f.clock.advance(milliseconds(50));
  r1->lease.release();  // r3 takes the slot: still 2
  f.clock.advance(milliseconds(25));
  r2->lease.release();
  r3->lease.release();
  f.clock.advance(milliseconds(1000));  // idle: adds nothing
  auto* l = f.load_of("hello-00001");
  CHECK(l->concurrency_ms_total - before == Approx(200 + 150 + 50));
  CHECK(l->requests_total == 3);
  CHECK(l->instances.at(0).busy_ms_total == 175);
  CHECK(l->instances.at(0).requests_total == 3);
  // Readings in between are exact too (no sampling): one in flight for 10 ms reads as 10.
  auto r4 = f.request("hello", Admission::Kind::kGranted);
  f.clock.advance(milliseconds(10));
  CHECK(f.load_of("hello-00001")->concurrency_ms_total - before == Approx(410));
  CHECK(f.load_of("hello-00001")->instances.at(0).busy_ms_total == 185);
}

TEST_CASE("activator: a probe that gives up is reported, the instance never routed",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  auto inst = f.act.add_instance(endpoint("i1", "hello-00001"), Readiness{});
  f.control.take();
  f.act.mark_not_ready(inst, "port 8080 never answered");
  CHECK(f.control.take() == std::vector<std::string>{"not_ready i1: port 8080 never answered"});
  f.act.mark_ready(inst);  // too late: ignored
  CHECK_FALSE(a->id);
}

TEST_CASE("activator: shutdown answers held requests 503 and refuses new ones",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto a = f.request("hello", Admission::Kind::kQueued, 1);
  f.act.shutdown("the proxy is stopping");
  CHECK(a->status == 503);
  f.request("hello", Admission::Kind::kShuttingDown);
}

TEST_CASE("activator: replacing an instance id removes the old one", "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}));
  auto old = f.ready("i1", "hello-00001");
  auto fresh = f.act.add_instance(endpoint("i1", "hello-00001"), Readiness{});
  CHECK(old->gone);
  CHECK(fresh->serial != old->serial);
  CHECK(f.load_of("hello-00001")->instances.size() == 1);
}

TEST_CASE("activator: many threads never put more than concurrency on an instance",
          "[ingress][activator]") {
  Fixture f;
  f.act.set_route(route("hello", {{"hello-00001", 100, ""}}, 100000));
  f.ready("i1", "hello-00001", 3);
  f.ready("i2", "hello-00001", 2);
  std::atomic<int> on_i1{0}, on_i2{0}, worst{0}, done{0};
  auto use = [&](Lease& lease) {
    auto& counter = lease.instance()->endpoint.id == "i1" ? on_i1 : on_i2;
    int limit = lease.instance()->endpoint.id == "i1" ? 3 : 2;
    int now = ++counter;
    if (now > limit) worst = now;
    --counter;
    lease.release();
    ++done;
  };
  // Held requests are granted on whichever thread frees a slot; the grant is queued and any
  // thread takes it from there (using it inside granted() would recurse through release()).
  struct Worker final : Waiter {
    std::mutex mu;
    std::deque<Lease> granted_leases;
    void granted(std::uint64_t, Lease lease) override {
      std::lock_guard l(mu);
      granted_leases.push_back(std::move(lease));
    }
    void rejected(std::uint64_t, int, std::string) override {}
    bool take(Lease& out) {
      std::lock_guard l(mu);
      if (granted_leases.empty()) return false;
      out = std::move(granted_leases.front());
      granted_leases.pop_front();
      return true;
    }
  };
  auto w = std::make_shared<Worker>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        Admission a = f.act.admit("hello", w, static_cast<std::uint64_t>(i), f.clock.steady_now());
        if (a.kind == Admission::Kind::kGranted) use(a.lease);
        Lease g;
        if (w->take(g)) use(g);
      }
      auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done < 20000 && std::chrono::steady_clock::now() < end) {
        Lease g;
        if (w->take(g)) use(g);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(worst == 0);
  CHECK(done == 20000);
  auto* l = f.load_of("hello-00001");
  CHECK(l->in_flight == 0);
  CHECK(l->waiting == 0);
  CHECK(l->requests_total == 20000);
}
