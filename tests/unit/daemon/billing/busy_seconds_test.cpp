// Request-mode accounting on a fake clock: times are milliseconds after the instance started.
#include <catch2/catch.hpp>

#include "daemon/billing/busy_seconds.hpp"

using namespace svc::billing;

namespace {
constexpr std::int64_t kStart = 1'800'000'000'000;
std::int64_t at(std::int64_t ms) { return kStart + ms; }
}  // namespace

TEST_CASE("request mode: each second with a request in flight bills once", "[billing][busy]") {
  SECTION("a 3 ms request bills one second") {
    BusySeconds s(kStart);
    s.busy(at(100));
    s.idle(at(103));
    CHECK(s.billed_seconds(at(60'000)) == 1);
    CHECK(s.busy_ms(at(60'000)) == 3);
  }
  SECTION("a request from 0.9 s to 1.1 s spans a boundary: two seconds") {
    BusySeconds s(kStart);
    s.busy(at(900));
    s.idle(at(1'100));
    CHECK(s.billed_seconds(at(5'000)) == 2);
  }
  SECTION("an interval ending exactly on a boundary does not touch the next second") {
    BusySeconds s(kStart);
    s.busy(at(1'000));
    s.idle(at(2'000));
    CHECK(s.billed_seconds(at(5'000)) == 1);
  }
  SECTION("requests served within one millisecond still bill their second") {
    BusySeconds s(kStart);
    s.busy(at(4'321));
    s.idle(at(4'321));
    CHECK(s.billed_seconds(at(9'000)) == 1);
  }
  SECTION("many requests in one second bill it once") {
    BusySeconds s(kStart);
    for (int i = 0; i < 50; ++i) {
      s.busy(at(2'000 + i * 10));
      s.idle(at(2'000 + i * 10 + 5));
    }
    CHECK(s.billed_seconds(at(9'000)) == 1);
    CHECK(s.busy_ms(at(9'000)) == 250);
  }
  SECTION("idle seconds between requests are not billed") {
    BusySeconds s(kStart);
    s.busy(at(100));
    s.idle(at(200));
    s.busy(at(5'100));
    s.idle(at(5'200));
    CHECK(s.billed_seconds(at(30'000)) == 2);
  }
  SECTION("a request of 2.5 s from 0.5 s touches seconds 0, 1 and 2") {
    BusySeconds s(kStart);
    s.busy(at(500));
    s.idle(at(3'000));
    CHECK(s.billed_seconds(at(10'000)) == 3);
  }
}

TEST_CASE("request mode: overlapping requests are one busy interval", "[billing][busy]") {
  BusySeconds s(kStart);
  InFlight f(s);
  f.begin(at(100));  // A starts
  f.begin(at(500));  // B starts while A runs
  f.end(at(800));    // A ends; B still in flight: still busy
  CHECK(s.is_busy());
  f.end(at(1'500));  // B ends
  CHECK_FALSE(s.is_busy());
  CHECK(s.billed_seconds(at(9'000)) == 2);  // [0.1 s, 1.5 s): seconds 0 and 1
  CHECK(s.busy_ms(at(9'000)) == 1'400);
  // A third request overlapping nothing, in a second already billed, adds no second.
  f.begin(at(1'600));
  f.end(at(1'700));
  CHECK(s.billed_seconds(at(9'000)) == 2);
  CHECK(s.busy_ms(at(9'000)) == 1'500);
}

TEST_CASE("request mode: an interval still open is billed up to now", "[billing][busy]") {
  BusySeconds s(kStart);
  s.busy(at(2'500));
  CHECK(s.billed_seconds(at(2'600)) == 1);
  CHECK(s.billed_seconds(at(4'100)) == 3);
  CHECK(s.busy_ms(at(4'100)) == 1'600);
  // Repeated edges (a reconnect re-reports busy) change nothing.
  s.busy(at(3'000));
  s.idle(at(4'500));
  s.idle(at(4'600));
  CHECK(s.billed_seconds(at(9'000)) == 3);
  CHECK(s.busy_ms(at(9'000)) == 2'000);
}

TEST_CASE("request mode: start-up and shut-down are billed", "[billing][busy]") {
  BusySeconds s(kStart);
  s.add(at(0), at(1'200));  // sandbox start -> ready: seconds 0 and 1
  s.busy(at(1'300));        // the held request, in second 1 (already billed)
  s.idle(at(1'350));
  s.add(at(61'000), at(61'400));  // drain -> exit
  CHECK(s.billed_seconds(at(61'400)) == 3);
}

TEST_CASE("request mode: the state survives a checkpoint and a restart", "[billing][busy]") {
  // The same edges, split across "two svcd lifetimes" by a checkpoint of the state, count the
  // same seconds as in one go.
  BusySeconds whole(kStart);
  BusySeconds before(kStart);
  auto feed = [](BusySeconds& s, std::int64_t from, std::int64_t to) {
    s.busy(at(from));
    s.idle(at(to));
  };
  for (auto* s : {&whole, &before}) {
    feed(*s, 100, 400);
    feed(*s, 2'900, 3'100);
  }
  BusyState saved = before.state();
  BusySeconds after(kStart, saved);
  for (auto* s : {&whole, &after}) {
    feed(*s, 3'050, 3'200);  // the same second as the last one before the checkpoint
    feed(*s, 7'000, 7'001);
  }
  CHECK(after.billed_seconds(at(9'000)) == whole.billed_seconds(at(9'000)));
  CHECK(after.billed_seconds(at(9'000)) == 4);  // seconds 0, 2, 3, 7
  CHECK(after.state() == whole.state());
  // Busy at the checkpoint: the open interval carries over.
  BusySeconds open(kStart);
  open.busy(at(8'500));
  BusySeconds resumed(kStart, open.state());
  resumed.idle(at(10'200));
  CHECK(resumed.billed_seconds(at(20'000)) == 3);  // 8, 9, 10
}
