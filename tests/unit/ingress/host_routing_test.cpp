#include <catch2/catch.hpp>

#include "scheduler/ingress/host_routing.hpp"

using namespace svc::ingress;

namespace {
std::string svc_of(std::string_view host, std::string_view domain = "localhost") {
  auto s = service_for_host(host, domain);
  return s ? std::string(s->view()) : "<none>";
}
}  // namespace

TEST_CASE("host routing: NAME.domain with or without a port, in any case", "[ingress][host]") {
  CHECK(svc_of("hello.localhost") == "hello");
  CHECK(svc_of("hello.localhost:8080") == "hello");
  CHECK(svc_of("HeLLo.LocalHost:8080") == "hello");
  CHECK(svc_of("hello.localhost.") == "hello");  // fully qualified, trailing dot
  CHECK(svc_of("hello.localhost.:80") == "hello");
  CHECK(svc_of("my-app-2.example.com", "example.com") == "my-app-2");
  CHECK(svc_of("a.svc.internal:443", normalize_domain(".SVC.Internal.")) == "a");
}

TEST_CASE("host routing: hosts that name no service", "[ingress][host]") {
  CHECK(svc_of("localhost") == "<none>");
  CHECK(svc_of("localhost:8080") == "<none>");
  CHECK(svc_of(".localhost") == "<none>");
  CHECK(svc_of("a.b.localhost") == "<none>");  // two labels: not a service name
  CHECK(svc_of("hellolocalhost") == "<none>");
  CHECK(svc_of("hello.localhostx") == "<none>");
  CHECK(svc_of("hello.other") == "<none>");
  CHECK(svc_of("-bad.localhost") == "<none>");
  CHECK(svc_of("bad-.localhost") == "<none>");
  CHECK(svc_of("under_score.localhost") == "<none>");
  CHECK(svc_of("127.0.0.1:8080") == "<none>");
  CHECK(svc_of("[::1]:8080") == "<none>");
  CHECK(svc_of("") == "<none>");
  CHECK(svc_of("hello.localhost", "") == "<none>");
  CHECK(svc_of(std::string(64, 'a') + ".localhost") == "<none>");  // label over 63
  CHECK(svc_of(std::string(63, 'a') + ".localhost") == std::string(63, 'a'));
}

TEST_CASE("host routing: Host syntax", "[ingress][host]") {
  CHECK(valid_host("a.b"));
  CHECK(valid_host("a.b:1"));
  CHECK(valid_host("[::1]:8080"));
  CHECK(valid_host("[2001:db8::1]"));
  CHECK(valid_host("127.0.0.1"));
  CHECK_FALSE(valid_host(""));
  CHECK_FALSE(valid_host(":80"));
  CHECK_FALSE(valid_host("a b"));
  CHECK_FALSE(valid_host("a/b"));
  CHECK_FALSE(valid_host("user@host"));
  CHECK_FALSE(valid_host("a.b:http"));
  CHECK_FALSE(valid_host("a.b:123456"));
  CHECK_FALSE(valid_host("[::1"));
  CHECK_FALSE(valid_host("[::g]"));
  CHECK_FALSE(valid_host("[::1]x"));
  CHECK(strip_port("a.b:80") == "a.b");
  CHECK(strip_port("[::1]:80") == "[::1]");
  CHECK(strip_port("a.b") == "a.b");
}

TEST_CASE("host routing: service names are DNS labels", "[ingress][host]") {
  CHECK(valid_service_name("hello"));
  CHECK(valid_service_name("a1-b2"));
  CHECK_FALSE(valid_service_name("Hello"));
  CHECK_FALSE(valid_service_name("a.b"));
  CHECK_FALSE(valid_service_name(""));
  CHECK_FALSE(valid_service_name("-a"));
}
