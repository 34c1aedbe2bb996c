#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/store/audit_store.hpp"

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

api::AuditRecord record(const FakeClock& clock, std::string target, std::string code = "OK") {
  api::AuditRecord r;
  r.at = clock.now();
  r.principal = "uid:1000";
  r.transport = "unix";
  r.method = "svc.v1.Tasks/Stop";
  r.target = std::move(target);
  r.code = std::move(code);
  if (r.code != "OK") r.message = "it went wrong";
  return r;
}

}  // namespace

TEST_CASE("the audit log keeps every field and lists newest first", "[audit]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  FakeClock clock;
  SqlAuditStore audit(*store, clock, std::chrono::hours(24));
  for (const char* t : {"a", "b", "c"}) {
    REQUIRE(audit.append(record(clock, t)));
    clock.t += std::chrono::seconds(10);
  }
  auto tcp = record(clock, "d", "NOT_FOUND");
  tcp.principal = "token:ci";
  tcp.transport = "tcp";
  tcp.peer = "127.0.0.1:40000";
  REQUIRE(audit.append(tcp));

  auto all = audit.list(std::nullopt, 100).value();
  REQUIRE(all.size() == 4);
  CHECK(all[0].target == "d");
  CHECK(all[3].target == "a");
  CHECK(all[0].id > all[1].id);
  CHECK(all[0].principal == "token:ci");
  CHECK(all[0].transport == "tcp");
  CHECK(all[0].peer == "127.0.0.1:40000");
  CHECK(all[0].method == "svc.v1.Tasks/Stop");
  CHECK(all[0].code == "NOT_FOUND");
  CHECK(all[0].message == "it went wrong");
  CHECK(all[0].at == clock.now());
  CHECK(all[3].at == from_unix_millis(1'800'000'000'000));

  CHECK(audit.list(std::nullopt, 2).value().size() == 2);
  auto since = audit.list(from_unix_millis(1'800'000'010'000), 100).value();
  REQUIRE(since.size() == 3);
  CHECK(since.back().target == "b");
}

TEST_CASE("the audit log survives a restart of the store", "[audit]") {
  TempDir dir;
  FakeClock clock;
  {
    auto store = Store::open(dir.path() / "svcd.db").value();
    SqlAuditStore audit(*store, clock, std::chrono::hours(24));
    REQUIRE(audit.append(record(clock, "kept")));
  }
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlAuditStore audit(*store, clock, std::chrono::hours(24));
  auto all = audit.list(std::nullopt, 10).value();
  REQUIRE(all.size() == 1);
  CHECK(all[0].target == "kept");
}

TEST_CASE("records older than the retention are pruned, explicitly and by appends", "[audit]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  FakeClock clock;
  SqlAuditStore audit(*store, clock, std::chrono::hours(24));
  CHECK(audit.prune().value() == 0);  // what svcd does at start

  REQUIRE(audit.append(record(clock, "old")));
  clock.t += std::chrono::hours(20);
  REQUIRE(audit.append(record(clock, "recent")));
  CHECK(audit.prune().value() == 0);  // 20 h old: within the day

  clock.t += std::chrono::hours(5);  // "old" is 25 h old now, "recent" 5 h
  CHECK(audit.prune().value() == 1);
  auto left = audit.list(std::nullopt, 10).value();
  REQUIRE(left.size() == 1);
  CHECK(left[0].target == "recent");

  // A node that keeps changing things prunes as it appends (at most hourly).
  clock.t += std::chrono::hours(30);
  REQUIRE(audit.append(record(clock, "new")));
  left = audit.list(std::nullopt, 10).value();
  REQUIRE(left.size() == 1);
  CHECK(left[0].target == "new");
}
