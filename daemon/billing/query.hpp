#pragma once
// What `svctl usage` and Usage.Query ask, and what they get: usage summed per task, service,
// revision, UTC day or label value over a window of run start times.
//
// A run belongs to the window its start falls in, whole (a day's bill does not change when a run
// that started on it ends the next day), and to one row of each grouping: the key it has, or ""
// when it has none (a task under --by service, an instance under --by task, a run without the
// label). Rows come sorted by key, paged by the last key of the previous page.
//
// aggregate() is the reference: it sums records held in memory. The SQL store (daemon/store/
// usage_store.cpp) computes the same from its rollup tables and uses aggregate() for the runs
// still open; a shared test holds the two to the same answers.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/billing/usage_record.hpp"

namespace svc::billing {

enum class GroupBy { kTask = 1, kService, kRevision, kDay, kLabel };
std::string_view group_by_name(GroupBy by);  // "task", "service", ...

struct UsageQuery {
  GroupBy by = GroupBy::kTask;
  std::string label_key;                 // kLabel
  std::optional<std::int64_t> since_ms;  // runs that started at or after (unix ms)
  std::optional<std::int64_t> until_ms;  // ... and before; unset: now
  std::int64_t now_ms = 0;               // open runs are billed up to now
  int page_size = 100;
  std::string page_token;  // the last key of the previous page
};

// One row (or the totals): sums over the runs in it. Open runs count with their figures so far.
struct UsageRow {
  std::string key;  // the group's key; "" for runs without one
  std::int64_t runs = 0;
  std::int64_t open_runs = 0;
  std::int64_t run_ms = 0;
  std::int64_t billed_seconds = 0;
  std::int64_t vcpu_milli_seconds = 0;
  std::int64_t memory_mib_seconds = 0;
  std::uint64_t requests = 0;
  std::int64_t cpu_ms = 0;  // measured
  Nanos cost = 0;

  void add(const UsageRecord& record, const Bill& bill);
  void add(const UsageRow& other);
  bool operator==(const UsageRow&) const = default;
};

struct UsageReport {
  std::vector<UsageRow> rows;
  UsageRow total;               // over the whole window, not just this page
  std::string next_page_token;  // "" on the last page
};

// Checks a query a user sent: page size 1..10000, a label key for kLabel, since < until.
Result<> validate(const UsageQuery& query);

// The key record groups under ("" when none); kDay: "2026-01-31" (UTC, of the start).
std::string group_key(const UsageRecord& record, GroupBy by, const std::string& label_key);
bool in_window(const UsageRecord& record, const UsageQuery& query);

// Sums records (open ones billed up to query.now_ms) into the rows of one page and the totals.
UsageReport aggregate(const std::vector<UsageRecord>& records, const UsageQuery& query);

// Merges rows keyed the same (sums), keeps them sorted by key, and cuts the page after the
// token: how the SQL store folds open runs into the rows it summed.
void merge_rows(std::vector<UsageRow>& into, const std::vector<UsageRow>& more);
std::vector<UsageRow> page_of(std::vector<UsageRow> sorted_rows, const UsageQuery& query,
                              std::string* next_page_token);

}  // namespace svc::billing
