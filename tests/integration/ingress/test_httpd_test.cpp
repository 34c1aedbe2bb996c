// svc-test-httpd, the server the service tests run as instances and the proxy tests use as
// upstreams: every route, keep-alive and pipelining, chunked both ways, hundreds of connections,
// the start-up delay, readiness that can fail, a crash mid-response and a graceful SIGTERM.
// Loopback only; no root needed.
#include <signal.h>

#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/test_httpd.hpp"

using namespace svc::test;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("test httpd: / names the instance - keep-alive and pipelined requests", "[httpd]") {
  TestHttpd httpd({"--id", "inst-1"});
  REQUIRE(httpd.start());
  HttpConnection c(httpd.port());
  REQUIRE(c.connected());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.send(request_bytes("GET", "x", "/")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.find("hello from inst-1 (pid " + std::to_string(httpd.pid())) == 0);
  }
  // Three requests in one write come back in order on the same connection.
  REQUIRE(c.send(request_bytes("GET", "x", "/status?code=201") +
                 request_bytes("GET", "x", "/bytes?n=5") +
                 request_bytes("GET", "x", "/status?code=202")));
  auto a = c.read_response(), b = c.read_response(), d = c.read_response();
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(d);
  CHECK(a->status == 201);
  CHECK(b->body == "abcde");
  CHECK(d->status == 202);
  // Connection: close is honoured.
  REQUIRE(c.send(request_bytes("GET", "x", "/", "", "Connection: close\r\n")));
  REQUIRE(c.read_response());
  CHECK(c.closed_by_peer());
}

TEST_CASE("test httpd: /bytes with Content-Length or chunked - /status - /sleep - /headers",
          "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  auto r = http_request(httpd.port(), "GET", "x", "/bytes?n=100000");
  REQUIRE(r);
  CHECK(r->header("Content-Length") == "100000");
  CHECK(r->body == pattern(100000));
  r = http_request(httpd.port(), "GET", "x", "/bytes?n=200000&chunked=1");
  REQUIRE(r);
  CHECK(r->chunked);
  CHECK(r->body == pattern(200000));
  r = http_request(httpd.port(), "GET", "x", "/status?code=503");
  REQUIRE(r);
  CHECK(r->status == 503);
  r = http_request(httpd.port(), "GET", "x", "/status?code=204");
  REQUIRE(r);
  CHECK(r->status == 204);
  CHECK(r->header("Content-Length").empty());
  r = http_request(httpd.port(), "GET", "x", "/sleep?ms=20");
  REQUIRE(r);
  CHECK(r->body == "slept 20 ms\n");
  r = http_request(httpd.port(), "GET", "some.host", "/headers?a=b", "", "X-Probe: one two\r\n");
  REQUIRE(r);
  CHECK(r->body.find("GET /headers?a=b HTTP/1.1\n") == 0);
  CHECK(r->body.find("Host: some.host\n") != std::string::npos);
  CHECK(r->body.find("X-Probe: one two\n") != std::string::npos);
  r = http_request(httpd.port(), "HEAD", "x", "/bytes?n=10");
  REQUIRE(r);
  CHECK(r->header("Content-Length") == "10");
  CHECK(r->body.empty());
}

TEST_CASE("test httpd: /echo streams a body back chunked, from Content-Length or chunked",
          "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  auto r = http_request(httpd.port(), "POST", "x", "/echo", "ping");
  REQUIRE(r);
  CHECK(r->chunked);
  CHECK(r->body == "ping");

  HttpConnection c(httpd.port());
  REQUIRE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->body == "abcde");

  // 16 MiB, sent while the echo is read: neither side buffers it whole.
  const std::string big = pattern(16 << 20);
  HttpConnection e(httpd.port());
  REQUIRE(e.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) +
                 "\r\n\r\n"));
  std::thread sender([&] { e.send(big); });
  r = e.read_response();
  sender.join();
  REQUIRE(r);
  CHECK(r->body.size() == big.size());
  CHECK(r->body == big);
}

