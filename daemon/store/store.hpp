#pragma once
// daemon/store: the only code that opens svcd.db. One SQLite connection in WAL mode, shared by
// the daemon's threads behind a mutex; repositories for each kind of record (tasks, usage, ...)
// live beside this file and use Store::Tx.
//
// Owns the sqlite3 handle; closed when the Store is destroyed.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::daemon {

struct Migration {
  int version;  // becomes PRAGMA user_version once applied
  std::string_view name;
  std::string_view sql;  // may hold several statements
};

// The migrations this svcd knows, in order (migrations.cpp).
const std::vector<Migration>& builtin_migrations();

class Statement;

class Store {
 public:
  // Opens (creating when missing) and migrates. A database whose user_version is newer than the
  // last known migration is refused: it was written by a newer svcd.
  static Result<std::unique_ptr<Store>> open(
      const std::filesystem::path& path,
      const std::vector<Migration>& migrations = builtin_migrations());
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const { return schema_version_; }
  const std::filesystem::path& path() const { return path_; }

  // A transaction holding the store's lock; rolled back unless commit() succeeds.
  class Tx {
   public:
    ~Tx();
    Tx(Tx&&) noexcept;
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    Result<> exec(std::string_view sql);
    Result<Statement> prepare(std::string_view sql);
    // The same statement compiled once per connection and kept by the Store, for writes on a hot
    // path (a task's usage record opens in its RUNNING write): it comes back reset with no
    // bindings, and is reset again when this transaction ends. Valid until then.
    Result<Statement*> cached(std::string_view sql);
    Result<> commit();
    std::int64_t last_insert_rowid() const;
    int changes() const;

   private:
    friend class Store;
    Tx(Store* store, std::unique_lock<std::mutex> lock);
    void reset_cached();
    Store* store_;
    std::unique_lock<std::mutex> lock_;
    bool done_ = false;
    std::vector<Statement*> used_;
  };
  Result<Tx> begin();

  // Reads outside an explicit transaction (still serialised with writers).
  template <class Fn>
  auto read(Fn&& fn) {
    std::lock_guard lock(mu_);
    return fn(*this);
  }
  Result<Statement> prepare(std::string_view sql);
  Result<> exec(std::string_view sql);

  // Small key/value table for facts such as the node id.
  Result<std::optional<std::string>> get_meta(std::string_view key);
  Result<> put_meta(std::string_view key, std::string_view value);

  sqlite3* handle() const { return db_; }

 private:
  Store(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Result<> migrate(const std::vector<Migration>& migrations);
  Result<> exec_locked(std::string_view sql);
  Result<Statement> prepare_locked(std::string_view sql);

  sqlite3* db_;
  std::filesystem::path path_;
  int schema_version_ = 0;
  std::mutex mu_;
  // Tx::cached(): by SQL text; finalized before the connection closes. Guarded by mu_.
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cached_;
};

// A prepared statement; finalized on destruction. Bind indexes start at 1, columns at 0.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view value);

  // Steps once: true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion (for INSERT/UPDATE/DELETE).
  Result<> run();
  Result<> reset();

  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// A wall-clock time as the store keeps it: unix milliseconds, NULL when unset.
void bind_time(Statement& st, int index,
               const std::optional<std::chrono::system_clock::time_point>& t);
std::optional<std::chrono::system_clock::time_point> column_time(const Statement& st, int column);

}  // namespace svc::daemon
