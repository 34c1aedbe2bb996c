// Hostile and broken clients against the real proxy: request smuggling (CL+TE, duplicate or
// listed Content-Length, obs-fold, bad chunk sizes), huge and numerous headers, bare LF, Host
// rules, versions, slowloris (the header-read timeout), a client that vanishes mid-body. Each
// gets its 4xx/5xx or a closed connection, the instance never sees a smuggled request, and the
// proxy and the service go on serving everyone else.
#include <catch2/catch.hpp>

#include "tests/integration/ingress/proxy_fixture.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;
using namespace std::chrono_literals;

namespace {

struct Case {
  const char* name;
  std::string bytes;
  int status;
};

std::string many_fields(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "X-F" + std::to_string(i) + ": v\r\n";
  return s;
}

}  // namespace

TEST_CASE("bad input: smuggling and malformed heads get 4xx/5xx and a closed connection",
          "[ingress][proxy][security]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string id = f.warm("hello-00001", 10, {"--log-requests"});
  const std::string host = "Host: hello.localhost\r\n";
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\n" + host + "\r\n";
  const std::vector<Case> cases = {
      {"CL+TE",
       "POST /echo HTTP/1.1\r\n" + host +
           "Content-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
       400},
      {"TE+CL",
       "POST /echo HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggled,
       400},
      {"duplicate Content-Length",
       "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
       400},
      {"Content-Length list",
       "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\nhello", 400},
      {"signed Content-Length",
       "POST /echo HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", 400},
      {"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", 400},
      {"obs-fold of Transfer-Encoding",
       "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
      {"bare LF", "GET / HTTP/1.1\nHost: hello.localhost\n\n", 400},
      {"chunked twice",
       "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
       400},
      {"unknown transfer coding",
       "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /echo HTTP/1.0\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"bad chunk size",
       "POST /echo HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       400},
      {"chunk size overflow",
       "POST /echo HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nx\r\n",
       400},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\n" + host + "Host: other.localhost\r\n\r\n", 400},
      {"bad Host", "GET / HTTP/1.1\r\nHost: hello.localhost/x\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\n" + host + "X-A : b\r\n\r\n", 400},
      {"HTTP/2.0 request line", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
      {"CONNECT", "CONNECT hello.localhost:443 HTTP/1.1\r\n" + host + "\r\n", 501},
      {"Expect other than 100-continue", "GET / HTTP/1.1\r\n" + host + "Expect: magic\r\n\r\n",
       417},
      {"head over 64 KiB",
       "GET / HTTP/1.1\r\n" + host + "X-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n", 431},
      {"101 header fields", "GET / HTTP/1.1\r\n" + host + many_fields(101) + "\r\n", 431},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    HttpConnection conn(f.port());
    REQUIRE(conn.send(c.bytes));
    auto r = conn.read_response();
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(r->header("Connection") == "close");
    CHECK(conn.closed_by_peer());
  }
  // The instance never saw a smuggled request; the service and the proxy are fine.
  CHECK(f.cp.process(id).log().find("/smuggled") == std::string::npos);
  CHECK(f.get("hello.localhost", "/")->status == 200);
  // 100 fields is the limit, not an error.
  HttpConnection ok(f.port());
  REQUIRE(ok.send("GET / HTTP/1.1\r\n" + host + many_fields(99) + "\r\n"));
  CHECK(ok.read_response()->status == 200);
}

TEST_CASE("bad input: a slow head is cut off at the header-read timeout, others are served",
          "[ingress][proxy][security]") {
  ProxyOptions o = test_options();
  o.timeouts.header_read = 300ms;
  ProxyFixture f(o);
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  // Slowloris: a head that never ends, one byte now and then would not help either.
  std::vector<std::unique_ptr<HttpConnection>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<HttpConnection>(f.port()));
    REQUIRE(slow.back()->send("GET / HTTP/1.1\r\nHost: hel"));
  }
  // Meanwhile everyone else is served.
  CHECK(f.get("hello.localhost", "/")->status == 200);
  for (auto& c : slow) {
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(c->closed_by_peer());
  }
  // An idle keep-alive connection that never starts a request is not answered, just closed
  // (after keep_alive_idle, here the default 60 s: not waited for).
  CHECK(f.get("hello.localhost", "/")->status == 200);
}

TEST_CASE("bad input: a client that vanishes mid-body ends its request only",
          "[ingress][proxy][security]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  std::string id = f.warm("hello-00001", 10, {"--log-requests"});
  {
    HttpConnection c(f.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: hello.localhost\r\nContent-Length: 1000000\r\n\r\n"));
    REQUIRE(c.send(std::string(100000, 'x')));
    REQUIRE(f.cp.process(id).wait_log("request POST /echo"));
  }  // closed with 900,000 bytes of its body unsent
  REQUIRE(f.cp.wait_records(1));
  auto rec = f.cp.records().at(0);
  CHECK(rec.status == 499);  // recorded as the client's doing, never sent
  CHECK(f.proxy->metrics_text().find("svc_ingress_client_aborts_total{service=\"hello\"} 1\n") !=
        std::string::npos);
  // The instance saw its request end early and is unaffected, as is everyone else.
  CHECK(f.get("hello.localhost", "/")->status == 200);
  REQUIRE(f.cp.wait_records(2));
  auto l = f.proxy->load();
  REQUIRE(l.size() == 1);
  CHECK(l[0].in_flight == 0);
  CHECK(l[0].requests_total == 2);
}
