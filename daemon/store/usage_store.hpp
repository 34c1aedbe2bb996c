#pragma once
// Usage records on svcd.db (daemon/billing/usage_record.hpp): open, checkpoint, close, query.
//
// Durability: open_in() and close_in() run inside a transaction the caller already holds — the
// one that records the task's (or instance's) start and end — so a record costs no commit of its
// own and exists exactly when the run's start does. close_in() closes a record once (a second
// close changes nothing), computes its bill and adds it to the rollups in the same transaction,
// so a run is never billed twice nor lost between the record and its sums.
//
// Queries sum whole UTC days from usage_rollup, whole hours at the window's edges from
// usage_rollup_hour, and the part of an hour at each edge from usage_records (by the start_ms
// index); runs still open are billed up to now in C++ by billing::aggregate, so their figures
// grow without any write.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/billing/query.hpp"
#include "daemon/billing/usage_record.hpp"
#include "daemon/store/store.hpp"

namespace svc::daemon {

// How a run ended. Measured figures only ever grow: a close with less than the last checkpoint
// (a lost sandbox reports nothing) keeps the checkpoint's.
struct UsageClose {
  std::int64_t end_ms = 0;
  // The run's start as the sandbox's own exit record says (its shim's clock when the process
  // started), when known: it replaces the start svcd noted when it saw the run begin, a few ms
  // later, so end - start is the time the process really ran.
  std::optional<std::int64_t> start_ms;
  // The run was not seen ending (its sandbox vanished while svcd was down): it ends at its last
  // checkpoint, the last moment svcd saw it alive, instead of end_ms, and is marked estimated.
  bool end_at_last_checkpoint = false;
  std::optional<std::int64_t> cpu_ms;
  std::optional<std::uint64_t> memory_peak_bytes;
  std::optional<std::uint64_t> requests;
  std::optional<std::int64_t> busy_ms;
  std::optional<billing::BusyState> busy;        // request mode: the accounting at the end
  std::optional<std::int64_t> shutdown_from_ms;  // request mode: shut-down started (billed)
  bool billable = true;
  std::string reason;
};

// What the meter writes for an open record at each checkpoint.
struct UsageCheckpoint {
  std::string id;
  std::int64_t at_ms = 0;
  billing::Measured measured;
  std::optional<billing::BusyState> busy;
};

struct UsageRecordFilter {
  std::optional<billing::RunKind> kind;
  std::string task;  // a task's id or name
  std::string service;
  std::string revision;
  std::string instance;
  bool open_only = false;
  std::optional<std::int64_t> since_ms, until_ms;  // by start
  int page_size = 100;
  std::string page_token;
};

// Everything billed so far, by kind of run (the metrics' usage counters): closed runs from the
// rollups, and how many runs are open now.
struct UsageTotals {
  billing::UsageRow tasks;
  billing::UsageRow instances;
  std::int64_t open_tasks = 0;
  std::int64_t open_instances = 0;
};

class SqlUsageStore {
 public:
  explicit SqlUsageStore(Store& store) : store_(store) {}

  // In the caller's transaction. open_in: false when a record with this id exists already (a
  // restart re-recording a start): the first one stands. close_in: false when there is no open
  // record with this id (closed already, or never opened).
  static Result<bool> open_in(Store::Tx& tx, const billing::UsageRecord& record);
  static Result<bool> close_in(Store::Tx& tx, const std::string& id, const UsageClose& close);
  // A record that is already closed (its bill computed here), with its rollups: for imports and
  // the benchmark's synthetic records.
  static Result<> insert_closed_in(Store::Tx& tx, billing::UsageRecord record);

  // Each in its own transaction.
  Result<bool> open(const billing::UsageRecord& record);
  Result<bool> close(const std::string& id, const UsageClose& close);
  // One transaction for all: checkpoints of records that closed meanwhile are skipped.
  Result<> checkpoint(const std::vector<UsageCheckpoint>& checkpoints);

  Result<std::optional<billing::UsageRecord>> get(const std::string& id);
  Result<std::vector<billing::UsageRecord>> open_records();
  // Records by start time then id; next_page_token "" on the last page.
  Result<std::pair<std::vector<billing::UsageRecord>, std::string>> list(
      const UsageRecordFilter& filter);
  // live: applied to each open record before it is billed up to now (svcd's in-memory figures
  // since the record's last checkpoint).
  Result<billing::UsageReport> query(
      const billing::UsageQuery& query,
      const std::function<void(billing::UsageRecord&)>& live = nullptr);
  Result<UsageTotals> totals();

 private:
  Store& store_;
};

}  // namespace svc::daemon
