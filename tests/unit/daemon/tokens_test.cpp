#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/tokens.hpp"

using namespace svc;
using namespace svc::daemon;

namespace {
class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(t.time_since_epoch());
  }
  std::chrono::system_clock::time_point t = from_unix_millis(1'800'000'000'000);
};
}  // namespace

TEST_CASE("tokens authenticate until revoked or expired", "[tokens]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  FakeClock clock;
  TokenManager tokens(*store, clock);
  auto [rec, secret] = tokens.create("ci", std::chrono::hours(1)).value();
  CHECK(secret.starts_with("svc_" + rec.id + "_"));
  CHECK(tokens.authenticate(secret).value() == "ci");

  // The secret itself is never stored.
  bool leaked = store->read([&](Store& s) {
    auto st = s.prepare("SELECT secret_hash FROM tokens").value();
    (void)st.step();
    return secret.find(st.text(0)) != std::string::npos;
  });
  CHECK_FALSE(leaked);

  std::string tampered = secret;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  CHECK(tokens.authenticate(tampered).error().code() == Code::kUnauthenticated);
  CHECK(tokens.authenticate("nonsense").error().code() == Code::kUnauthenticated);

  clock.t += std::chrono::hours(2);
  CHECK(tokens.authenticate(secret).error().code() == Code::kUnauthenticated);

  auto [rec2, secret2] = tokens.create("forever", std::chrono::milliseconds(0)).value();
  CHECK(tokens.authenticate(secret2));
  CHECK(tokens.revoke(rec2.id).value().revoked);
  CHECK(tokens.authenticate(secret2).error().code() == Code::kUnauthenticated);
  CHECK(tokens.revoke("nope").error().code() == Code::kNotFound);
  CHECK(tokens.list().value().size() == 2);
}
