// The schema of svcd.db, one migration per change, applied in order at start. Never edit a
// migration that has shipped: add the next one.
#include "daemon/store/store.hpp"

namespace svc::daemon {

const std::vector<Migration>& builtin_migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "meta and tokens", R"sql(
        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE tokens (
          id           TEXT PRIMARY KEY,
          name         TEXT NOT NULL,
          secret_hash  TEXT NOT NULL,        -- sha256 of the secret; the secret is never stored
          created_at   INTEGER NOT NULL,     -- unix ms
          expires_at   INTEGER,              -- unix ms; NULL = never
          last_used_at INTEGER,
          revoked      INTEGER NOT NULL DEFAULT 0
        ) STRICT;
      )sql"},
      {2, "tasks", R"sql(
        CREATE TABLE tasks (
          id                TEXT PRIMARY KEY,
          name              TEXT NOT NULL UNIQUE,
          spec              TEXT NOT NULL,             -- JSON (task_store.cpp)
          state             INTEGER NOT NULL,          -- scheduler::TaskState
          exit_code         INTEGER,                   -- NULL until it exited
          signal            INTEGER NOT NULL DEFAULT 0,
          stop_reason       TEXT NOT NULL DEFAULT '',
          stop_message      TEXT NOT NULL DEFAULT '',
          image_digest      TEXT NOT NULL DEFAULT '',
          pid               INTEGER NOT NULL DEFAULT 0,
          queued_reason     TEXT NOT NULL DEFAULT '',
          created_at        INTEGER NOT NULL,          -- unix ms, like every *_at below
          pulling_at        INTEGER,
          starting_at       INTEGER,
          running_at        INTEGER,
          stopping_at       INTEGER,
          stopped_at        INTEGER,
          cpu_seconds       REAL NOT NULL DEFAULT 0,
          memory_peak_bytes INTEGER NOT NULL DEFAULT 0,
          stop_requested    INTEGER NOT NULL DEFAULT 0,
          timed_out         INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX tasks_state ON tasks(state);
      )sql"},
      {3, "task resources: requests apart from limits", R"sql(
        -- JSON of scheduler::Resources as admission resolved it (task_store.cpp). '' for rows
        -- of before: they reserved and were limited to spec.cpu_millis / memory_bytes.
        ALTER TABLE tasks ADD COLUMN resources TEXT NOT NULL DEFAULT '';
      )sql"},
  };
  return kMigrations;
}

}  // namespace svc::daemon
