#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/task_store.hpp"

using namespace svc;
using namespace svc::daemon;

namespace {
int user_version(Store& s) {
  return s.read([](Store& st) {
    auto stmt = st.prepare("PRAGMA user_version").value();
    (void)stmt.step();
    return static_cast<int>(stmt.int64(0));
  });
}
std::string pragma(Store& s, const char* name) {
  return s.read([&](Store& st) {
    auto stmt = st.prepare(std::string("PRAGMA ") + name).value();
    (void)stmt.step();
    return stmt.text(0);
  });
}
}  // namespace

TEST_CASE("a fresh store is migrated to the latest schema, in WAL mode", "[store]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  int latest = builtin_migrations().back().version;
  CHECK(store->schema_version() == latest);
  CHECK(user_version(*store) == latest);
  CHECK(pragma(*store, "journal_mode") == "wal");
  CHECK(pragma(*store, "foreign_keys") == "1");
  REQUIRE(store->put_meta("node_id", "abc"));
  CHECK(store->get_meta("node_id").value().value() == "abc");
  CHECK_FALSE(store->get_meta("missing").value().has_value());
}

TEST_CASE("svcd.db and its -wal and -shm are 0600, also those an older svcd left readable",
          "[store]") {
  auto mode = [](const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  TempDir dir;
  std::filesystem::path db = dir.path() / "svcd.db";
  {
    auto store = Store::open(db).value();
    REQUIRE(store->put_meta("k", "v"));  // a write: the -wal and -shm files exist now
    CHECK(mode(db) == 0600);
    CHECK(mode(db.string() + "-wal") == 0600);
    CHECK(mode(db.string() + "-shm") == 0600);
  }
  // As an older svcd left them (the environment of every task readable by anyone).
  REQUIRE(write_file_atomic(dir.path() / "svcd.db-wal", ""));
  REQUIRE(::chmod(db.c_str(), 0644) == 0);
  REQUIRE(::chmod((db.string() + "-wal").c_str(), 0644) == 0);
  auto store = Store::open(db).value();
  CHECK(store->get_meta("k").value().value() == "v");
  CHECK(mode(db) == 0600);
  CHECK(mode(db.string() + "-wal") == 0600);
}

TEST_CASE("reopening keeps data and applies nothing twice", "[store]") {
  TempDir dir;
  {
    auto store = Store::open(dir.path() / "svcd.db").value();
    REQUIRE(store->put_meta("k", "v"));
  }
  auto again = Store::open(dir.path() / "svcd.db").value();
  CHECK(again->get_meta("k").value().value() == "v");
  CHECK(user_version(*again) == builtin_migrations().back().version);
}

TEST_CASE("migrations apply in order, only the missing ones", "[store]") {
  TempDir dir;
  std::vector<Migration> v1 = {{1, "one",
                                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                                "CREATE TABLE a(x INTEGER);"}};
  {
    auto s = Store::open(dir.path() / "db", v1).value();
    CHECK(s->schema_version() == 1);
    REQUIRE(s->exec("INSERT INTO a VALUES (41)"));
  }
  std::vector<Migration> v2 = v1;
  v2.push_back({2, "two", "ALTER TABLE a ADD COLUMN y INTEGER DEFAULT 1; UPDATE a SET x = x + 1;"});
  auto s = Store::open(dir.path() / "db", v2).value();
  CHECK(s->schema_version() == 2);
  int x = s->read([](Store& st) {
    auto stmt = st.prepare("SELECT x, y FROM a").value();
    (void)stmt.step();
    return static_cast<int>(stmt.int64(0) * 10 + stmt.int64(1));
  });
  CHECK(x == 421);
}

TEST_CASE("a migration may drop an index or a table (no statement of the store is left open)",
          "[store]") {
  TempDir dir;
  std::vector<Migration> v1 = {{1, "one",
                                "CREATE TABLE a(x INTEGER, y INTEGER);"
                                "CREATE INDEX a_x ON a(x); CREATE TABLE old(z INTEGER);"}};
  { REQUIRE(Store::open(dir.path() / "db", v1)); }
  std::vector<Migration> v2 = v1;
  v2.push_back({2, "replace the index",
                "DROP INDEX a_x; CREATE INDEX a_xy ON a(x, y); DROP TABLE old;"});
  auto s = Store::open(dir.path() / "db", v2);
  REQUIRE(s);
  CHECK((*s)->schema_version() == 2);
  int indexes = (*s)->read([](Store& st) {
    auto stmt = st.prepare("SELECT count(*) FROM sqlite_schema WHERE name IN ('a_x', 'a_xy', 'old')")
                    .value();
    (void)stmt.step();
    return static_cast<int>(stmt.int64(0));
  });
  CHECK(indexes == 1);
}

TEST_CASE("a failing migration leaves the schema where it was", "[store]") {
  TempDir dir;
  std::vector<Migration> good = {{1, "one", "CREATE TABLE a(x INTEGER);"}};
  { REQUIRE(Store::open(dir.path() / "db", good)); }
  std::vector<Migration> bad = good;
  bad.push_back({2, "broken", "CREATE TABLE b(x INTEGER); THIS IS NOT SQL;"});
  auto r = Store::open(dir.path() / "db", bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("schema version 2 (broken)") != std::string::npos);
  auto s = Store::open(dir.path() / "db", good).value();
  CHECK(user_version(*s) == 1);
  // Table b was rolled back with the rest of migration 2.
  CHECK_FALSE(s->exec("SELECT * FROM b"));
}

TEST_CASE("a database from a newer svcd is refused with a clear message", "[store]") {
  TempDir dir;
  {
    std::vector<Migration> future = builtin_migrations();
    future.push_back({future.back().version + 1, "future", "CREATE TABLE future(x);"});
    REQUIRE(Store::open(dir.path() / "svcd.db", future));
  }
  auto r = Store::open(dir.path() / "svcd.db");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(r.error().message().find("newer than this svcd knows") != std::string::npos);
}

TEST_CASE("transactions roll back unless committed", "[store]") {
  TempDir dir;
  auto s = Store::open(dir.path() / "svcd.db").value();
  {
    auto tx = s->begin().value();
    REQUIRE(tx.exec("INSERT INTO meta(key, value) VALUES ('a', '1')"));
  }  // dropped: rolled back
  CHECK_FALSE(s->get_meta("a").value().has_value());
  {
    auto tx = s->begin().value();
    REQUIRE(tx.exec("INSERT INTO meta(key, value) VALUES ('a', '1')"));
    REQUIRE(tx.commit());
  }
  CHECK(s->get_meta("a").value().value() == "1");
}

#include "common/clock.hpp"
#include "daemon/store/task_store.hpp"

TEST_CASE("cached statements are compiled once, come back clean and follow rollbacks", "[store]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  const char* put = "INSERT INTO meta(key, value) VALUES(?1, ?2)";
  Statement* first = nullptr;
  {
    auto tx = store->begin().value();
    Statement* st = tx.cached(put).value();
    first = st;
    st->bind(1, "a").bind(2, "1");
    REQUIRE(st->run());
    // Again in the same transaction: the same statement, reset, without the old bindings
    // (an unbound value is NULL, which the NOT NULL column refuses).
    Statement* again = tx.cached(put).value();
    CHECK(again == first);
    again->bind(1, "b");
    CHECK_FALSE(again->run());
    REQUIRE(tx.commit());
  }
  {
    auto tx = store->begin().value();
    Statement* st = tx.cached(put).value();
    CHECK(st == first);  // compiled once per connection
    st->bind(1, "c").bind(2, "3");
    REQUIRE(st->run());
    // No commit: rolled back.
  }
  {
    // A SELECT left on a row does not hold the next transaction or the commit up.
    auto tx = store->begin().value();
    Statement* sel = tx.cached("SELECT value FROM meta WHERE key = ?1").value();
    sel->bind(1, "a");
    REQUIRE(sel->step().value());
    CHECK(sel->text(0) == "1");
    REQUIRE(tx.commit());
  }
  CHECK(store->get_meta("a").value() == std::optional<std::string>("1"));
  CHECK_FALSE(store->get_meta("c").value().has_value());
}

TEST_CASE("tasks survive a reopen with every field", "[store][tasks]") {
  using namespace svc::scheduler;
  TempDir dir;
  Task t;
  t.id = "0123456789abcdef";
  t.spec.name = "web";
  t.spec.image = "busybox:1";
  t.spec.args = {"sh", "-c", "echo hi"};
  t.spec.env = {{"B", "2"}, {"A", "1"}};
  t.spec.labels = {{"team", "x"}};
  t.spec.cpu_request_millis = 250;
  t.spec.cpu_limit_millis = 500;
  t.spec.memory_bytes = 64ULL << 20;
  t.resources = Resources{250, 500, 64ULL << 20, 64ULL << 20, 1024};
  t.spec.timeout = std::chrono::minutes(5);
  t.spec.network = NetworkMode::kNone;
  t.spec.auto_remove = true;
  t.state = TaskState::kRunning;
  t.created_at = svc::from_unix_millis(1'800'000'000'123);
  t.running_at = svc::from_unix_millis(1'800'000'001'000);
  t.pid = 4242;
  t.stop_requested = true;
  {
    auto store = Store::open(dir.path() / "svcd.db").value();
    SqlTaskStore tasks(*store);
    REQUIRE(tasks.insert(t));
    CHECK(tasks.insert(t).error().code() == Code::kAlreadyExists);
    t.state = TaskState::kStopped;
    t.exit_code = 3;
    t.stopped_at = svc::from_unix_millis(1'800'000'002'000);
    t.stop_reason = "Exited";
    REQUIRE(tasks.update(t));
  }
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlTaskStore tasks(*store);
  auto all = tasks.load_all().value();
  REQUIRE(all.size() == 1);
  const Task& r = all[0];
  CHECK(r.spec.name == "web");
  CHECK(r.spec.args == t.spec.args);
  CHECK(r.spec.env == t.spec.env);  // order kept
  CHECK(r.spec.labels == t.spec.labels);
  CHECK(r.spec.timeout == std::chrono::minutes(5));
  CHECK(r.spec.cpu_request_millis == 250);
  CHECK(r.spec.cpu_limit_millis == 500);
  CHECK(r.spec.memory_bytes == 64ULL << 20);
  CHECK(r.resources == t.resources);
  CHECK(r.spec.network == NetworkMode::kNone);
  CHECK(r.spec.auto_remove);
  CHECK(r.state == TaskState::kStopped);
  CHECK(r.exit_code == 3);
  CHECK(r.created_at == t.created_at);
  CHECK(r.running_at == t.running_at);
  CHECK(r.stopped_at == t.stopped_at);
  CHECK_FALSE(r.pulling_at.has_value());
  CHECK(r.pid == 4242);
  CHECK(r.stop_requested);
  REQUIRE(tasks.remove(t.id));
  CHECK(tasks.load_all().value().empty());
  Task missing = t;
  missing.id = "nope";
  CHECK(tasks.update(missing).error().code() == Code::kNotFound);
}

TEST_CASE("a task row from before requests and limits were apart reads as what it reserved",
          "[store][tasks]") {
  using namespace svc::scheduler;
  scheduler::TaskSpec spec;
  spec.cpu_millis = 1000;  // svcd filled the defaults into the spec then
  spec.memory_bytes = 512ULL << 20;
  spec.pids = 1024;
  auto r = SqlTaskStore::resources_from_json("", spec).value();
  CHECK(r == Resources{1000, 1000, 512ULL << 20, 512ULL << 20, 1024});
  CHECK(SqlTaskStore::resources_from_json("{bad", spec).error().code() == Code::kDataLoss);
  Resources res{1, 0, 16ULL << 20, 512ULL << 20, 1024};
  CHECK(SqlTaskStore::resources_from_json(SqlTaskStore::resources_to_json(res), spec).value() ==
        res);
}
