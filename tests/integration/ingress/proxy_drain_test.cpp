// Instances leaving and failing, through the real proxy: a draining instance gets nothing new
// and reports drained once its requests are done; a removed one fails what it had (502); an
// instance that crashes mid-request gives that request a 502 (or a cut connection once the
// response started); a pooled connection the instance closed is retried on a fresh one when the
// request is safe to send again, and never sent twice otherwise.
#include <catch2/catch.hpp>

#include "tests/integration/ingress/proxy_fixture.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;
using namespace std::chrono_literals;

namespace {

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::optional<InstanceLoad> instance_load(Proxy& proxy, const std::string& id) {
  for (auto& rev : proxy.load())
    for (auto& inst : rev.instances)
      if (inst.id == id) return inst;
  return std::nullopt;
}

}  // namespace

TEST_CASE(
    "drain: a draining instance gets nothing new, finishes its requests, then reports "
    "drained",
    "[ingress][drain]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string a = f.warm("hello-00001", 10, {"--log-requests"});
  HttpConnection slow(f.port(), 20s);
  REQUIRE(slow.send(request_bytes("GET", "hello.localhost", "/sleep?ms=1500")));
  REQUIRE(f.cp.process(a).wait_log("request GET /sleep"));
  f.proxy->drain_instance(a);
  CHECK_FALSE(f.cp.has_event("drained " + a));  // its request is still in flight
  auto la = instance_load(*f.proxy, a);
  REQUIRE(la);
  CHECK(la->draining);
  CHECK(la->in_flight == 1);
  // A new request does not go to it: it waits for another instance.
  HttpConnection next(f.port(), 20s);
  REQUIRE(next.send(request_bytes("GET", "hello.localhost", "/")));
  REQUIRE(f.cp.wait_event("demand hello-00001 1"));
  std::string b = f.warm("hello-00001");
  auto rn = next.read_response();
  REQUIRE(rn);
  CHECK(rn->status == 200);
  CHECK(rn->body.find("hello from " + b) == 0);
  // The drained instance's request ends normally, then it is reported drained.
  auto rs = slow.read_response();
  REQUIRE(rs);
  CHECK(rs->status == 200);
  CHECK(f.cp.wait_event("drained " + a));
  CHECK(f.get("hello.localhost", "/")->body.find("hello from " + b) == 0);
  // An idle instance drains at once.
  f.proxy->drain_instance(b);
  CHECK(f.cp.wait_event("drained " + b));
}

TEST_CASE("drain: a removed instance fails what it had in flight with 502", "[ingress][drain]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string a = f.warm("hello-00001", 10, {"--log-requests"});
  HttpConnection c(f.port(), 20s);
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/sleep?ms=5000")));
  REQUIRE(f.cp.process(a).wait_log("request GET /sleep"));
  f.proxy->remove_instance(a, "instance " + a + " was stopped (OOMKilled)");
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->body.find("OOMKilled") != std::string::npos);
  CHECK_FALSE(instance_load(*f.proxy, a));
  REQUIRE(f.cp.wait_records(1));
  CHECK(f.cp.records().at(0).status == 502);
  CHECK(f.cp.records().at(0).instance == a);
  // The service goes on with a new instance.
  f.warm("hello-00001");
  CHECK(f.get("hello.localhost", "/")->status == 200);
}

TEST_CASE(
    "crash: an instance that dies mid-request gives that request a 502, the next one "
    "goes elsewhere",
    "[ingress][drain][crash]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string a = f.warm("hello-00001");
  auto r = f.get("hello.localhost", "/crash");
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->body.find("instance " + a + " failed the request") != std::string::npos);
  CHECK(f.cp.wait_event("upstream_error " + a));
  CHECK(f.proxy->metrics_text().find("svc_ingress_upstream_errors_total{service=\"hello\"} 1\n") !=
        std::string::npos);
  // What the control plane does on that report: the instance is gone, a new one serves.
  f.proxy->remove_instance(a, "exited with status 3");
  std::string b = f.warm("hello-00001");
  CHECK(f.get("hello.localhost", "/")->body.find("hello from " + b) == 0);

  // A crash after the response started: too late for a 502; the client sees the connection end
  // before the body does (Content-Length 1000, 12 bytes came).
  HttpConnection c(f.port());
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/crash?after=body")));
  auto head = c.read_head();
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("Content-Length") == "1000");
  std::string got;
  for (std::string piece = c.read_some(); !piece.empty(); piece = c.read_some()) got += piece;
  CHECK(got == "partial body");
  CHECK(f.cp.wait_event("upstream_error " + b));
}

