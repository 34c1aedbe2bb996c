#include <catch2/catch.hpp>

#include "scheduler/ingress/http1_parser.hpp"

using namespace svc::ingress;

namespace {

Limits limits() {
  Limits l;
  l.max_header_bytes = 1024;
  l.max_header_count = 8;
  l.max_response_header_bytes = 1024;
  return l;
}

// Parses a head; returns the status the proxy answers (0 when accepted).
int refusal(const std::string& bytes) {
  RequestParser p(limits());
  Parse r = p.parse_head(bytes);
  if (r == Parse::kDone) return 0;
  if (r == Parse::kNeedMore) return -1;
  return p.error().status;
}

// The whole body of a request, parsed from bytes in pieces of step bytes; "<error NNN>" on a
// refusal.
std::string body_of(const std::string& bytes, std::size_t step = 1 << 20) {
  RequestParser p(limits());
  std::string buf;
  std::size_t fed = 0, head = 0;
  for (;;) {
    std::size_t n = std::min(step, bytes.size() - fed);
    buf.append(bytes, fed, n);
    fed += n;
    Parse r = p.parse_head(buf);
    if (r == Parse::kError) return "<error " + std::to_string(p.error().status) + ">";
    if (r == Parse::kDone) {
      head = p.head().head_bytes;
      break;
    }
    if (fed == bytes.size()) return "<incomplete head>";
  }
  std::string body;
  std::string pending = buf.substr(head);
  for (;;) {
    std::vector<std::string_view> pieces;
    std::size_t used = 0;
    Parse r = p.parse_body(pending, pieces, used);
    if (r == Parse::kError) return "<error " + std::to_string(p.error().status) + ">";
    for (auto piece : pieces) body.append(piece);
    pending.erase(0, used);
    if (r == Parse::kDone) return body;
    if (fed == bytes.size()) return body + "<incomplete body>";
    std::size_t n = std::min(step, bytes.size() - fed);
    pending.append(bytes, fed, n);
    fed += n;
  }
}

}  // namespace

TEST_CASE("request parser: a GET head as views into the buffer", "[ingress][parser]") {
  RequestParser p(limits());
  std::string bytes = "GET /a/b?c=d HTTP/1.1\r\nHost: hello.localhost:8080\r\nX-A: 1\r\n\r\n";
  REQUIRE(p.parse_head(bytes) == Parse::kDone);
  const RequestHead& h = p.head();
  CHECK(h.method == "GET");
  CHECK(h.target == "/a/b?c=d");
  CHECK(h.path == "/a/b?c=d");
  CHECK(h.path_only() == "/a/b");
  CHECK(h.authority == "hello.localhost:8080");
  CHECK(h.version == 11);
  CHECK(h.keep_alive);
  CHECK_FALSE(h.has_body());
  CHECK(h.head_bytes == bytes.size());
  REQUIRE(h.fields.size() == 2);
  CHECK(h.fields[1].name == "X-A");
  CHECK(h.fields[1].value == "1");
  CHECK(h.fields[1].value.data() >= bytes.data());  // a view, not a copy
  CHECK(h.fields[1].value.data() < bytes.data() + bytes.size());
  CHECK(p.body_done());
}

TEST_CASE("request parser: heads arriving a byte at a time, and pipelined", "[ingress][parser]") {
  std::string two =
      "GET /1 HTTP/1.1\r\nHost: a.localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
  RequestParser p(limits());
  std::string buf;
  Parse r = Parse::kNeedMore;
  for (char c : two) {
    buf.push_back(c);
    r = p.parse_head(buf);
    if (r != Parse::kNeedMore) break;
  }
  REQUIRE(r == Parse::kDone);
  CHECK(p.head().path == "/1");
  std::size_t first = p.head().head_bytes;
  CHECK(buf.size() == first);  // done exactly at the end of the first head
  p.reset();
  REQUIRE(p.parse_head(std::string_view(two).substr(first)) == Parse::kDone);
  CHECK(p.head().path == "/2");
  CHECK(p.head().authority == "b");
}

