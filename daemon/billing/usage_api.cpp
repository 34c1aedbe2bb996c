#include "daemon/billing/usage_api.hpp"

namespace svc::billing {

namespace {

api::UsageSums sums_of(const UsageRow& r) {
  api::UsageSums s;
  s.name = r.key;
  s.runs = r.runs;
  s.open_runs = r.open_runs;
  s.run_ms = r.run_ms;
  s.billed_seconds = r.billed_seconds;
  s.vcpu_milli_seconds = r.vcpu_milli_seconds;
  s.memory_mib_seconds = r.memory_mib_seconds;
  s.requests = r.requests;
  s.cpu_ms = r.cpu_ms;
  s.cost_nanos = r.cost;
  return s;
}

std::optional<std::int64_t> ms_of(const std::optional<api::UsageTime>& t) {
  if (!t) return std::nullopt;
  return unix_millis(*t);
}

}  // namespace

api::UsageRun UsageApi::to_api(const UsageRecord& r, std::int64_t now_ms) {
  api::UsageRun a;
  a.id = r.id;
  a.instance = r.owner.kind == RunKind::kInstance;
  a.task_id = r.owner.task_id;
  a.task_name = a.instance ? std::string() : r.owner.name;
  a.service = r.owner.service;
  a.revision = r.owner.revision;
  a.instance_id = r.owner.instance;
  a.schedule = r.owner.schedule;
  a.trigger = r.owner.trigger;
  a.labels = r.labels;
  a.start = from_unix_millis(r.start_ms);
  if (r.end_ms) a.end = from_unix_millis(*r.end_ms);
  a.end_estimated = r.end_estimated;
  a.end_reason = r.end_reason;
  a.checkpoint = from_unix_millis(r.checkpoint_ms);
  a.cpu_request_millis = r.cpu_request_millis;
  a.cpu_limit_millis = r.cpu_limit_millis;
  a.memory_request_bytes = static_cast<std::int64_t>(r.memory_request_bytes);
  a.memory_limit_bytes = static_cast<std::int64_t>(r.memory_limit_bytes);
  a.billed_resources = std::string(basis_name(r.basis));
  if (a.instance) a.mode = std::string(mode_name(r.mode));
  a.cpu_ms = r.measured.cpu_ms;
  a.memory_peak_bytes = static_cast<std::int64_t>(r.measured.memory_peak_bytes);
  a.memory_average_bytes = static_cast<std::int64_t>(r.measured.memory_avg_bytes);
  a.memory_sampled_ms = r.measured.memory_sampled_ms;
  a.requests = r.measured.requests;
  a.busy_ms = r.measured.busy_ms;
  if (a.instance && r.mode == ServiceMode::kRequest && r.open())
    a.busy_ms = std::max(a.busy_ms, BusySeconds(r.start_ms, r.busy).busy_ms(now_ms));
  a.billable = r.billable;
  Bill b = r.open() ? compute_bill(r, now_ms) : r.bill;
  a.run_ms = b.run_ms;
  a.billed_seconds = b.billed_seconds;
  a.billed_vcpu_millis = billed_vcpu_millis(r);
  a.billed_memory_mib = ceil_div(static_cast<std::int64_t>(billed_memory_bytes(r)), 1 << 20);
  a.vcpu_milli_seconds = b.vcpu_milli_seconds;
  a.memory_mib_seconds = b.memory_mib_seconds;
  a.cost_nanos = b.cost;
  a.currency = r.prices.currency;
  a.price_vcpu_second_nanos = r.prices.vcpu_second;
  a.price_gib_second_nanos = r.prices.gib_second;
  a.price_million_requests_nanos = r.prices.million_requests;
  a.minimum_ms = r.owner.kind == RunKind::kTask ? r.minimum_ms : 0;
  return a;
}

void UsageApi::with_live(UsageRecord& r) const {
  if (!activity_) return;
  if (auto a = activity_->activity(r.id)) fold_activity(r.measured, r.busy, *a);
}

Result<api::UsageSummary> UsageApi::summary(const api::UsageSummaryQuery& in) {
  UsageQuery q;
  switch (in.by) {
    case api::UsageGroupBy::kTask:
      q.by = GroupBy::kTask;
      break;
    case api::UsageGroupBy::kService:
      q.by = GroupBy::kService;
      break;
    case api::UsageGroupBy::kRevision:
      q.by = GroupBy::kRevision;
      break;
    case api::UsageGroupBy::kDay:
      q.by = GroupBy::kDay;
      break;
    case api::UsageGroupBy::kLabel:
      q.by = GroupBy::kLabel;
      break;
  }
  q.label_key = in.label_key;
  q.since_ms = ms_of(in.since);
  q.until_ms = ms_of(in.until);
  q.now_ms = unix_millis(clock_.now());
  q.page_size = in.page_size;
  q.page_token = in.page_token;
  UsageReport report = SVC_TRY(store_.query(q, [this](UsageRecord& r) { with_live(r); }));
  api::UsageSummary out;
  for (const auto& row : report.rows) out.rows.push_back(sums_of(row));
  out.total = sums_of(report.total);
  out.next_page_token = report.next_page_token;
  out.until = from_unix_millis(q.until_ms.value_or(q.now_ms));
  return out;
}

Result<std::pair<std::vector<api::UsageRun>, std::string>> UsageApi::runs(
    const api::UsageRunsQuery& in) {
  daemon::UsageRecordFilter f;
  f.task = in.task;
  f.service = in.service;
  f.revision = in.revision;
  f.instance = in.instance;
  f.open_only = in.open_only;
  f.since_ms = ms_of(in.since);
  f.until_ms = ms_of(in.until);
  f.page_size = in.page_size;
  f.page_token = in.page_token;
  auto [records, next] = SVC_TRY(store_.list(f));
  std::int64_t now = unix_millis(clock_.now());
  std::vector<api::UsageRun> out;
  out.reserve(records.size());
  for (auto& r : records) {
    if (r.open()) with_live(r);
    out.push_back(to_api(r, now));
  }
  return std::make_pair(std::move(out), std::move(next));
}

api::UsagePricing UsageApi::pricing() const {
  api::UsagePricing p;
  p.currency = policy_.prices.currency;
  p.vcpu_second_nanos = policy_.prices.vcpu_second;
  p.gib_second_nanos = policy_.prices.gib_second;
  p.million_requests_nanos = policy_.prices.million_requests;
  p.billed_resources = std::string(basis_name(policy_.basis));
  p.task_minimum = policy_.task_minimum;
  p.service_mode = std::string(mode_name(policy_.service_mode));
  return p;
}

}  // namespace svc::billing
