// The proxy on 127.0.0.1:0 in front of real svc-test-httpd processes: routing by Host, what
// the instance sees (forwarding headers, no hop-by-hop ones), keep-alive and pipelining on both
// sides, the request log, metrics and load, and a listen address that cannot be bound.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "tests/integration/ingress/proxy_fixture.hpp"

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;

TEST_CASE("proxy: NAME.localhost routes to the service, with or without a port",
          "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string id = f.warm("hello-00001");
  for (std::string host :
       std::vector<std::string>{"hello.localhost", "hello.localhost:" + std::to_string(f.port()),
                                "HELLO.LocalHost:8080", "hello.localhost."}) {
    auto r = f.get(host, "/");
    REQUIRE(r);
    INFO(host);
    CHECK(r->status == 200);
    CHECK(r->body.find("hello from " + id) == 0);
  }
  // Absolute-form targets route by their authority.
  HttpConnection c(f.port());
  REQUIRE(c.send("GET http://hello.localhost/headers HTTP/1.1\r\nHost: other\r\n\r\n"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("GET /headers HTTP/1.1\n") == 0);
  CHECK(r->body.find("Host: hello.localhost\n") != std::string::npos);
}

TEST_CASE("proxy: an unknown host gets 404 with a body that says so", "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  for (std::string host : std::vector<std::string>{"nope.localhost", "localhost", "127.0.0.1",
                                                   "a.b.localhost", "hello.example.com"}) {
    auto r = f.get(host, "/");
    REQUIRE(r);
    INFO(host);
    CHECK(r->status == 404);
    CHECK(r->body.find("no service answers at " + host) != std::string::npos);
    CHECK(r->body.find("NAME.localhost") != std::string::npos);
  }
  // HTTP/1.0 without Host: nothing to route by.
  HttpConnection c(f.port());
  REQUIRE(c.send("GET / HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 404);
  // The service itself is unaffected; the metrics count them apart.
  CHECK(f.get("hello.localhost", "/")->status == 200);
  CHECK(f.proxy->metrics_text().find("svc_ingress_unrouted_requests_total 6\n") !=
        std::string::npos);
}

TEST_CASE("proxy: /metrics on a host that names no service is the metrics, a service keeps its own",
          "[ingress][proxy]") {
  {
    ProxyFixture f;
    f.route("hello", "hello-00001");
    f.warm("hello-00001");
    REQUIRE(f.get("hello.localhost", "/")->status == 200);
    for (std::string host : std::vector<std::string>{"127.0.0.1", "localhost", "[::1]"}) {
      auto r = f.get(host, "/metrics");
      REQUIRE(r);
      INFO(host);
      CHECK(r->status == 200);
      CHECK(r->body.find("svc_ingress_requests_total{service=\"hello\",code=\"2xx\"} 1\n") !=
            std::string::npos);
    }
    // The app's own /metrics goes to the app; another method or path is the usual 404.
    auto own = f.get("hello.localhost", "/metrics");
    REQUIRE(own);
    CHECK(own->body.find("svc_ingress_") == std::string::npos);  // the app's answer (its 404)
    CHECK(own->body.find("no service answers") == std::string::npos);
    CHECK(f.get("127.0.0.1", "/metricsx")->status == 404);
    CHECK(f.get("127.0.0.1", "/metrics/")->status == 404);
    // Scrapes are not unrouted requests.
    CHECK(f.proxy->metrics_text().find("svc_ingress_unrouted_requests_total 2\n") !=
          std::string::npos);
  }
  {
    // What the daemon gives is what is served; "" turns it off.
    ProxyOptions o = test_options();
    o.metrics = [] { return std::string("svc_up 1\n"); };
    ProxyFixture f(o);
    auto r = f.get("127.0.0.1", "/metrics");
    REQUIRE(r);
    CHECK(r->body == "svc_up 1\n");
    ProxyOptions off = test_options();
    off.metrics_path = "";
    ProxyFixture g(off);
    CHECK(g.get("127.0.0.1", "/metrics")->status == 404);
  }
}

TEST_CASE("proxy: the instance sees X-Forwarded-* and Forwarded, never hop-by-hop fields",
          "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  auto r = f.get("hello.localhost:8080", "/headers?x=1",
                 "X-Forwarded-For: 203.0.113.9\r\n"
                 "X-Forwarded-Proto: https\r\n"
                 "Connection: keep-alive, X-Secret\r\n"
                 "X-Secret: hop\r\n"
                 "Keep-Alive: timeout=5\r\n"
                 "Proxy-Connection: keep-alive\r\n"
                 "TE: trailers\r\n"
                 "Upgrade: websocket\r\n"
                 "Proxy-Authorization: Basic eA==\r\n"
                 "X-Kept: yes\r\n");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const std::string& seen = r->body;
  INFO(seen);
  CHECK(seen.find("GET /headers?x=1 HTTP/1.1\n") == 0);
  CHECK(seen.find("Host: hello.localhost:8080\n") != std::string::npos);
  CHECK(seen.find("X-Kept: yes\n") != std::string::npos);
  CHECK(seen.find("X-Forwarded-For: 203.0.113.9, 127.0.0.1\n") != std::string::npos);
  CHECK(seen.find("X-Forwarded-Proto: http\n") != std::string::npos);  // ours, not theirs
  CHECK(seen.find("X-Forwarded-Proto: https") == std::string::npos);
  CHECK(seen.find("X-Forwarded-Host: hello.localhost:8080\n") != std::string::npos);
  CHECK(seen.find("Forwarded: for=127.0.0.1;host=\"hello.localhost:8080\";proto=http\n") !=
        std::string::npos);
  for (const char* gone : {"X-Secret", "Keep-Alive", "Proxy-Connection", "TE:", "Upgrade",
                           "Proxy-Authorization", "Connection:"})
    CHECK(seen.find(gone) == std::string::npos);
}