TEST_CASE("request parser: bodies by Content-Length and chunked, in any split",
          "[ingress][parser]") {
  std::string cl = "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  CHECK(body_of(cl) == "hello world");
  CHECK(body_of(cl, 1) == "hello world");
  CHECK(body_of(cl, 7) == "hello world");
  std::string chunked =
      "POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer-X: y\r\n\r\n";
  CHECK(body_of(chunked) == "hello 0123456789");
  CHECK(body_of(chunked, 1) == "hello 0123456789");
  CHECK(body_of(chunked, 5) == "hello 0123456789");
  RequestParser p(limits());
  REQUIRE(p.parse_head(chunked) == Parse::kDone);
  CHECK(p.head().chunked);
  CHECK(p.head().has_body());
  CHECK(p.head().fields.size() == 2);  // trailers are not fields of the head
}

TEST_CASE("request parser: absolute-form targets route by their authority", "[ingress][parser]") {
  RequestParser p(limits());
  REQUIRE(p.parse_head("GET http://hello.localhost:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n") ==
          Parse::kDone);
  CHECK(p.head().authority == "hello.localhost:8080");
  CHECK(p.head().path == "/x?y");
  p.reset();
  REQUIRE(p.parse_head("GET http://hello.localhost HTTP/1.1\r\nHost: hello.localhost\r\n\r\n") ==
          Parse::kDone);
  CHECK(p.head().path == "/");
  p.reset();
  REQUIRE(p.parse_head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == Parse::kDone);
  CHECK(p.head().path == "*");
}

TEST_CASE("request parser: HTTP/1.0 keep-alive, Connection: close, Expect", "[ingress][parser]") {
  RequestParser p(limits());
  REQUIRE(p.parse_head("GET / HTTP/1.0\r\n\r\n") == Parse::kDone);
  CHECK(p.head().version == 10);
  CHECK_FALSE(p.head().keep_alive);
  p.reset();
  REQUIRE(p.parse_head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == Parse::kDone);
  CHECK(p.head().keep_alive);
  p.reset();
  REQUIRE(p.parse_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == Parse::kDone);
  CHECK_FALSE(p.head().keep_alive);
  p.reset();
  REQUIRE(p.parse_head(
              "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n") ==
          Parse::kDone);
  CHECK(p.head().expect_continue);
  CHECK(*p.head().content_length == 3);
  CHECK(refusal("PUT / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n") == 417);
}

