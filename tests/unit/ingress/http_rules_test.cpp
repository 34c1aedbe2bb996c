#include <catch2/catch.hpp>

#include "scheduler/ingress/http_rules.hpp"

using namespace svc::ingress;

TEST_CASE("header rules: hop-by-hop fields and those named by Connection", "[ingress][rules]") {
  for (auto n : {"Connection", "keep-alive", "Proxy-Connection", "TE", "Transfer-Encoding",
                 "UPGRADE", "Trailer", "Proxy-Authorization", "Proxy-Authenticate"})
    CHECK(is_hop_by_hop(n));
  for (auto n : {"Host", "Content-Length", "Cookie", "Authorization", "T", "Trailers-X", "Te-X"})
    CHECK_FALSE(is_hop_by_hop(n));
  std::vector<Field> fields = {
      {"Connection", "keep-alive, X-Secret"}, {"connection", "close"}, {"X-Secret", "1"}};
  CHECK(named_by_connection(fields, "x-secret"));
  CHECK(named_by_connection(fields, "Close"));
  CHECK_FALSE(named_by_connection(fields, "X-Other"));
}

TEST_CASE("header rules: tokens, idempotent methods, replaced fields", "[ingress][rules]") {
  std::vector<std::string> got;
  for_each_token(" a ,, b\t,c ", [&](std::string_view t) { got.emplace_back(t); });
  CHECK(got == std::vector<std::string>{"a", "b", "c"});
  CHECK(has_token("gzip, Chunked", "chunked"));
  CHECK_FALSE(has_token("gzip", "chunked"));
  for (auto m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) CHECK(is_idempotent(m));
  for (auto m : {"POST", "PATCH", "get"}) CHECK_FALSE(is_idempotent(m));
  CHECK(is_replaced_request_field("X-Forwarded-Proto"));
  CHECK(is_replaced_request_field("x-forwarded-host"));
  CHECK(is_replaced_request_field("Expect"));
  CHECK_FALSE(is_replaced_request_field("X-Forwarded-For"));
}

TEST_CASE("header rules: X-Forwarded-* and Forwarded extend what the client sent",
          "[ingress][rules]") {
  std::string out;
  append_forwarding(out, {}, "192.0.2.7", "hello.localhost:8080", "http");
  CHECK(out ==
        "X-Forwarded-For: 192.0.2.7\r\n"
        "X-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: hello.localhost:8080\r\n"
        "Forwarded: for=192.0.2.7;host=\"hello.localhost:8080\";proto=http\r\n");
  out.clear();
  std::vector<Field> theirs = {{"X-Forwarded-For", "203.0.113.1"},
                               {"x-forwarded-for", "198.51.100.2"},
                               {"Forwarded", "for=203.0.113.1"}};
  append_forwarding(out, theirs, "::1", "a.localhost", "http");
  CHECK(out.find("X-Forwarded-For: 203.0.113.1, 198.51.100.2, ::1\r\n") != std::string::npos);
  CHECK(out.find("Forwarded: for=203.0.113.1, for=\"[::1]\";host=\"a.localhost\";proto=http\r\n") !=
        std::string::npos);
}

TEST_CASE("header rules: reason phrases", "[ingress][rules]") {
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(799).empty());
}