TEST_CASE("proxy: responses lose hop-by-hop fields and keep the instance's own",
          "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  auto r = f.get("hello.localhost", "/bytes?n=10");
  REQUIRE(r);
  CHECK(r->header("Content-Type") == "application/octet-stream");
  CHECK(r->header("Content-Length") == "10");
  CHECK(r->count("Connection") == 0);
  // Connection: close from the client is honoured (and said) after the response.
  HttpConnection c(f.port());
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/", "", "Connection: close\r\n")));
  auto last = c.read_response();
  REQUIRE(last);
  CHECK(last->header("Connection") == "close");
  CHECK(c.closed_by_peer());
}

TEST_CASE(
    "proxy: keep-alive and pipelined requests answered in order, upstream connections "
    "reused",
    "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  HttpConnection c(f.port());
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/conn")));
  auto first = c.read_response();
  REQUIRE(first);
  std::string conn = first->body;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/conn")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == conn);  // the same pooled connection to the instance
  }
  // Pipelined: five requests in one write, including one with a body.
  std::string batch;
  for (int i = 0; i < 5; ++i)
    batch +=
        i == 2 ? request_bytes("POST", "hello.localhost", "/echo", "body-2")
               : request_bytes("GET", "hello.localhost", "/status?code=" + std::to_string(200 + i));
  REQUIRE(c.send(batch));
  for (int i = 0; i < 5; ++i) {
    auto r = c.read_response();
    REQUIRE(r);
    if (i == 2) {
      CHECK(r->status == 200);
      CHECK(r->body == "body-2");
    } else {
      CHECK(r->status == 200 + i);
    }
  }
  // A second client connection (possibly on the other io thread) works alike.
  HttpConnection d(f.port());
  REQUIRE(d.send(request_bytes("GET", "hello.localhost", "/")));
  CHECK(d.read_response()->status == 200);
}

TEST_CASE("proxy: each proxied request is reported with method, path, status and instance",
          "[ingress][proxy]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string id = f.warm("hello-00001");
  CHECK(f.get("hello.localhost", "/status?code=201")->status == 201);
  REQUIRE(f.cp.wait_records(1));
  auto rec = f.cp.records().at(0);
  CHECK(rec.service == "hello");
  CHECK(rec.revision == "hello-00001");
  CHECK(rec.instance == id);
  CHECK(rec.method == "GET");
  CHECK(rec.path == "/status");  // no query string
  CHECK(rec.status == 201);
  CHECK(rec.client == "127.0.0.1");
  CHECK(rec.response_bytes == std::string("status 201\n").size());
  CHECK_FALSE(rec.cold_start);
  auto load = f.proxy->load();
  REQUIRE(load.size() == 1);
  CHECK(load[0].requests_total == 1);
  CHECK(load[0].in_flight == 0);
  REQUIRE(load[0].instances.size() == 1);
  CHECK(load[0].instances[0].ready);
  CHECK(load[0].instances[0].requests_total == 1);
  std::string metrics = f.proxy->metrics_text();
  CHECK(metrics.find("svc_ingress_requests_total{service=\"hello\",code=\"2xx\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("svc_ingress_instances_ready{service=\"hello\"} 1\n") != std::string::npos);
  // Busy/idle edges went to the control plane.
  CHECK(f.cp.wait_event("busy " + id));
  CHECK(f.cp.wait_event("idle " + id));
}

TEST_CASE("proxy: a listen address that cannot be bound fails start with a clear error",
          "[ingress][proxy]") {
  ProxyFixture f;
  ProxyOptions taken = test_options();
  taken.listen = "127.0.0.1:" + std::to_string(f.port());
  SystemClock clock;
  TestControlPlane cp(clock);
  auto second = Proxy::start(taken, cp, clock);
  REQUIRE_FALSE(second);
  CHECK(second.error().message().find("cannot listen on 127.0.0.1:" + std::to_string(f.port())) !=
        std::string::npos);
  CHECK(second.error().message().find("in use") != std::string::npos);
  CHECK(second.error().message().find("[ingress] listen") != std::string::npos);

  ProxyOptions bad = test_options();
  bad.listen = "not-an-address:80";
  auto third = Proxy::start(bad, cp, clock);
  REQUIRE_FALSE(third);
  CHECK(third.error().message().find("not an IP address") != std::string::npos);
  bad.listen = "192.0.2.1:8080";  // TEST-NET: not this machine's
  auto fourth = Proxy::start(bad, cp, clock);
  REQUIRE_FALSE(fourth);
  CHECK(fourth.error().message().find("cannot listen on 192.0.2.1:8080") != std::string::npos);
  ProxyOptions no_domain = test_options();
  no_domain.domain = "";
  auto fifth = Proxy::start(no_domain, cp, clock);
  REQUIRE_FALSE(fifth);
  CHECK(fifth.error().message().find("domain") != std::string::npos);
}

TEST_CASE("proxy: a custom domain", "[ingress][proxy]") {
  ProxyOptions o = test_options();
  o.domain = "Apps.Example.";
  ProxyFixture f(o);
  f.route("shop", "shop-00001");
  f.warm("shop-00001");
  CHECK(f.get("shop.apps.example", "/")->status == 200);
  CHECK(f.get("shop.localhost", "/")->status == 404);
}
