// The activator through the real proxy: a request for a service at zero waits while an instance
// starts (the fake control plane launches svc-test-httpd when asked) and pays for it with a
// Server-Timing header; on_demand at once; the bounded queue (503 + Retry-After), a failed
// start (502 with the reason), a held request past its deadline (504); at most `concurrency`
// requests per instance; readiness by TCP connect or by GET; the load the autoscaler reads.
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/ingress/proxy_fixture.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;
using namespace std::chrono_literals;

namespace {

// A request sent on its own connection; its response read later.
struct Held {
  Held(int port, const std::string& host, const std::string& path)
      : conn(std::make_unique<HttpConnection>(port, 20s)) {
    sent = conn->send(request_bytes("GET", host, path));
  }
  std::unique_ptr<HttpConnection> conn;
  bool sent = false;
};

std::optional<RevisionLoad> load_of(Proxy& proxy, const std::string& revision) {
  for (auto& l : proxy.load())
    if (l.revision == revision) return l;
  return std::nullopt;
}

}  // namespace

TEST_CASE(
    "activator: a request at zero instances waits for a start and pays for it with "
    "Server-Timing",
    "[ingress][activator][cold]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  StartPolicy policy;
  policy.auto_start = true;
  f.cp.set_policy("hello-00001", policy);

  auto r = f.get("hello.localhost", "/");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("hello from hello-00001-i1") == 0);
  std::string timing = r->header("Server-Timing");
  INFO(timing);
  for (const char* phase : {"queue;dur=", "sandbox;dur=", "readiness;dur=", "first-byte;dur="})
    CHECK(timing.find(phase) != std::string::npos);
  // The control plane heard of the demand before the instance was ready.
  auto events = f.cp.events();
  auto demand = std::find(events.begin(), events.end(), "demand hello-00001 1");
  auto ready = std::find(events.begin(), events.end(), "ready hello-00001-i1");
  CHECK(demand < ready);
  CHECK(ready != events.end());

  REQUIRE(f.cp.wait_records(1));
  auto rec = f.cp.records().at(0);
  CHECK(rec.status == 200);
  CHECK(rec.instance == "hello-00001-i1");
  CHECK(rec.cold_start);
  // The next request finds the instance warm: no cold start to report.
  auto warm = f.get("hello.localhost", "/");
  REQUIRE(warm);
  CHECK(warm->status == 200);
  CHECK(warm->count("Server-Timing") == 0);
  std::string metrics = f.proxy->metrics_text();
  CHECK(metrics.find("svc_ingress_cold_starts_total{service=\"hello\"} 1\n") != std::string::npos);
  CHECK(metrics.find("svc_ingress_cold_start_phase_seconds_count{service=\"hello\","
                     "phase=\"sandbox\"} 1\n") != std::string::npos);
}

