#include <catch2/catch.hpp>

#include "api/server/auth_gate.hpp"

using namespace svc;
using namespace svc::api;
using namespace std::chrono_literals;

namespace {
class StepClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(t.time_since_epoch());
  }
  std::chrono::steady_clock::time_point steady_now() const override { return t; }
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
};

const std::string kGood = "svc_0123456789ab_" + std::string(48, 'f');

AuthGate::TokenCheck tokens(int* looked_up) {
  return [looked_up](std::string_view token) -> Result<std::string> {
    ++*looked_up;
    if (token == kGood) return std::string("ci");
    return fail(Code::kUnauthenticated, "the token is not valid");
  };
}

PeerIdentity peer(std::string address) {
  PeerIdentity p;
  p.address = std::move(address);
  return p;
}
}  // namespace

TEST_CASE("a good token is the caller token:<name>, a bad one UNAUTHENTICATED", "[auth_gate]") {
  StepClock clock;
  int lookups = 0;
  AuthGate gate(tokens(&lookups), clock);
  CHECK(gate.check_token(kGood, peer("127.0.0.1:4000")).value() == "token:ci");
  auto bad = gate.check_token("svc_0123456789ab_nope", peer("127.0.0.1:4001"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kUnauthenticated);
  // A good token right after a bad one, from the same peer, works.
  CHECK(gate.check_token(kGood, peer("127.0.0.1:4002")).value() == "token:ci");
}

TEST_CASE("10 failures a minute from one peer: refused without looking at the token",
          "[auth_gate]") {
  StepClock clock;
  int lookups = 0;
  AuthGate gate(tokens(&lookups), clock);
  for (int i = 0; i < 10; ++i) {
    // Each try comes on a new connection (a new port): the address is what counts.
    auto r = gate.check_token("guess" + std::to_string(i), peer(fmt::format("192.0.2.7:{}", i)));
    CHECK(r.error().code() == Code::kUnauthenticated);
  }
  CHECK(lookups == 10);
  auto limited = gate.check_token(kGood, peer("192.0.2.7:9999"));
  REQUIRE_FALSE(limited);
  CHECK(limited.error().code() == Code::kResourceExhausted);
  CHECK(limited.error().message().find("192.0.2.7") != std::string::npos);
  CHECK(limited.error().message().find("60 s") != std::string::npos);
  CHECK(lookups == 10);  // the token was not even looked at
  // Another peer is not affected.
  CHECK(gate.check_token(kGood, peer("192.0.2.8:1")).value() == "token:ci");
  // A minute later the peer may try again.
  clock.t += 60s;
  CHECK(gate.check_token(kGood, peer("192.0.2.7:1")).value() == "token:ci");
}

TEST_CASE("refused client certificates count as failures too", "[auth_gate]") {
  StepClock clock;
  int lookups = 0;
  AuthGate gate(tokens(&lookups), clock, {.max_failures = 2, .window = 60s, .max_peers = 10});
  gate.failed(peer("[::1]:1"), "client certificate refused");
  CHECK_FALSE(gate.retry_after(peer("[::1]:2")));
  gate.failed(peer("[::1]:3"), "client certificate refused");
  CHECK(gate.retry_after(peer("[::1]:4")));
  CHECK(gate.check_token(kGood, peer("[::1]:5")).error().code() == Code::kResourceExhausted);
}

TEST_CASE("only the public id of a token is fit to log", "[auth_gate]") {
  CHECK(token_id_of(kGood) == "0123456789ab");
  CHECK(token_id_of("svc_0123456789ab_x") == "0123456789ab");
  CHECK(token_id_of("svc_zzzzzzzzzzzz_x").empty());
  CHECK(token_id_of("hunter2").empty());
  CHECK(token_id_of("").empty());
}