TEST_CASE("request parser: smuggling attempts are refused", "[ingress][parser][security]") {
  // Content-Length with Transfer-Encoding, in either order.
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: "
                "chunked\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                "4\r\n\r\n") == 400);
  // Two Content-Lengths, even equal ones, or a list.
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n") ==
        400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n") ==
        400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n") ==
        400);
  // Transfer codings other than a single chunked.
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 501);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") ==
        400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                "chunked\r\n\r\n") == 400);
  CHECK(refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n") == 501);
  CHECK(refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  // obs-fold, whitespace before the first field or the colon, bare LF.
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\nHost: a\n\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n") == 400);
  CHECK(refusal(std::string("GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n", 35)) == 400);
  CHECK(refusal("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
}

TEST_CASE("request parser: Host rules, methods and versions", "[ingress][parser][security]") {
  CHECK(refusal("GET / HTTP/1.1\r\n\r\n") == 400);                        // no Host
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);  // two
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);           // bad
  CHECK(refusal("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n") == 400);
  CHECK(refusal("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("GET x HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n") == 501);
  CHECK(refusal("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
  CHECK(refusal("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505);
  CHECK(refusal("GET / HTTQ/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("G@T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(refusal("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
}

TEST_CASE("request parser: head size and field count limits answer 431",
          "[ingress][parser][security]") {
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 8; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(refusal(many + "\r\n") == 431);  // 9 fields, limit 8
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(1100, 'v') + "\r\n\r\n";
  CHECK(refusal(big) == 431);
  // An incomplete head past the limit is refused before it ends (no buffering without bound).
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(1100, 'v')) == 431);
  CHECK(refusal("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100, 'v')) == -1);
}

TEST_CASE("request parser: bad chunk framing is refused", "[ingress][parser][security]") {
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(body_of(head + "zz\r\nhello\r\n0\r\n\r\n") == "<error 400>");
  CHECK(body_of(head + "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n") == "<error 400>");
  CHECK(body_of(head + "5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n") == "<error 400>");
  CHECK(body_of(head + "-5\r\nhello\r\n0\r\n\r\n") == "<error 400>");
  // Whitespace after the size (BWS before extensions): either refused or read correctly,
  // never misread.
  std::string bws = body_of(head + "5 \r\nhello\r\n0\r\n\r\n");
  CHECK((bws == "<error 400>" || bws == "hello"));
  CHECK(body_of(head + "5\r\nhel") == "hel<incomplete body>");
}

TEST_CASE("response parser: lengths, chunked, until close, no-body statuses", "[ingress][parser]") {
  Limits l = limits();
  ResponseParser p(l);
  std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
  REQUIRE(p.parse_head(r) == Parse::kDone);
  CHECK(p.head().status == 200);
  CHECK(p.head().reason == "OK");
  CHECK(*p.head().content_length == 5);
  CHECK(p.head().keep_alive);
  std::vector<std::string_view> pieces;
  std::size_t used = 0;
  CHECK(p.parse_body(std::string_view(r).substr(p.head().head_bytes), pieces, used) ==
        Parse::kDone);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0] == "hello");

  p.reset(false);
  std::string c = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  REQUIRE(p.parse_head(c) == Parse::kDone);
  CHECK(p.head().chunked);
  pieces.clear();
  CHECK(p.parse_body(std::string_view(c).substr(p.head().head_bytes), pieces, used) ==
        Parse::kDone);
  CHECK(pieces.size() == 1);

  p.reset(false);
  std::string u = "HTTP/1.1 200 OK\r\n\r\nuntil the end";
  REQUIRE(p.parse_head(u) == Parse::kDone);
  CHECK(p.head().until_close);
  CHECK_FALSE(p.head().keep_alive);
  pieces.clear();
  CHECK(p.parse_body(std::string_view(u).substr(p.head().head_bytes), pieces, used) ==
        Parse::kNeedMore);
  CHECK(p.finish_on_eof() == Parse::kDone);

  p.reset(true);  // HEAD
  REQUIRE(p.parse_head("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") == Parse::kDone);
  CHECK(p.head().no_body);
  CHECK(p.body_done());
  for (const char* s : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n",
                        "HTTP/1.1 100 Continue\r\n\r\n"}) {
    p.reset(false);
    REQUIRE(p.parse_head(s) == Parse::kDone);
    CHECK(p.head().no_body);
    CHECK(p.body_done());
  }
  p.reset(false);
  REQUIRE(p.parse_head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == Parse::kDone);
  CHECK_FALSE(p.head().keep_alive);
}

TEST_CASE("response parser: broken responses are the instance's fault (502)", "[ingress][parser]") {
  Limits l = limits();
  ResponseParser p(l);
  CHECK(p.finish_on_eof() == Parse::kError);  // closed before a byte
  CHECK(p.error().status == 502);
  p.reset(false);
  CHECK(p.parse_head("HTTP/1.1 200 OK\r\nContent-Len") == Parse::kNeedMore);
  CHECK(p.finish_on_eof() == Parse::kError);
  p.reset(false);
  std::string cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  REQUIRE(p.parse_head(cut) == Parse::kDone);
  std::vector<std::string_view> pieces;
  std::size_t used = 0;
  p.parse_body(std::string_view(cut).substr(p.head().head_bytes), pieces, used);
  CHECK(p.finish_on_eof() == Parse::kError);
  p.reset(false);
  CHECK(
      p.parse_head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
      Parse::kError);
  p.reset(false);
  CHECK(p.parse_head("HTTP/1.1 2000 OK\r\n\r\n") == Parse::kError);
  p.reset(false);
  CHECK(p.parse_head("HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'v') + "\r\n\r\n") ==
        Parse::kError);
  CHECK(p.error().status == 502);
}
