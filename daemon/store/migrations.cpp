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
      {3, "usage records and rollups", R"sql(
        -- One row per task run and service instance (daemon/billing/usage_record.hpp). Opened in
        -- the transaction that records the run's start, closed once; never deleted with the
        -- task, since a bill outlives what it bills.
        CREATE TABLE usage_records (
          id                   TEXT PRIMARY KEY,      -- "task:<id>", "instance:<id>"
          kind                 INTEGER NOT NULL,      -- billing::RunKind
          task_id              TEXT NOT NULL DEFAULT '',
          name                 TEXT NOT NULL DEFAULT '',  -- the task's name
          service              TEXT NOT NULL DEFAULT '',
          revision             TEXT NOT NULL DEFAULT '',
          instance             TEXT NOT NULL DEFAULT '',
          schedule             TEXT NOT NULL DEFAULT '',  -- what started a task (issue 12)
          trigger              TEXT NOT NULL DEFAULT '',
          labels               TEXT NOT NULL DEFAULT '{}',  -- JSON object
          start_ms             INTEGER NOT NULL,      -- unix ms, wall clock
          end_ms               INTEGER,               -- NULL while the run is open
          day                  INTEGER NOT NULL,      -- UTC day of start_ms
          cpu_request_millis   INTEGER NOT NULL,
          cpu_limit_millis     INTEGER NOT NULL,
          memory_request_bytes INTEGER NOT NULL,
          memory_limit_bytes   INTEGER NOT NULL,
          basis                INTEGER NOT NULL,      -- billing::Basis
          mode                 INTEGER NOT NULL,      -- billing::ServiceMode
          price_vcpu_nanos     INTEGER NOT NULL,      -- the prices the run started under
          price_gib_nanos      INTEGER NOT NULL,
          price_mreq_nanos     INTEGER NOT NULL,
          currency             TEXT NOT NULL,
          minimum_ms           INTEGER NOT NULL,
          cpu_ms               INTEGER NOT NULL DEFAULT 0,  -- measured
          memory_peak_bytes    INTEGER NOT NULL DEFAULT 0,
          memory_avg_bytes     INTEGER NOT NULL DEFAULT 0,
          memory_sampled_ms    INTEGER NOT NULL DEFAULT 0,
          requests             INTEGER NOT NULL DEFAULT 0,
          busy_ms              INTEGER NOT NULL DEFAULT 0,
          busy_counted         INTEGER NOT NULL DEFAULT 0,  -- request mode (busy_seconds.hpp)
          busy_last_bucket     INTEGER NOT NULL DEFAULT -1,
          busy_since_ms        INTEGER,
          busy_closed_ms       INTEGER NOT NULL DEFAULT 0,
          checkpoint_ms        INTEGER NOT NULL,
          billable             INTEGER NOT NULL DEFAULT 1,
          end_estimated        INTEGER NOT NULL DEFAULT 0,
          end_reason           TEXT NOT NULL DEFAULT '',
          run_ms               INTEGER NOT NULL DEFAULT 0,  -- the bill, set at close
          billed_seconds       INTEGER NOT NULL DEFAULT 0,
          vcpu_milli_seconds   INTEGER NOT NULL DEFAULT 0,
          memory_mib_seconds   INTEGER NOT NULL DEFAULT 0,
          cpu_cost_nanos       INTEGER NOT NULL DEFAULT 0,
          memory_cost_nanos    INTEGER NOT NULL DEFAULT 0,
          request_cost_nanos   INTEGER NOT NULL DEFAULT 0,
          cost_nanos           INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX usage_records_start ON usage_records(start_ms);
        CREATE INDEX usage_records_open ON usage_records(start_ms) WHERE end_ms IS NULL;
        -- Labels of closed records, for sums over part of a day by label.
        CREATE TABLE usage_labels (
          record_id TEXT NOT NULL,
          key       TEXT NOT NULL,
          value     TEXT NOT NULL,
          PRIMARY KEY (record_id, key)
        ) STRICT, WITHOUT ROWID;
        -- Closed records summed per UTC day of their start and per grouping: dim 'all' (key ''),
        -- 'task', 'service', 'revision' (key '' for runs without one) and 'label:<key>'.
        -- Maintained in the transaction that closes a record, so a query over whole days reads
        -- a few rows per day instead of every record.
        CREATE TABLE usage_rollup (
          dim                TEXT NOT NULL,
          day                INTEGER NOT NULL,
          key                TEXT NOT NULL,
          runs               INTEGER NOT NULL,
          run_ms             INTEGER NOT NULL,
          billed_seconds     INTEGER NOT NULL,
          vcpu_milli_seconds INTEGER NOT NULL,
          memory_mib_seconds INTEGER NOT NULL,
          requests           INTEGER NOT NULL,
          cpu_ms             INTEGER NOT NULL,
          cost_nanos         INTEGER NOT NULL,
          PRIMARY KEY (dim, day, key)
        ) STRICT, WITHOUT ROWID;
      )sql"},
      {4, "services, revisions and instances", R"sql(
        CREATE TABLE services (
          name             TEXT PRIMARY KEY,
          spec             TEXT NOT NULL,             -- JSON (service_store.cpp), the latest
          latest_revision  INTEGER NOT NULL,          -- its number
          serving_revision TEXT NOT NULL,             -- the revision that takes the traffic
          created_at       INTEGER NOT NULL,          -- unix ms, like every *_at below
          updated_at       INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE revisions (
          name         TEXT PRIMARY KEY,              -- "hello-00002"
          service      TEXT NOT NULL,
          number       INTEGER NOT NULL,
          spec         TEXT NOT NULL,                 -- JSON, immutable
          image_digest TEXT NOT NULL,
          created_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX revisions_service ON revisions(service);
        CREATE TABLE instances (
          id           TEXT PRIMARY KEY,              -- also its sandbox's id
          service      TEXT NOT NULL,
          revision     TEXT NOT NULL,
          state        INTEGER NOT NULL,              -- services::InstanceState
          pid          INTEGER NOT NULL DEFAULT 0,
          created_at   INTEGER NOT NULL,
          ready_at     INTEGER,
          draining_at  INTEGER,
          stop_reason  TEXT NOT NULL DEFAULT '',
          stop_message TEXT NOT NULL DEFAULT ''
        ) STRICT;
      )sql"},
      {5, "task resources: requests apart from limits", R"sql(
        -- JSON of scheduler::Resources as admission resolved it (task_store.cpp). '' for rows
        -- of before: they reserved and were limited to spec.cpu_millis / memory_bytes.
        ALTER TABLE tasks ADD COLUMN resources TEXT NOT NULL DEFAULT '';
      )sql"},
      {6, "schedules and their runs", R"sql(
        CREATE TABLE schedules (
          name                 TEXT PRIMARY KEY,
          cron                 TEXT NOT NULL,
          timezone             TEXT NOT NULL,       -- IANA name, "UTC"
          overlap              INTEGER NOT NULL,    -- scheduler::Overlap
          starting_deadline_ms INTEGER NOT NULL,    -- 0 = the default
          task_spec            TEXT NOT NULL,       -- JSON, as tasks.spec (task_store.cpp)
          paused               INTEGER NOT NULL DEFAULT 0,
          created_at           INTEGER NOT NULL,    -- unix ms, like every *_at below
          handled_through      INTEGER NOT NULL     -- every due time up to this was handled
        ) STRICT;
        -- The last runs of each schedule (scheduler::RunRecord), for describe. A run is written
        -- in the same transaction as its schedule's handled_through, before its task exists.
        CREATE TABLE schedule_runs (
          schedule     TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,
          seq          INTEGER NOT NULL,
          scheduled_at INTEGER NOT NULL,
          handled_at   INTEGER NOT NULL,
          manual       INTEGER NOT NULL DEFAULT 0,
          outcome      INTEGER NOT NULL,            -- scheduler::RunOutcome
          task_id      TEXT NOT NULL DEFAULT '',
          task_name    TEXT NOT NULL DEFAULT '',
          message      TEXT NOT NULL DEFAULT '',
          task_state   INTEGER,                     -- scheduler::TaskState, as last seen
          exit_code    INTEGER,
          stop_reason  TEXT NOT NULL DEFAULT '',
          PRIMARY KEY (schedule, seq)
        ) STRICT, WITHOUT ROWID;
      )sql"},
      {7, "audit", R"sql(
        CREATE TABLE audit (
          id        INTEGER PRIMARY KEY,     -- increasing
          at        INTEGER NOT NULL,        -- unix ms
          principal TEXT NOT NULL,           -- uid:N, token:NAME, cert:SUBJECT, in-process
          transport TEXT NOT NULL,
          peer      TEXT NOT NULL DEFAULT '',
          method    TEXT NOT NULL,
          target    TEXT NOT NULL DEFAULT '',
          code      TEXT NOT NULL,
          message   TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX audit_at ON audit(at);
      )sql"},
      {8, "usage rollups per hour", R"sql(
        -- As usage_rollup, per UTC hour of the start (unix ms / 3,600,000): a window that starts
        -- or ends inside a day sums its whole hours here and reads records only for the part of
        -- an hour at each edge.
        CREATE TABLE usage_rollup_hour (
          dim                TEXT NOT NULL,
          hour               INTEGER NOT NULL,
          key                TEXT NOT NULL,
          runs               INTEGER NOT NULL,
          run_ms             INTEGER NOT NULL,
          billed_seconds     INTEGER NOT NULL,
          vcpu_milli_seconds INTEGER NOT NULL,
          memory_mib_seconds INTEGER NOT NULL,
          requests           INTEGER NOT NULL,
          cpu_ms             INTEGER NOT NULL,
          cost_nanos         INTEGER NOT NULL,
          PRIMARY KEY (dim, hour, key)
        ) STRICT, WITHOUT ROWID;
        -- The records closed before this migration, summed as add_to_rollups sums each one
        -- (usage_store.cpp). Hours by floor division, as billing::hour_of.
        CREATE TEMP VIEW closed_runs AS
          SELECT r.*, (r.start_ms - CASE WHEN r.start_ms < 0 THEN 3599999 ELSE 0 END) / 3600000
                 AS h
          FROM usage_records r WHERE r.end_ms IS NOT NULL;
        INSERT INTO usage_rollup_hour
          SELECT dim, h, key, count(*), sum(run_ms), sum(billed_seconds),
                 sum(vcpu_milli_seconds), sum(memory_mib_seconds), sum(requests), sum(cpu_ms),
                 sum(cost_nanos)
          FROM (SELECT 'all' AS dim, '' AS key, * FROM closed_runs
                UNION ALL
                SELECT 'task', CASE WHEN kind = 1 THEN name ELSE '' END, * FROM closed_runs
                UNION ALL
                SELECT 'service', CASE WHEN kind = 1 THEN '' ELSE service END, * FROM closed_runs
                UNION ALL
                SELECT 'revision', CASE WHEN kind = 1 THEN '' ELSE revision END, *
                FROM closed_runs)
          GROUP BY dim, h, key;
        INSERT INTO usage_rollup_hour
          SELECT 'label:' || l.key, c.h, l.value, count(*), sum(c.run_ms), sum(c.billed_seconds),
                 sum(c.vcpu_milli_seconds), sum(c.memory_mib_seconds), sum(c.requests),
                 sum(c.cpu_ms), sum(c.cost_nanos)
          FROM closed_runs c JOIN usage_labels l ON l.record_id = c.id
          GROUP BY l.key, c.h, l.value;
        DROP VIEW closed_runs;
      )sql"},
  };
  return kMigrations;
}

}  // namespace svc::daemon
