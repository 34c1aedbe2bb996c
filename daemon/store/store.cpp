#include "daemon/store/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/fd.hpp"

namespace svc::daemon {

namespace {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  Code code = Code::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = Code::kUnavailable;
      break;
    case SQLITE_FULL:
      code = Code::kResourceExhausted;
      break;
    case SQLITE_CONSTRAINT:
      code = Code::kAlreadyExists;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = Code::kDataLoss;
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      code = Code::kPermissionDenied;
      break;
    default:
      break;
  }
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(code, fmt::format("{}: {}", what, msg));
}

// The database holds every task's environment and the tokens' hashes: only root may read it.
// It is created 0600 before SQLite opens it (SQLite gives the -wal and -shm files it creates
// the database file's mode, os_unix.c findCreateFileMode), and a database, -wal or -shm left
// readable by an older svcd is tightened.
Result<> make_private(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd)
    return fail_errno(
        fmt::format("open database {} (is it a symlink, or on a read-only file "
                    "system?)",
                    path.string()));
  if (::fchmod(fd.get(), 0600) != 0)
    return fail_errno(fmt::format("make database {} private (chmod 0600)", path.string()));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    std::string side = path.string() + suffix;
    UniqueFd sfd(::open(side.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!sfd) continue;  // not there (yet): SQLite creates it with the database's mode
    if (::fchmod(sfd.get(), 0600) != 0)
      return fail_errno(fmt::format("make {} private (chmod 0600)", side));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path,
                                           const std::vector<Migration>& migrations) {
  SVC_TRY(make_private(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(db, rc, fmt::format("open database {}", path.string()));
    sqlite3_close(db);
    return tl::unexpected(std::move(e));
  }
  std::unique_ptr<Store> store(new Store(db, path));
  // busy_timeout first: another process (sqlite3 CLI, a backup) may hold the lock briefly.
  sqlite3_busy_timeout(db, 5000);
  std::lock_guard lock(store->mu_);
  auto pragmas = [&]() -> Result<> {
    SVC_TRY(store->exec_locked("PRAGMA journal_mode=WAL"));
    // NORMAL in WAL mode: a commit survives a crash of svcd (kill -9); only a power loss can
    // lose the last transactions, and then the tasks they describe are gone too.
    SVC_TRY(store->exec_locked("PRAGMA synchronous=NORMAL"));
    SVC_TRY(store->exec_locked("PRAGMA foreign_keys=ON"));
    return {};
  }();
  if (!pragmas)
    return tl::unexpected(
        std::move(pragmas).error().context(fmt::format("open {}", path.string())));
  auto migrated = store->migrate(migrations);
  if (!migrated) return tl::unexpected(std::move(migrated).error());
  return store;
}

Store::~Store() {
  cached_.clear();  // finalize before the connection closes
  if (db_) {
    // Fold the WAL back so the database file stands alone after a clean stop.
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    sqlite3_close_v2(db_);
  }
}

Result<> Store::migrate(const std::vector<Migration>& migrations) {
  int current = 0;
  {
    // Finalized before any migration runs: SQLite refuses DROP INDEX and DROP TABLE ("database
    // table is locked") while a statement of the connection is still stepping.
    auto stmt = SVC_TRY(prepare_locked("PRAGMA user_version"));
    SVC_TRY(stmt.step());
    current = static_cast<int>(stmt.int64(0));
  }
  int latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest)
    return fail(Code::kFailedPrecondition,
                "database {} has schema version {}, newer than this svcd knows (version {}): it "
                "was written by a newer svcd. Run that svcd, or point --state-dir at another "
                "directory",
                path_.string(), current, latest);
  int expected = 0;
  for (const Migration& m : migrations) {
    if (m.version != expected + 1)
      return fail(Code::kInternal, "migration {} ({}) out of order: expected version {}", m.version,
                  m.name, expected + 1);
    expected = m.version;
    if (m.version <= current) continue;
    SVC_TRY(exec_locked("BEGIN IMMEDIATE"));
    auto applied = [&]() -> Result<> {
      SVC_TRY(exec_locked(m.sql));
      SVC_TRY(exec_locked(fmt::format("PRAGMA user_version={}", m.version)));
      return exec_locked("COMMIT");
    }();
    if (!applied) {
      (void)exec_locked("ROLLBACK");
      return tl::unexpected(std::move(applied).error().context(
          fmt::format("migrate {} to schema version {} ({})", path_.string(), m.version, m.name)));
    }
    spdlog::info("store: migrated {} to schema version {} ({})", path_.string(), m.version, m.name);
  }
  schema_version_ = std::max(current, latest);
  return {};
}