TEST_CASE(
    "activator: on_demand fires as soon as a request is held, held requests go on when "
    "the instance is ready",
    "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  Held a(f.port(), "hello.localhost", "/");
  REQUIRE(a.sent);
  REQUIRE(f.cp.wait_event("demand hello-00001 1"));
  Held b(f.port(), "hello.localhost", "/headers");
  REQUIRE(b.sent);
  REQUIRE(f.cp.wait_event("demand hello-00001 2"));
  auto l = load_of(*f.proxy, "hello-00001");
  REQUIRE(l);
  CHECK(l->waiting == 2);
  CHECK(l->instances.empty());
  // An instance that takes a while to listen: the probe notices when it does.
  std::string id = f.cp.start_instance("hello-00001", 10, {"--delay-ms", "150"});
  auto ra = a.conn->read_response();
  auto rb = b.conn->read_response();
  REQUIRE(ra);
  REQUIRE(rb);
  CHECK(ra->status == 200);
  CHECK(rb->status == 200);
  CHECK(ra->count("Server-Timing") == 1);
  CHECK(rb->count("Server-Timing") == 1);
  // A request is recorded once its slot is free again (just after its last byte went out).
  REQUIRE(f.cp.wait_records(2));
  l = load_of(*f.proxy, "hello-00001");
  REQUIRE(l);
  CHECK(l->waiting == 0);
  CHECK(l->requests_total == 2);
  // Only one of them counts as the service's cold start.
  CHECK(f.proxy->metrics_text().find("svc_ingress_cold_starts_total{service=\"hello\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("activator: a full queue answers 503 with Retry-After at once, the held ones go on",
          "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001", /*queue_limit=*/2);
  Held a(f.port(), "hello.localhost", "/");
  REQUIRE(f.cp.wait_event("demand hello-00001 1"));
  Held b(f.port(), "hello.localhost", "/");
  REQUIRE(f.cp.wait_event("demand hello-00001 2"));
  auto full = f.get("hello.localhost", "/");
  REQUIRE(full);
  CHECK(full->status == 503);
  CHECK(full->header("Retry-After") == "1");
  CHECK(full->body.find("queue") != std::string::npos);
  CHECK(full->body.find("hello") != std::string::npos);
  f.warm("hello-00001");
  CHECK(a.conn->read_response()->status == 200);
  CHECK(b.conn->read_response()->status == 200);
  CHECK(f.proxy->metrics_text().find("svc_ingress_queue_rejections_total{service=\"hello\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("activator: a failed start answers the held requests 502 with the reason",
          "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  StartPolicy policy;
  policy.fail_with = "pull registry.local/hello:1: manifest unknown";
  f.cp.set_policy("hello-00001", policy);
  auto r = f.get("hello.localhost", "/");
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->body.find("could not start an instance") != std::string::npos);
  CHECK(r->body.find("manifest unknown") != std::string::npos);
  REQUIRE(f.cp.wait_records(1));
  CHECK(f.cp.records().at(0).status == 502);
  CHECK(f.cp.records().at(0).instance.empty());
}

TEST_CASE("activator: a held request past its request timeout gets 504", "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001", 1000, /*request_timeout=*/300ms);
  auto r = f.get("hello.localhost", "/");
  REQUIRE(r);
  CHECK(r->status == 504);
  CHECK(r->body.find("request timeout") != std::string::npos);
  CHECK(r->body.find("300ms") != std::string::npos);
  auto l = load_of(*f.proxy, "hello-00001");
  REQUIRE(l);
  CHECK(l->waiting == 0);  // it left the queue
  // An instance that answers too slowly: 504 too (the response had not started).
  f.warm("hello-00001");
  auto slow = f.get("hello.localhost", "/sleep?ms=3000");
  REQUIRE(slow);
  CHECK(slow->status == 504);
  CHECK(slow->body.find("did not start answering") != std::string::npos);
  // The instance is fine for the next request.
  CHECK(f.get("hello.localhost", "/")->status == 200);
}

TEST_CASE("activator: an instance takes at most concurrency requests, the rest wait their turn",
          "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string id = f.warm("hello-00001", /*concurrency=*/2, {"--log-requests"});
  std::vector<std::unique_ptr<Held>> held;
  for (int i = 0; i < 5; ++i)
    held.push_back(std::make_unique<Held>(f.port(), "hello.localhost", "/sleep?ms=300"));
  // Two reach the instance, three are held by the proxy.
  REQUIRE(wait_for(
      [&] {
        auto l = load_of(*f.proxy, "hello-00001");
        return l && l->in_flight == 2 && l->waiting == 3;
      },
      10s));
  for (auto& h : held) {
    auto r = h->conn->read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  REQUIRE(f.cp.wait_records(5));
  auto l = load_of(*f.proxy, "hello-00001");
  REQUIRE(l);
  CHECK(l->requests_total == 5);
  CHECK(l->instances.at(0).requests_total == 5);
  // Five requests of >= 300 ms each were in flight or held: the integral counts all of it.
  CHECK(l->concurrency_ms_total >= 5 * 300.0);
  CHECK(l->instances.at(0).busy_ms_total >= 3 * 300);
}

TEST_CASE("activator: the least loaded instance takes the next request", "[ingress][activator]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string a = f.warm("hello-00001", 10);
  // Two long requests occupy the only instance; then a second one comes.
  Held busy1(f.port(), "hello.localhost", "/sleep?ms=1500");
  Held busy2(f.port(), "hello.localhost", "/sleep?ms=1500");
  REQUIRE(wait_for([&] { return load_of(*f.proxy, "hello-00001")->in_flight == 2; }, 10s));
  std::string b = f.warm("hello-00001", 10);
  // Each next request goes to the less loaded one (at most 1 in flight there, even counting a
  // request whose slot is being freed as the next arrives).
  for (int i = 0; i < 4; ++i) {
    auto r = f.get("hello.localhost", "/");
    REQUIRE(r);
    CHECK(r->body.find("hello from " + b) == 0);
  }
  CHECK(busy1.conn->read_response()->status == 200);
  CHECK(busy2.conn->read_response()->status == 200);
}

TEST_CASE("activator: readiness by GET on the readiness path, and a probe that gives up",
          "[ingress][activator][readiness]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  Readiness http;
  http.http_path = "/healthz";
  std::string id =
      f.cp.start_instance("hello-00001", 10, {"--healthz-fail"}, http, /*wait_ready=*/false);
  REQUIRE(f.cp.process(id).wait_listening());
  // Listening but unhealthy: not routed, requests wait.
  Held a(f.port(), "hello.localhost", "/");
  REQUIRE(f.cp.wait_event("demand hello-00001 1"));
  CHECK_FALSE(f.cp.has_event("ready " + id));
  auto direct = http_request(f.cp.instance_port(id), "GET", "x", "/healthz?fail=0");
  REQUIRE(direct);
  REQUIRE(f.cp.wait_event("ready " + id));
  CHECK(a.conn->read_response()->status == 200);

  // One that never gets healthy: on_not_ready says why, the instance never gets a request.
  Readiness strict;
  strict.http_path = "/healthz";
  strict.timeout = 2000ms;
  std::string bad = f.cp.start_instance("hello-00001", 10, {"--healthz-fail"}, strict, false);
  REQUIRE(f.cp.wait_event("not_ready " + bad));
  std::string why;
  for (auto& e : f.cp.events())
    if (e.find("not_ready_why") == 0) why = e;
  INFO(why);
  CHECK(why.find("did not answer GET /healthz with 2xx or 3xx within 2000 ms") !=
        std::string::npos);
  CHECK(why.find("last: GET /healthz answered 503") != std::string::npos);
  auto after = load_of(*f.proxy, "hello-00001");
  for (auto& inst : after->instances)
    if (inst.id == bad) CHECK_FALSE(inst.ready);
}

TEST_CASE("activator: a TCP probe notices an app that starts listening late",
          "[ingress][activator][readiness]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  StartPolicy policy;
  policy.auto_start = true;
  policy.args = {"--delay-ms", "300"};
  f.cp.set_policy("hello-00001", policy);
  // Many requests at once while it starts: one start, all answered.
  std::vector<std::future<int>> results;
  for (int i = 0; i < 20; ++i)
    results.push_back(std::async(std::launch::async, [&] {
      auto r = f.get("hello.localhost", "/");
      return r ? r->status : 0;
    }));
  for (auto& r : results) CHECK(r.get() == 200);
  REQUIRE(f.cp.wait_records(20));
  auto l = load_of(*f.proxy, "hello-00001");
  REQUIRE(l);
  CHECK(l->instances.size() == 1);
  CHECK(l->requests_total == 20);
}
