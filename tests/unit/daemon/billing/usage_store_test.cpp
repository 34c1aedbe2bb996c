// The SQL usage store against the reference: every grouping, window and page that the store
// computes from its rollups must equal billing::aggregate over the same records in memory.
#include <random>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/billing/query.hpp"
#include "daemon/store/usage_store.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;

namespace {

constexpr std::int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

UsageRecord task_record(std::string id, std::string name, std::int64_t start) {
  UsageRecord r;
  r.id = "task:" + id;
  r.owner.kind = RunKind::kTask;
  r.owner.task_id = id;
  r.owner.name = std::move(name);
  r.start_ms = start;
  r.cpu_request_millis = r.cpu_limit_millis = 500;
  r.memory_request_bytes = r.memory_limit_bytes = 256ULL << 20;
  r.minimum_ms = 60'000;
  r.checkpoint_ms = start;
  return r;
}

UsageRecord instance_record(std::string id, std::string service, std::string revision,
                            std::int64_t start, ServiceMode mode) {
  UsageRecord r = task_record(id, "", start);
  r.id = "instance:" + id;
  r.owner.kind = RunKind::kInstance;
  r.owner.task_id.clear();
  r.owner.service = std::move(service);
  r.owner.revision = std::move(revision);
  r.owner.instance = id;
  r.mode = mode;
  r.minimum_ms = 0;
  return r;
}

std::vector<UsageRecord> all_records(SqlUsageStore& usage) {
  UsageRecordFilter f;
  f.page_size = 10'000;
  return usage.list(f).value().first;
}

// Random runs over ten days: tasks with reused names and labels, instances of three services.
std::vector<UsageRecord> random_records(std::mt19937& rng, int n) {
  std::vector<UsageRecord> out;
  std::uniform_int_distribution<std::int64_t> start(0, 10 * kMsPerDay);
  std::uniform_int_distribution<std::int64_t> length(0, 3 * 3'600'000);
  std::uniform_int_distribution<int> pick(0, 99);
  const char* names[] = {"etl", "report", "backup", "ping"};
  const char* teams[] = {"data", "web", ""};
  for (int i = 0; i < n; ++i) {
    std::int64_t s = kT0 + start(rng);
    UsageRecord r;
    if (pick(rng) < 60) {
      r = task_record(fmt::format("t{}", i), names[pick(rng) % 4], s);
      r.minimum_ms = pick(rng) < 50 ? 60'000 : 0;
      r.billable = pick(rng) > 5;
    } else {
      int svc = pick(rng) % 3;
      r = instance_record(fmt::format("i{}", i), fmt::format("svc{}", svc),
                          fmt::format("svc{}-0000{}", svc, pick(rng) % 2 + 1), s,
                          pick(rng) < 50 ? ServiceMode::kRequest : ServiceMode::kInstance);
      r.measured.requests = static_cast<std::uint64_t>(pick(rng)) * 37;
      BusySeconds busy(s);
      for (int k = 0; k < 5; ++k) {
        std::int64_t from = s + pick(rng) * 100;
        busy.busy(from);
        busy.idle(from + pick(rng) * 7);
      }
      r.busy = busy.state();
    }
    int team = pick(rng) % 4;
    if (team < 3) r.labels["team"] = teams[team];
    if (pick(rng) < 30) r.labels["env"] = "prod";
    r.measured.cpu_ms = pick(rng) * 13;
    r.end_ms = s + length(rng);
    out.push_back(std::move(r));
  }
  return out;
}

struct Db {
  TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage{*store};

  // n random closed runs (random_records), inserted in one transaction.
  std::vector<UsageRecord> insert_random(unsigned seed, int n) {
    std::mt19937 rng(seed);
    auto records = random_records(rng, n);
    Store::Tx tx = store->begin().value();
    for (const auto& r : records) REQUIRE(SqlUsageStore::insert_closed_in(tx, r));
    REQUIRE(tx.commit());
    return records;
  }
};

void check_same(const UsageReport& sql, const UsageReport& ref) {
  REQUIRE(sql.rows.size() == ref.rows.size());
  for (std::size_t i = 0; i < ref.rows.size(); ++i) {
    INFO("row " << i << " key \"" << ref.rows[i].key << "\"");
    CHECK(sql.rows[i] == ref.rows[i]);
  }
  CHECK(sql.total == ref.total);
  CHECK(sql.next_page_token == ref.next_page_token);
}

}  // namespace