Result<> Store::exec_locked(std::string_view sql) {
  std::string owned(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = sqlite_error(nullptr, rc, "sql");
    return tl::unexpected(Error(e.code(), fmt::format("sql \"{}\": {}", owned.substr(0, 80), msg)));
  }
  return {};
}

Result<Statement> Store::prepare_locked(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK)
    return tl::unexpected(sqlite_error(db_, rc, fmt::format("prepare \"{}\"", sql.substr(0, 80))));
  return Statement(db_, stmt);
}

Result<Statement> Store::prepare(std::string_view sql) { return prepare_locked(sql); }
Result<> Store::exec(std::string_view sql) {
  std::lock_guard lock(mu_);
  return exec_locked(sql);
}

Result<Store::Tx> Store::begin() {
  std::unique_lock lock(mu_);
  SVC_TRY(exec_locked("BEGIN IMMEDIATE"));
  return Tx(this, std::move(lock));
}

Result<std::optional<std::string>> Store::get_meta(std::string_view key) {
  std::lock_guard lock(mu_);
  auto stmt = SVC_TRY(prepare_locked("SELECT value FROM meta WHERE key = ?"));
  stmt.bind(1, key);
  if (!SVC_TRY(stmt.step())) return std::optional<std::string>{};
  return std::optional<std::string>(stmt.text(0));
}

Result<> Store::put_meta(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  auto stmt =
      SVC_TRY(prepare_locked("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE "
                             "SET value = excluded.value"));
  stmt.bind(1, key).bind(2, value);
  return stmt.run();
}

Store::Tx::Tx(Store* store, std::unique_lock<std::mutex> lock)
    : store_(store), lock_(std::move(lock)) {}
Store::Tx::Tx(Tx&& o) noexcept
    : store_(o.store_),
      lock_(std::move(o.lock_)),
      done_(std::exchange(o.done_, true)),
      used_(std::move(o.used_)) {}
Store::Tx::~Tx() {
  if (lock_.owns_lock()) reset_cached();
  if (!done_ && lock_.owns_lock()) (void)store_->exec_locked("ROLLBACK");
}
void Store::Tx::reset_cached() {
  for (Statement* st : used_) (void)st->reset();
  used_.clear();
}
Result<Statement*> Store::Tx::cached(std::string_view sql) {
  auto it = store_->cached_.find(sql);
  if (it == store_->cached_.end()) {
    auto st = std::make_unique<Statement>(SVC_TRY(store_->prepare_locked(sql)));
    it = store_->cached_.emplace(std::string(sql), std::move(st)).first;
  }
  Statement* st = it->second.get();
  SVC_TRY(st->reset());
  used_.push_back(st);
  return st;
}
Result<> Store::Tx::exec(std::string_view sql) { return store_->exec_locked(sql); }
Result<Statement> Store::Tx::prepare(std::string_view sql) { return store_->prepare_locked(sql); }
Result<> Store::Tx::commit() {
  reset_cached();
  auto r = store_->exec_locked("COMMIT");
  if (!r) {
    (void)store_->exec_locked("ROLLBACK");
  }
  done_ = true;
  lock_.unlock();
  return r;
}
std::int64_t Store::Tx::last_insert_rowid() const { return sqlite3_last_insert_rowid(store_->db_); }
int Store::Tx::changes() const { return sqlite3_changes(store_->db_); }

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}
Statement::Statement(Statement&& o) noexcept
    : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), bind_rc_(o.bind_rc_) {}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}
Statement& Statement::bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}
Statement& Statement::bind_blob(int index, std::string_view value) {
  int rc = sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}
Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) return tl::unexpected(sqlite_error(db_, bind_rc_, "bind"));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(sqlite_error(
      db_, rc, fmt::format("step \"{}\"", std::string_view(sqlite3_sql(stmt_)).substr(0, 80))));
}

Result<> Statement::run() {
  while (SVC_TRY(step())) {
  }
  return {};
}

Result<> Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
  return {};
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}
bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void bind_time(Statement& st, int index,
               const std::optional<std::chrono::system_clock::time_point>& t) {
  if (t)
    st.bind(index, unix_millis(*t));
  else
    st.bind_null(index);
}

std::optional<std::chrono::system_clock::time_point> column_time(const Statement& st, int column) {
  if (st.is_null(column)) return std::nullopt;
  return from_unix_millis(st.int64(column));
}

}  // namespace svc::daemon