TEST_CASE("test httpd: Expect: 100-continue gets an interim 100", "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  HttpConnection c(httpd.port());
  REQUIRE(c.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.send("hello"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello");
}

TEST_CASE("test httpd: /healthz fails on demand - --healthz-fail starts failing", "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  CHECK(http_request(httpd.port(), "GET", "x", "/healthz")->status == 200);
  CHECK(http_request(httpd.port(), "GET", "x", "/healthz?fail=1")->status == 200);
  CHECK(http_request(httpd.port(), "GET", "x", "/healthz")->status == 503);
  CHECK(http_request(httpd.port(), "GET", "x", "/healthz?fail=0")->status == 200);
  CHECK(http_request(httpd.port(), "GET", "x", "/healthz")->status == 200);

  TestHttpd failing({"--healthz-fail"});
  REQUIRE(failing.start());
  CHECK(http_request(failing.port(), "GET", "x", "/healthz")->status == 503);
  CHECK(http_request(failing.port(), "GET", "x", "/")->status == 200);
}

TEST_CASE("test httpd: /crash exits in the middle of the response", "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  HttpConnection c(httpd.port());
  REQUIRE(c.send(request_bytes("GET", "x", "/crash")));
  CHECK_FALSE(c.read_response());  // a cut head, then EOF
  CHECK(httpd.stop(0).value_or(-1) == 3);

  TestHttpd mid_body;
  REQUIRE(mid_body.start());
  HttpConnection m(mid_body.port());
  REQUIRE(m.send(request_bytes("GET", "x", "/crash?after=body")));
  auto head = m.read_head();
  REQUIRE(head);
  CHECK(head->header("Content-Length") == "1000");
  CHECK_FALSE(m.read_response());
}

TEST_CASE("test httpd: PORT and a start-up delay before it listens", "[httpd]") {
  // Find a free port by letting one server pick it, then stop that server.
  int port = 0;
  {
    TestHttpd probe;
    REQUIRE(probe.start());
    port = probe.port();
  }
  TestHttpd httpd({"--delay-ms", "2000"}, {{"PORT", std::to_string(port)}});
  httpd.launch();
  {
    HttpConnection early(port);
    CHECK_FALSE(early.connected());  // still in its delay: nothing listens yet
  }
  REQUIRE(httpd.wait_listening());
  CHECK(httpd.port() == port);
  CHECK(http_request(port, "GET", "x", "/")->status == 200);
}

TEST_CASE("test httpd: 300 connections at once, each answered", "[httpd]") {
  TestHttpd httpd;
  REQUIRE(httpd.start());
  std::vector<std::unique_ptr<HttpConnection>> conns;
  for (int i = 0; i < 300; ++i) {
    conns.push_back(std::make_unique<HttpConnection>(httpd.port()));
    REQUIRE(conns.back()->connected());
    REQUIRE(conns.back()->send(request_bytes("GET", "x", "/sleep?ms=5")));
  }
  int ok = 0;
  for (auto& c : conns) {
    auto r = c->read_response();
    if (r && r->status == 200) ++ok;
  }
  CHECK(ok == 300);
}

TEST_CASE("test httpd: SIGTERM lets the request in progress finish, then exits 0", "[httpd]") {
  TestHttpd httpd({"--log-requests"});
  REQUIRE(httpd.start());
  HttpConnection c(httpd.port());
  REQUIRE(c.send(request_bytes("GET", "x", "/sleep?ms=300")));
  // In progress once the server has read it (the line it prints then).
  REQUIRE(httpd.wait_log("request GET /sleep?ms=300"));
  ::kill(httpd.pid(), SIGTERM);
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->body == "slept 300 ms\n");
  CHECK(httpd.stop(0, std::chrono::seconds(5)).value_or(-1) == 0);
  CHECK(httpd.log().find("stopped on signal 15") != std::string::npos);
}
