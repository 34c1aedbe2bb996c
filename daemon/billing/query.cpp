#include "daemon/billing/query.hpp"

#include <algorithm>
#include <map>

namespace svc::billing {

std::string_view group_by_name(GroupBy by) {
  switch (by) {
    case GroupBy::kTask:
      return "task";
    case GroupBy::kService:
      return "service";
    case GroupBy::kRevision:
      return "revision";
    case GroupBy::kDay:
      return "day";
    case GroupBy::kLabel:
      return "label";
  }
  return "task";
}

void UsageRow::add(const UsageRecord& r, const Bill& b) {
  runs += 1;
  open_runs += r.open() ? 1 : 0;
  run_ms += b.run_ms;
  billed_seconds += b.billed_seconds;
  vcpu_milli_seconds += b.vcpu_milli_seconds;
  memory_mib_seconds += b.memory_mib_seconds;
  requests += b.requests;
  cpu_ms += r.measured.cpu_ms;
  cost += b.cost;
}

void UsageRow::add(const UsageRow& o) {
  runs += o.runs;
  open_runs += o.open_runs;
  run_ms += o.run_ms;
  billed_seconds += o.billed_seconds;
  vcpu_milli_seconds += o.vcpu_milli_seconds;
  memory_mib_seconds += o.memory_mib_seconds;
  requests += o.requests;
  cpu_ms += o.cpu_ms;
  cost += o.cost;
}

Result<> validate(const UsageQuery& q) {
  if (q.page_size < 1 || q.page_size > 10'000)
    return fail(Code::kInvalidArgument, "pageSize: {} is not between 1 and 10000", q.page_size);
  if (q.by == GroupBy::kLabel && q.label_key.empty())
    return fail(Code::kInvalidArgument,
                "labelKey: grouping by label needs the label's key (svctl usage --by label:team)");
  if (q.by != GroupBy::kLabel && !q.label_key.empty())
    return fail(Code::kInvalidArgument, "labelKey: only used when grouping by label");
  if (q.since_ms && q.until_ms && *q.since_ms >= *q.until_ms)
    return fail(Code::kInvalidArgument, "since ({}) must be before until ({})",
                day_name(day_of(*q.since_ms)), day_name(day_of(*q.until_ms)));
  if (!q.page_token.empty() && !q.page_token.starts_with("k:"))
    return fail(Code::kInvalidArgument, "pageToken: \"{}\" is not from a previous page",
                q.page_token);
  return {};
}

std::string group_key(const UsageRecord& r, GroupBy by, const std::string& label_key) {
  const bool task = r.owner.kind == RunKind::kTask;
  switch (by) {
    case GroupBy::kTask:
      return task ? r.owner.name : std::string();
    case GroupBy::kService:
      return task ? std::string() : r.owner.service;
    case GroupBy::kRevision:
      return task ? std::string() : r.owner.revision;
    case GroupBy::kDay:
      return day_name(day_of(r.start_ms));
    case GroupBy::kLabel: {
      auto it = r.labels.find(label_key);
      return it == r.labels.end() ? std::string() : it->second;
    }
  }
  return {};
}

bool in_window(const UsageRecord& r, const UsageQuery& q) {
  if (q.since_ms && r.start_ms < *q.since_ms) return false;
  if (q.until_ms && r.start_ms >= *q.until_ms) return false;
  return true;
}

void merge_rows(std::vector<UsageRow>& into, const std::vector<UsageRow>& more) {
  std::map<std::string, UsageRow> by_key;
  for (auto& row : into) by_key.emplace(row.key, std::move(row));
  for (const auto& row : more) {
    auto [it, fresh] = by_key.try_emplace(row.key, row);
    if (!fresh) it->second.add(row);
  }
  into.clear();
  for (auto& [key, row] : by_key) into.push_back(std::move(row));
}

std::vector<UsageRow> page_of(std::vector<UsageRow> rows, const UsageQuery& q, std::string* next) {
  std::vector<UsageRow> out;
  next->clear();
  bool first_page = q.page_token.empty();
  std::string after = first_page ? std::string() : q.page_token.substr(2);
  std::size_t page = static_cast<std::size_t>(std::max(1, q.page_size));
  for (auto& row : rows) {
    if (!first_page && row.key <= after) continue;
    if (out.size() == page) {
      *next = "k:" + out.back().key;
      break;
    }
    out.push_back(std::move(row));
  }
  return out;
}

UsageReport aggregate(const std::vector<UsageRecord>& records, const UsageQuery& q) {
  std::map<std::string, UsageRow> groups;
  UsageReport report;
  for (const auto& r : records) {
    if (!in_window(r, q)) continue;
    Bill b = r.open() ? compute_bill(r, q.now_ms) : r.bill;
    std::string key = group_key(r, q.by, q.label_key);
    UsageRow& row = groups[key];
    row.key = key;
    row.add(r, b);
    report.total.add(r, b);
  }
  std::vector<UsageRow> rows;
  for (auto& [key, row] : groups) rows.push_back(std::move(row));
  report.rows = page_of(std::move(rows), q, &report.next_page_token);
  return report;
}

}  // namespace svc::billing