TEST_CASE("retry: a pooled connection the instance closed is retried for GET, never for POST",
          "[ingress][drain][retry]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  // Each connection serves one request, then drops the next one unanswered.
  std::string a = f.warm("hello-00001", 10, {"--drop-after", "1", "--log-requests"});
  HttpConnection c(f.port());
  for (int i = 0; i < 6; ++i) {
    REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/conn")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  // From the second request on, each pooled connection was dropped: the proxy went again on a
  // fresh one, unseen by the client.
  CHECK(occurrences(f.cp.process(a).log(), "dropped GET /conn") >= 5);

  // A POST on a connection the instance drops: it may have acted on it, so it is not sent
  // again; the client gets 502 (its own retry is its decision).
  std::size_t before = occurrences(f.cp.process(a).log(), "request POST /echo");
  REQUIRE(c.send(request_bytes("POST", "hello.localhost", "/echo", "once")));
  auto post = c.read_response();
  REQUIRE(post);
  CHECK(post->status == 502);
  CHECK(occurrences(f.cp.process(a).log(), "dropped POST /echo") == 1);
  CHECK(occurrences(f.cp.process(a).log(), "request POST /echo") == before + 1);
}

TEST_CASE(
    "retry: a refused connect goes to another ready instance, any method, and with none left "
    "waits for a new one - the refusing instance gets nothing more",
    "[ingress][drain][retry]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string a = f.warm("hello-00001");
  std::string b = f.warm("hello-00001");
  // a's app is gone but nobody told the proxy yet (its exit is still on its way): its port
  // refuses connections, and nothing of a request sent there can have reached it.
  f.cp.process(a).kill_now();
  HttpConnection c(f.port());
  for (int i = 0; i < 4; ++i) {
    REQUIRE(c.send(request_bytes("POST", "hello.localhost", "/echo", "body " + std::to_string(i))));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "body " + std::to_string(i));
  }
  REQUIRE(f.cp.wait_records(4));
  for (const auto& rec : f.cp.records()) {
    CHECK(rec.instance == b);
    CHECK(rec.status == 200);
  }
  // The control plane hears why a was passed over; no request failed.
  CHECK(f.cp.wait_event("upstream_error " + a));
  bool explained = false;
  for (const auto& e : f.cp.events())
    explained = explained || (e.starts_with("upstream_error_why ") &&
                              e.find("the request went to another instance") != std::string::npos);
  CHECK(explained);
  CHECK(f.proxy->metrics_text().find("svc_ingress_upstream_errors_total{service=\"hello\"} 0\n") !=
        std::string::npos);
  // Nothing listens on a's port: the control plane hears it is not ready, and only the first
  // request tried it.
  CHECK(f.cp.wait_event("not_ready " + a));
  bool said_refused = false;
  for (const auto& e : f.cp.events())
    said_refused =
        said_refused || (e.starts_with("not_ready_why ") && e.find("refused") != std::string::npos);
  CHECK(said_refused);

  // With no other instance to go to, the request was never sent anywhere: it waits for a new
  // instance as a request at zero does, and gets its answer from it.
  StartPolicy starts;
  starts.auto_start = true;
  f.cp.set_policy("hello-00001", starts);
  f.cp.process(b).kill_now();
  HttpConnection d(f.port());
  REQUIRE(d.send(request_bytes("POST", "hello.localhost", "/echo", "after both")));
  auto r = d.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "after both");
  CHECK(f.cp.wait_event("not_ready " + b));
  REQUIRE(f.cp.wait_records(5));
  auto last = f.cp.records().back();
  CHECK(last.instance != a);
  CHECK(last.instance != b);
  CHECK(last.status == 200);
}
