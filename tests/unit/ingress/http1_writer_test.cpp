#include <cstring>

#include <catch2/catch.hpp>

#include "scheduler/ingress/http1_parser.hpp"
#include "scheduler/ingress/http1_writer.hpp"
#include "scheduler/ingress/io_buffer.hpp"
#include "scheduler/ingress/readiness.hpp"

using namespace svc::ingress;
using namespace std::chrono_literals;

namespace {

// A parsed request head (views into the returned buffer's string).
struct Parsed {
  explicit Parsed(std::string b) : bytes(std::move(b)), parser(Limits{}) {
    REQUIRE(parser.parse_head(bytes) == Parse::kDone);
  }
  std::string bytes;
  RequestParser parser;
  const RequestHead& head() { return parser.head(); }
};

}  // namespace

TEST_CASE("writer: the request head towards an instance", "[ingress][writer]") {
  Parsed p(
      "POST /a?b=1 HTTP/1.1\r\n"
      "Host: Hello.localhost:8080\r\n"
      "Connection: keep-alive, X-Private\r\n"
      "X-Private: 1\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n"
      "X-Forwarded-For: 1.2.3.4\r\n"
      "X-Forwarded-Proto: https\r\n"
      "Forwarded: for=1.2.3.4\r\n"
      "Accept: */*\r\n"
      "accept: text/html\r\n"
      "\r\n");
  std::string out;
  write_request_head(out, p.head(), "X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n", true);
  CHECK(out ==
        "POST /a?b=1 HTTP/1.1\r\n"
        "Host: Hello.localhost:8080\r\n"
        "Accept: */*\r\n"
        "accept: text/html\r\n"
        "X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n"
        "Transfer-Encoding: chunked\r\n"
        "\r\n");
  // An HTTP/1.0 request goes out as HTTP/1.1 with the Host it was routed by (absolute form).
  Parsed old("GET http://hello.localhost/x HTTP/1.0\r\nUser-Agent: t\r\n\r\n");
  write_request_head(out, old.head(), {}, false);
  CHECK(out == "GET /x HTTP/1.1\r\nHost: hello.localhost\r\nUser-Agent: t\r\n\r\n");
}

TEST_CASE("writer: the response head towards the client", "[ingress][writer]") {
  ResponseHead h;
  h.status = 200;
  h.reason = "OK";
  h.fields = {{"Content-Type", "text/plain"},
              {"Connection", "keep-alive, X-Hop"},
              {"X-Hop", "1"},
              {"Transfer-Encoding", "chunked"},
              {"Keep-Alive", "timeout=5"},
              {"Set-Cookie", "a=1"},
              {"Set-Cookie", "b=2"}};
  ResponseOut out;
  out.head = &h;
  out.framing = Framing::kChunked;
  std::string s;
  write_response_head(s, out, 11);
  CHECK(s ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
  // The cold start it paid for, and a close; an HTTP/1.0 client is told keep-alive.
  out.server_timing = "queue;dur=0.2, sandbox;dur=4.8";
  out.close = true;
  out.framing = Framing::kLength;
  h.fields = {{"Content-Length", "2"}};
  write_response_head(s, out, 11);
  CHECK(s ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer-Timing: queue;dur=0.2, sandbox;dur=4.8\r\n"
        "Connection: close\r\n\r\n");
  out.close = false;
  out.server_timing = {};
  h.reason = {};
  write_response_head(s, out, 10);
  CHECK(s == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("writer: the proxy's own answers and chunk framing", "[ingress][writer]") {
  std::string s;
  write_local_response(s, 503, "full\n", "Retry-After: 1\r\n", false, 11, false);
  CHECK(s ==
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 5\r\nRetry-After: 1\r\n\r\nfull\n");
  write_local_response(s, 404, "none\n", {}, true, 11, /*head_request=*/true);
  CHECK(s ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 5\r\nConnection: close\r\n\r\n");
  char buf[24];
  CHECK(std::string(buf, chunk_header(buf, 0)) == "0\r\n");
  CHECK(std::string(buf, chunk_header(buf, 255)) == "ff\r\n");
  CHECK(std::string(buf, chunk_header(buf, 0xffffffffffffffffull)) == "ffffffffffffffff\r\n");
}

TEST_CASE("io buffer: bytes stay put while in use, grow only to the limit", "[ingress][buffer]") {
  IoBuffer b(8);
  auto room = b.prepare(32, true);
  REQUIRE(room.size() == 8);
  std::memcpy(room.data(), "abcdefgh", 8);
  b.commit(8);
  b.consume(3);
  CHECK(b.view() == "defgh");
  // Full, and views into it are in use: no room, nothing moves.
  const char* at = b.view().data();
  CHECK(b.prepare(32, false).empty());
  CHECK(b.view().data() == at);
  // Allowed to move: compacts first, then grows up to the limit and no further.
  room = b.prepare(32, true);
  CHECK(room.size() == 3);
  CHECK(b.view() == "defgh");
  b.commit(3);
  room = b.prepare(32, true);
  CHECK(b.capacity() == 16);
  b.commit(room.size());
  room = b.prepare(32, true);
  CHECK(b.capacity() == 32);
  b.commit(room.size());
  CHECK(b.prepare(32, true).empty());
  CHECK(b.size() == 32);
  b.consume(32);
  CHECK(b.empty());
  CHECK(b.prepare(32, false).size() == 32);  // empty: starts over at the front
}

TEST_CASE("readiness: probed every 100 us at first, backing off to 10 ms", "[ingress][readiness]") {
  CHECK(probe_interval(0ms) == 100us);
  CHECK(probe_interval(24ms) == 100us);
  CHECK(probe_interval(50ms) == 2ms);
  CHECK(probe_interval(100ms) == 4ms);
  CHECK(probe_interval(10s) == 10ms);
  // Noticing late costs at most ~4 % of the time waited once past the fast phase.
  // (In nanoseconds: a milliseconds count would divide as an integer and round down.)
  for (std::chrono::nanoseconds t : {30ms, 200ms, 240ms}) CHECK(probe_interval(t) <= t / 25 + 1us);
}