TEST_CASE("usage store: a record opens once and closes once", "[billing][usage_store]") {
  Db db;
  UsageRecord r = task_record("a1", "job", kT0);
  CHECK(db.usage.open(r).value());
  CHECK_FALSE(db.usage.open(r).value());  // a restart re-recording the start: the first stands
  UsageClose c;
  c.end_ms = kT0 + 3'000;
  c.cpu_ms = 1'200;
  c.memory_peak_bytes = 10 << 20;
  c.reason = "Exited";
  CHECK(db.usage.close(r.id, c).value());
  CHECK_FALSE(db.usage.close(r.id, c).value());  // never counted twice
  auto got = db.usage.get(r.id).value().value();
  CHECK(got.end_ms == kT0 + 3'000);
  CHECK(got.bill.billed_seconds == 60);
  CHECK(got.bill.run_ms == 3'000);
  CHECK(got.measured.cpu_ms == 1'200);
  CHECK(got.end_reason == "Exited");
  UsageQuery q;
  q.now_ms = kT0 + 10'000;
  auto result = db.usage.query(q);
  INFO((result ? std::string() : result.error().message()));
  auto report = result.value();
  REQUIRE(report.rows.size() == 1);
  CHECK(report.rows[0].key == "job");
  CHECK(report.rows[0].runs == 1);
  CHECK(report.total.billed_seconds == 60);
  CHECK_FALSE(db.usage.close("task:never-opened", c).value());
}

TEST_CASE("usage store: open runs are billed so far and flagged", "[billing][usage_store]") {
  Db db;
  REQUIRE(db.usage.open(task_record("a1", "long", kT0)));
  UsageRecord closed = task_record("a2", "long", kT0 + 1);
  closed.end_ms = kT0 + 90'500;
  Store::Tx tx = db.store->begin().value();
  REQUIRE(SqlUsageStore::insert_closed_in(tx, closed));
  REQUIRE(tx.commit());
  UsageQuery q;
  q.now_ms = kT0 + 120'000;
  auto report = db.usage.query(q).value();
  REQUIRE(report.rows.size() == 1);
  CHECK(report.rows[0].runs == 2);
  CHECK(report.rows[0].open_runs == 1);
  CHECK(report.rows[0].billed_seconds == 120 + 91);
  q.now_ms = kT0 + 180'000;  // the open run's figures grow with no write
  CHECK(db.usage.query(q).value().total.billed_seconds == 180 + 91);
}

TEST_CASE("usage store: checkpoints keep the measured detail, closes only grow it",
          "[billing][usage_store]") {
  Db db;
  UsageRecord r = instance_record("i1", "hello", "hello-00001", kT0, ServiceMode::kRequest);
  REQUIRE(db.usage.open(r));
  UsageCheckpoint c;
  c.id = r.id;
  c.at_ms = kT0 + 15'000;
  c.measured.cpu_ms = 900;
  c.measured.memory_peak_bytes = 50 << 20;
  c.measured.memory_avg_bytes = 30 << 20;
  c.measured.memory_sampled_ms = 15'000;
  c.measured.requests = 40;
  BusySeconds busy(kT0);
  busy.busy(kT0 + 14'500);  // busy at the checkpoint, then svcd dies
  c.busy = busy.state();
  REQUIRE(db.usage.checkpoint({c}));
  auto got = db.usage.get(r.id).value().value();
  CHECK(got.checkpoint_ms == kT0 + 15'000);
  CHECK(got.measured == c.measured);
  CHECK(got.busy == busy.state());
  // Closed from what is known after a restart: nothing newer was measured, the end is the last
  // checkpoint, and the open busy interval is billed up to it (the proxy died with svcd).
  UsageClose close;
  close.end_ms = kT0 + 600'000;
  close.end_at_last_checkpoint = true;
  close.cpu_ms = 0;
  close.reason = "Lost";
  REQUIRE(db.usage.close(r.id, close).value());
  got = db.usage.get(r.id).value().value();
  CHECK(got.end_ms == kT0 + 15'000);
  CHECK(got.end_estimated);
  CHECK(got.measured.cpu_ms == 900);
  CHECK(got.bill.billed_seconds == 1);  // second 14: [14.5 s, 15.0 s) ends on the boundary
  CHECK(got.measured.busy_ms == 500);
  // A checkpoint after the close changes nothing.
  c.measured.cpu_ms = 5'000;
  REQUIRE(db.usage.checkpoint({c}));
  CHECK(db.usage.get(r.id).value().value().measured.cpu_ms == 900);
}

TEST_CASE("usage store: sums by every grouping equal the reference", "[billing][usage_store]") {
  Db db;
  auto records = db.insert_random(20261201, 600);
  std::mt19937 rng(20261203);  // the windows' edges
  // A few runs still open, started on the last days.
  for (int i = 0; i < 8; ++i) {
    UsageRecord r = i % 2 ? task_record(fmt::format("o{}", i), "etl", kT0 + 9 * kMsPerDay + i)
                          : instance_record(fmt::format("oi{}", i), "svc1", "svc1-00001",
                                            kT0 + 8 * kMsPerDay + i, ServiceMode::kInstance);
    if (i % 3 == 0) r.labels["team"] = "web";
    REQUIRE(db.usage.open(r));
  }
  auto stored = all_records(db.usage);
  REQUIRE(stored.size() == records.size() + 8);

  std::uniform_int_distribution<std::int64_t> edge(-kMsPerDay, 11 * kMsPerDay);
  const std::int64_t now = kT0 + 11 * kMsPerDay;
  struct By {
    GroupBy by;
    std::string label;
  };
  for (const By& by :
       {By{GroupBy::kTask, ""}, By{GroupBy::kService, ""}, By{GroupBy::kRevision, ""},
        By{GroupBy::kDay, ""}, By{GroupBy::kLabel, "team"}, By{GroupBy::kLabel, "env"},
        By{GroupBy::kLabel, "nobody-has-it"}}) {
    for (int w = 0; w < 16; ++w) {
      UsageQuery q;
      q.by = by.by;
      q.label_key = by.label;
      q.now_ms = now;
      if (w % 4 != 0) q.since_ms = kT0 + edge(rng);
      if (w % 3 != 0) q.until_ms = q.since_ms.value_or(kT0) + edge(rng) + 2 * kMsPerDay;
      if (w == 5) {  // whole days exactly
        q.since_ms = kT0 / kMsPerDay * kMsPerDay + 2 * kMsPerDay;
        q.until_ms = *q.since_ms + 3 * kMsPerDay;
      }
      const std::int64_t day3 = kT0 / kMsPerDay * kMsPerDay + 3 * kMsPerDay;
      if (w == 12) {  // inside one day, both edges inside an hour
        q.since_ms = day3 + 2 * kMsPerHour + 1'234'567;
        q.until_ms = day3 + 9 * kMsPerHour + 42'000;
      }
      if (w == 13) {  // whole hours across a day's end
        q.since_ms = day3 + 20 * kMsPerHour;
        q.until_ms = day3 + 29 * kMsPerHour;
      }
      if (w == 14) {  // less than one whole hour, across an hour's end
        q.since_ms = day3 + 5 * kMsPerHour - 600'000;
        q.until_ms = day3 + 5 * kMsPerHour + 900'000;
      }
      if (w == 15) q.since_ms = now - 7 * kMsPerDay - 17;  // --since 7d: until now
      if (q.since_ms && q.until_ms && *q.since_ms >= *q.until_ms) q.until_ms.reset();
      INFO("by " << group_by_name(by.by) << " " << by.label << " window " << w);
      auto first = db.usage.query(q);
      INFO((first ? std::string() : first.error().message()));
      check_same(first.value(), aggregate(stored, q));
      // Page through: the pages together are the rows, in order.
      q.page_size = 3;
      std::vector<UsageRow> paged;
      for (int page = 0; page < 100; ++page) {
        auto page_r = db.usage.query(q);
        INFO((page_r ? std::string() : page_r.error().message()));
        auto sql = page_r.value();
        auto ref = aggregate(stored, q);
        check_same(sql, ref);
        paged.insert(paged.end(), sql.rows.begin(), sql.rows.end());
        if (sql.next_page_token.empty()) break;
        q.page_token = sql.next_page_token;
      }
      q.page_token.clear();
      q.page_size = 10'000;
      CHECK(paged == aggregate(stored, q).rows);
    }
  }
}

TEST_CASE("usage store: the hourly rollups of records closed before them are what closing adds",
          "[billing][usage_store]") {
  Db db;
  auto records = db.insert_random(20261202, 400);
  auto dump = [&] {
    std::vector<std::string> rows;
    db.store->read([&](Store& s) {
      auto st = s.prepare(
                     "SELECT dim, hour, key, runs, run_ms, billed_seconds, vcpu_milli_seconds, "
                     "memory_mib_seconds, requests, cpu_ms, cost_nanos FROM usage_rollup_hour "
                     "ORDER BY dim, hour, key")
                    .value();
      while (st.step().value()) {
        std::string row = st.text(0) + "|" + st.text(2);
        for (int i : {1, 3, 4, 5, 6, 7, 8, 9, 10}) row += fmt::format("|{}", st.int64(i));
        rows.push_back(std::move(row));
      }
    });
    return rows;
  };
  auto added = dump();
  REQUIRE(added.size() > 400);  // every record is in several dims
  // The migration that made the table, run again over the same records, fills it alike.
  const Migration* hourly = nullptr;
  for (const auto& m : builtin_migrations())
    if (m.name == "usage rollups per hour") hourly = &m;
  REQUIRE(hourly);
  {
    Store::Tx tx = db.store->begin().value();
    REQUIRE(tx.exec("DROP TABLE usage_rollup_hour"));
    auto migrated = tx.exec(hourly->sql);
    INFO((migrated ? std::string() : migrated.error().message()));
    REQUIRE(migrated);
    REQUIRE(tx.commit());
  }
  CHECK(dump() == added);
}

TEST_CASE("usage store: bad queries are refused with the field named", "[billing][usage_store]") {
  Db db;
  UsageQuery q;
  q.page_size = 0;
  CHECK(db.usage.query(q).error().message().find("pageSize") != std::string::npos);
  q.page_size = 10;
  q.by = GroupBy::kLabel;
  CHECK(db.usage.query(q).error().message().find("labelKey") != std::string::npos);
  q.by = GroupBy::kDay;
  q.page_token = "k:not-a-day";
  CHECK(db.usage.query(q).error().message().find("pageToken") != std::string::npos);
  q.page_token = "garbage";
  CHECK(db.usage.query(q).error().message().find("pageToken") != std::string::npos);
  q.page_token.clear();
  q.since_ms = kT0;
  q.until_ms = kT0;
  CHECK(db.usage.query(q).error().message().find("before") != std::string::npos);
}
