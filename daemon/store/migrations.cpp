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
  };
  return kMigrations;
}

}  // namespace svc::daemon
