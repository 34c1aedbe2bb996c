#include "daemon/store/usage_store.hpp"

#include <algorithm>
#include <limits>
#include <variant>

#include <nlohmann/json.hpp>

namespace svc::daemon {

namespace b = svc::billing;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kMinDay = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kMaxDay = std::numeric_limits<std::int32_t>::max();

constexpr const char* kColumns =
    "id, kind, task_id, name, service, revision, instance, schedule, trigger, labels, start_ms, "
    "end_ms, cpu_request_millis, cpu_limit_millis, memory_request_bytes, memory_limit_bytes, "
    "basis, mode, price_vcpu_nanos, price_gib_nanos, price_mreq_nanos, currency, minimum_ms, "
    "cpu_ms, memory_peak_bytes, memory_avg_bytes, memory_sampled_ms, requests, busy_ms, "
    "busy_counted, busy_last_bucket, busy_since_ms, busy_closed_ms, checkpoint_ms, billable, "
    "end_estimated, end_reason, run_ms, billed_seconds, vcpu_milli_seconds, memory_mib_seconds, "
    "cpu_cost_nanos, memory_cost_nanos, request_cost_nanos, cost_nanos";
constexpr int kColumnCount = 45;

std::string labels_json(const std::map<std::string, std::string>& labels) {
  return json(labels).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t u64(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

void bind_record(Statement& st, const b::UsageRecord& r) {
  st.bind(1, r.id).bind(2, static_cast<int>(r.owner.kind)).bind(3, r.owner.task_id);
  st.bind(4, r.owner.name).bind(5, r.owner.service).bind(6, r.owner.revision);
  st.bind(7, r.owner.instance).bind(8, r.owner.schedule).bind(9, r.owner.trigger);
  st.bind(10, labels_json(r.labels)).bind(11, r.start_ms);
  if (r.end_ms)
    st.bind(12, *r.end_ms);
  else
    st.bind_null(12);
  st.bind(13, r.cpu_request_millis).bind(14, r.cpu_limit_millis);
  st.bind(15, i64(r.memory_request_bytes)).bind(16, i64(r.memory_limit_bytes));
  st.bind(17, static_cast<int>(r.basis)).bind(18, static_cast<int>(r.mode));
  st.bind(19, r.prices.vcpu_second).bind(20, r.prices.gib_second);
  st.bind(21, r.prices.million_requests).bind(22, r.prices.currency).bind(23, r.minimum_ms);
  const b::Measured& m = r.measured;
  st.bind(24, m.cpu_ms).bind(25, i64(m.memory_peak_bytes)).bind(26, i64(m.memory_avg_bytes));
  st.bind(27, m.memory_sampled_ms).bind(28, i64(m.requests)).bind(29, m.busy_ms);
  st.bind(30, r.busy.counted).bind(31, r.busy.last_bucket);
  if (r.busy.busy_since_ms)
    st.bind(32, *r.busy.busy_since_ms);
  else
    st.bind_null(32);
  st.bind(33, r.busy.busy_ms).bind(34, r.checkpoint_ms).bind(35, r.billable ? 1 : 0);
  st.bind(36, r.end_estimated ? 1 : 0).bind(37, r.end_reason);
  const b::Bill& bill = r.bill;
  st.bind(38, bill.run_ms).bind(39, bill.billed_seconds).bind(40, bill.vcpu_milli_seconds);
  st.bind(41, bill.memory_mib_seconds).bind(42, bill.cpu_cost).bind(43, bill.memory_cost);
  st.bind(44, bill.request_cost).bind(45, bill.cost);
}

Result<b::UsageRecord> read_record(const Statement& st) {
  b::UsageRecord r;
  r.id = st.text(0);
  int kind = static_cast<int>(st.int64(1));
  if (kind != 1 && kind != 2)
    return fail(Code::kDataLoss, "usage record {} has unknown kind {}", r.id, kind);
  r.owner.kind = static_cast<b::RunKind>(kind);
  r.owner.task_id = st.text(2);
  r.owner.name = st.text(3);
  r.owner.service = st.text(4);
  r.owner.revision = st.text(5);
  r.owner.instance = st.text(6);
  r.owner.schedule = st.text(7);
  r.owner.trigger = st.text(8);
  try {
    r.labels = json::parse(st.text(9)).get<std::map<std::string, std::string>>();
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "usage record {}: labels are not valid: {}", r.id, e.what());
  }
  r.start_ms = st.int64(10);
  if (!st.is_null(11)) r.end_ms = st.int64(11);
  r.cpu_request_millis = st.int64(12);
  r.cpu_limit_millis = st.int64(13);
  r.memory_request_bytes = u64(st.int64(14));
  r.memory_limit_bytes = u64(st.int64(15));
  r.basis = st.int64(16) == 2 ? b::Basis::kLimits : b::Basis::kRequests;
  r.mode = st.int64(17) == 2 ? b::ServiceMode::kRequest : b::ServiceMode::kInstance;
  r.prices.vcpu_second = st.int64(18);
  r.prices.gib_second = st.int64(19);
  r.prices.million_requests = st.int64(20);
  r.prices.currency = st.text(21);
  r.minimum_ms = st.int64(22);
  r.measured.cpu_ms = st.int64(23);
  r.measured.memory_peak_bytes = u64(st.int64(24));
  r.measured.memory_avg_bytes = u64(st.int64(25));
  r.measured.memory_sampled_ms = st.int64(26);
  r.measured.requests = u64(st.int64(27));
  r.measured.busy_ms = st.int64(28);
  r.busy.counted = st.int64(29);
  r.busy.last_bucket = st.int64(30);
  if (!st.is_null(31)) r.busy.busy_since_ms = st.int64(31);
  r.busy.busy_ms = st.int64(32);
  r.checkpoint_ms = st.int64(33);
  r.billable = st.int64(34) != 0;
  r.end_estimated = st.int64(35) != 0;
  r.end_reason = st.text(36);
  r.bill.run_ms = st.int64(37);
  r.bill.billed_seconds = st.int64(38);
  r.bill.vcpu_milli_seconds = st.int64(39);
  r.bill.memory_mib_seconds = st.int64(40);
  r.bill.cpu_cost = st.int64(41);
  r.bill.memory_cost = st.int64(42);
  r.bill.request_cost = st.int64(43);
  r.bill.cost = st.int64(44);
  if (!r.open()) {
    // The derived parts of a closed bill, so a record read back equals the one closed.
    r.bill.vcpu_millis = b::billed_vcpu_millis(r);
    r.bill.memory_mib = b::ceil_div(i64(b::billed_memory_bytes(r)), 1 << 20);
    r.bill.requests = r.measured.requests;
  }
  return r;
}

std::string make_insert_sql() {
  std::string marks;
  for (int i = 1; i <= kColumnCount; ++i) marks += fmt::format("{}?{}", i > 1 ? "," : "", i);
  return fmt::format(
      "INSERT INTO usage_records({}, day) VALUES({}, ?{}) ON CONFLICT(id) DO NOTHING", kColumns,
      marks, kColumnCount + 1);
}

const std::string& insert_sql() {
  static const std::string kSql = make_insert_sql();
  return kSql;
}

std::string make_rollup_upsert(const char* table, const char* period) {
  return fmt::format(
      "INSERT INTO {0}(dim, {1}, key, runs, run_ms, billed_seconds, vcpu_milli_seconds, "
      "memory_mib_seconds, requests, cpu_ms, cost_nanos) VALUES(?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, "
      "?9, ?10) ON CONFLICT(dim, {1}, key) DO UPDATE SET runs = runs + 1, "
      "run_ms = run_ms + excluded.run_ms, billed_seconds = billed_seconds + "
      "excluded.billed_seconds, vcpu_milli_seconds = vcpu_milli_seconds + "
      "excluded.vcpu_milli_seconds, memory_mib_seconds = memory_mib_seconds + "
      "excluded.memory_mib_seconds, requests = requests + excluded.requests, "
      "cpu_ms = cpu_ms + excluded.cpu_ms, cost_nanos = cost_nanos + excluded.cost_nanos",
      table, period);
}

// Adds a closed record's bill to every grouping it belongs to, in the day and the hour of its
// start.
Result<> add_to_rollups(Store::Tx& tx, const b::UsageRecord& r) {
  static const std::string kDaySql = make_rollup_upsert("usage_rollup", "day");
  static const std::string kHourSql = make_rollup_upsert("usage_rollup_hour", "hour");
  Statement& by_day = *SVC_TRY(tx.cached(kDaySql));
  Statement& by_hour = *SVC_TRY(tx.cached(kHourSql));
  auto add = [&](const std::string& dim, const std::string& key) -> Result<> {
    for (auto [st, period] :
         {std::pair{&by_day, b::day_of(r.start_ms)}, std::pair{&by_hour, b::hour_of(r.start_ms)}}) {
      SVC_TRY(st->reset());
      st->bind(1, dim).bind(2, period).bind(3, key).bind(4, r.bill.run_ms);
      st->bind(5, r.bill.billed_seconds).bind(6, r.bill.vcpu_milli_seconds);
      st->bind(7, r.bill.memory_mib_seconds).bind(8, i64(r.bill.requests));
      st->bind(9, r.measured.cpu_ms).bind(10, r.bill.cost);
      SVC_TRY(st->run());
    }
    return {};
  };
  SVC_TRY(add("all", ""));
  SVC_TRY(add("task", b::group_key(r, b::GroupBy::kTask, {})));
  SVC_TRY(add("service", b::group_key(r, b::GroupBy::kService, {})));
  SVC_TRY(add("revision", b::group_key(r, b::GroupBy::kRevision, {})));
  if (!r.labels.empty()) {
    Statement& lab = *SVC_TRY(tx.cached(
        "INSERT INTO usage_labels(record_id, key, value) VALUES(?, ?, ?) ON CONFLICT DO NOTHING"));
    for (const auto& [k, v] : r.labels) {
      SVC_TRY(add("label:" + k, v));
      SVC_TRY(lab.reset());
      lab.bind(1, r.id).bind(2, k).bind(3, v);
      SVC_TRY(lab.run());
    }
  }
  return {};
}

Result<std::optional<b::UsageRecord>> get_in(Statement& st) {
  if (!SVC_TRY(st.step())) return std::optional<b::UsageRecord>{};
  return std::optional<b::UsageRecord>(SVC_TRY(read_record(st)));
}

}  // namespace

// ---- writes ---------------------------------------------------------------------------------

Result<bool> SqlUsageStore::open_in(Store::Tx& tx, const b::UsageRecord& record) {
  if (record.id.empty()) return fail(Code::kInvalidArgument, "usage record without an id");
  if (!record.open())
    return fail(Code::kInvalidArgument, "usage record {} is already closed", record.id);
  Statement& st = *SVC_TRY(tx.cached(insert_sql()));
  b::UsageRecord r = record;
  if (r.checkpoint_ms < r.start_ms) r.checkpoint_ms = r.start_ms;
  bind_record(st, r);
  st.bind(kColumnCount + 1, b::day_of(r.start_ms));
  SVC_TRY_CTX(st.run(), "open usage record {}", r.id);
  return tx.changes() == 1;
}

Result<bool> SqlUsageStore::close_in(Store::Tx& tx, const std::string& id, const UsageClose& c) {
  Statement& sel = *SVC_TRY(tx.cached(
      fmt::format("SELECT {} FROM usage_records WHERE id = ? AND end_ms IS NULL", kColumns)));
  sel.bind(1, id);
  auto found = SVC_TRY(get_in(sel));
  if (!found) return false;
  b::UsageRecord r = std::move(*found);
  // Request mode counts instance-seconds from the start the record opened with: the buckets
  // already counted keep their numbers when the start is corrected below.
  const std::int64_t origin_ms = r.start_ms;
  if (c.start_ms && *c.start_ms > 0 && !c.end_at_last_checkpoint) r.start_ms = *c.start_ms;

  std::int64_t end = c.end_at_last_checkpoint ? r.checkpoint_ms : c.end_ms;
  end = std::max(end, r.start_ms);
  b::Measured& m = r.measured;
  if (c.cpu_ms) m.cpu_ms = std::max(m.cpu_ms, *c.cpu_ms);
  if (c.memory_peak_bytes)
    m.memory_peak_bytes = std::max(m.memory_peak_bytes, *c.memory_peak_bytes);
  if (c.requests) m.requests = std::max(m.requests, *c.requests);
  if (c.busy) r.busy = *c.busy;
  if (r.owner.kind == b::RunKind::kInstance && r.mode == b::ServiceMode::kRequest) {
    b::BusySeconds seconds(origin_ms, r.busy);
    // An interval open at the end (svcd died while requests were in flight) is billed up to the
    // end: the proxy died with svcd, so nothing was served after it.
    seconds.idle(end);
    if (c.shutdown_from_ms) seconds.add(*c.shutdown_from_ms, end);
    r.busy = seconds.state();
  }
  if (c.busy_ms) m.busy_ms = std::max(m.busy_ms, *c.busy_ms);
  if (r.owner.kind == b::RunKind::kInstance && r.mode == b::ServiceMode::kRequest)
    m.busy_ms = std::max(m.busy_ms, r.busy.busy_ms);
  r.billable = c.billable;
  r.end_estimated = c.end_at_last_checkpoint;
  r.end_reason = c.reason;
  r.end_ms = end;
  r.bill = b::compute_bill(r, end);

  Statement& up = *SVC_TRY(tx.cached(
      "UPDATE usage_records SET end_ms = ?2, cpu_ms = ?3, memory_peak_bytes = ?4, requests = ?5, "
      "busy_ms = ?6, busy_counted = ?7, busy_last_bucket = ?8, busy_since_ms = NULL, "
      "busy_closed_ms = ?9, billable = ?10, end_estimated = ?11, end_reason = ?12, run_ms = ?13, "
      "billed_seconds = ?14, vcpu_milli_seconds = ?15, memory_mib_seconds = ?16, "
      "cpu_cost_nanos = ?17, memory_cost_nanos = ?18, request_cost_nanos = ?19, cost_nanos = ?20, "
      "start_ms = ?21, day = ?22 WHERE id = ?1 AND end_ms IS NULL"));
  up.bind(1, id).bind(2, end).bind(3, m.cpu_ms).bind(4, i64(m.memory_peak_bytes));
  up.bind(5, i64(m.requests)).bind(6, m.busy_ms).bind(7, r.busy.counted);
  up.bind(8, r.busy.last_bucket).bind(9, r.busy.busy_ms).bind(10, r.billable ? 1 : 0);
  up.bind(11, r.end_estimated ? 1 : 0).bind(12, r.end_reason).bind(13, r.bill.run_ms);
  up.bind(14, r.bill.billed_seconds).bind(15, r.bill.vcpu_milli_seconds);
  up.bind(16, r.bill.memory_mib_seconds).bind(17, r.bill.cpu_cost).bind(18, r.bill.memory_cost);
  up.bind(19, r.bill.request_cost).bind(20, r.bill.cost).bind(21, r.start_ms);
  up.bind(22, b::day_of(r.start_ms));
  SVC_TRY_CTX(up.run(), "close usage record {}", id);
  if (tx.changes() != 1) return false;
  SVC_TRY_CTX(add_to_rollups(tx, r), "add usage record {} to the rollups", id);
  return true;
}

Result<> SqlUsageStore::insert_closed_in(Store::Tx& tx, b::UsageRecord r) {
  if (r.open()) return fail(Code::kInvalidArgument, "usage record {} is not closed", r.id);
  r.bill = b::compute_bill(r, *r.end_ms);
  Statement& st = *SVC_TRY(tx.cached(insert_sql()));
  bind_record(st, r);
  st.bind(kColumnCount + 1, b::day_of(r.start_ms));
  SVC_TRY_CTX(st.run(), "insert usage record {}", r.id);
  if (tx.changes() != 1) return fail(Code::kAlreadyExists, "usage record {} exists already", r.id);
  return add_to_rollups(tx, r);
}

Result<bool> SqlUsageStore::open(const b::UsageRecord& record) {
  auto tx = SVC_TRY(store_.begin());
  bool opened = SVC_TRY(open_in(tx, record));
  SVC_TRY(tx.commit());
  return opened;
}

Result<bool> SqlUsageStore::close(const std::string& id, const UsageClose& close) {
  auto tx = SVC_TRY(store_.begin());
  bool closed = SVC_TRY(close_in(tx, id, close));
  SVC_TRY(tx.commit());
  return closed;
}

Result<> SqlUsageStore::checkpoint(const std::vector<UsageCheckpoint>& checkpoints) {
  if (checkpoints.empty()) return {};
  auto tx = SVC_TRY(store_.begin());
  Statement& st = *SVC_TRY(tx.cached(
      "UPDATE usage_records SET checkpoint_ms = max(checkpoint_ms, ?2), cpu_ms = max(cpu_ms, ?3), "
      "memory_peak_bytes = max(memory_peak_bytes, ?4), memory_avg_bytes = ?5, "
      "memory_sampled_ms = ?6, requests = max(requests, ?7), busy_ms = max(busy_ms, ?8), "
      "busy_counted = coalesce(?9, busy_counted), busy_last_bucket = coalesce(?10, "
      "busy_last_bucket), busy_since_ms = CASE WHEN ?9 IS NULL THEN busy_since_ms ELSE ?11 END, "
      "busy_closed_ms = coalesce(?12, busy_closed_ms) WHERE id = ?1 AND end_ms IS NULL"));
  for (const auto& c : checkpoints) {
    SVC_TRY(st.reset());
    const b::Measured& m = c.measured;
    st.bind(1, c.id).bind(2, c.at_ms).bind(3, m.cpu_ms).bind(4, i64(m.memory_peak_bytes));
    st.bind(5, i64(m.memory_avg_bytes)).bind(6, m.memory_sampled_ms).bind(7, i64(m.requests));
    st.bind(8, m.busy_ms);
    if (c.busy) {
      st.bind(9, c.busy->counted).bind(10, c.busy->last_bucket).bind(12, c.busy->busy_ms);
      if (c.busy->busy_since_ms)
        st.bind(11, *c.busy->busy_since_ms);
      else
        st.bind_null(11);
    } else {
      st.bind_null(9).bind_null(10).bind_null(11).bind_null(12);
    }
    SVC_TRY_CTX(st.run(), "checkpoint usage record {}", c.id);
  }
  return tx.commit();
}

// ---- reads ----------------------------------------------------------------------------------

Result<std::optional<b::UsageRecord>> SqlUsageStore::get(const std::string& id) {
  return store_.read([&](Store& s) -> Result<std::optional<b::UsageRecord>> {
    auto st =
        SVC_TRY(s.prepare(fmt::format("SELECT {} FROM usage_records WHERE id = ?", kColumns)));
    st.bind(1, id);
    return get_in(st);
  });
}

namespace {

Result<std::vector<b::UsageRecord>> open_records_locked(Store& s) {
  auto st = SVC_TRY(s.prepare(fmt::format(
      "SELECT {} FROM usage_records WHERE end_ms IS NULL ORDER BY start_ms, id", kColumns)));
  std::vector<b::UsageRecord> out;
  while (SVC_TRY(st.step())) out.push_back(SVC_TRY(read_record(st)));
  return out;
}

}  // namespace

Result<std::vector<b::UsageRecord>> SqlUsageStore::open_records() {
  return store_.read([&](Store& s) { return open_records_locked(s); });
}

Result<std::pair<std::vector<b::UsageRecord>, std::string>> SqlUsageStore::list(
    const UsageRecordFilter& f) {
  if (f.page_size < 1 || f.page_size > 10'000)
    return fail(Code::kInvalidArgument, "pageSize: {} is not between 1 and 10000", f.page_size);
  std::int64_t after_start = std::numeric_limits<std::int64_t>::min();
  std::string after_id;
  if (!f.page_token.empty()) {
    auto colon = f.page_token.find(':');
    bool ok = f.page_token.starts_with("r") && colon != std::string::npos && colon > 1;
    if (ok) {
      try {
        after_start = std::stoll(f.page_token.substr(1, colon - 1));
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok)
      return fail(Code::kInvalidArgument, "pageToken: \"{}\" is not from a previous page",
                  f.page_token);
    after_id = f.page_token.substr(colon + 1);
  }
  std::string where = "(start_ms > ?1 OR (start_ms = ?1 AND id > ?2))";
  if (f.kind) where += fmt::format(" AND kind = {}", static_cast<int>(*f.kind));
  if (!f.task.empty()) where += " AND kind = 1 AND (task_id = ?3 OR name = ?3)";
  if (!f.service.empty()) where += " AND service = ?4";
  if (!f.revision.empty()) where += " AND revision = ?5";
  if (!f.instance.empty()) where += " AND instance = ?6";
  if (f.open_only) where += " AND end_ms IS NULL";
  if (f.since_ms) where += " AND start_ms >= ?7";
  if (f.until_ms) where += " AND start_ms < ?8";
  return store_.read([&](Store& s) -> Result<std::pair<std::vector<b::UsageRecord>, std::string>> {
    auto st = SVC_TRY(s.prepare(fmt::format(
        "SELECT {} FROM usage_records WHERE {} ORDER BY start_ms, id LIMIT ?9", kColumns, where)));
    st.bind(1, after_start).bind(2, after_id).bind(3, f.task).bind(4, f.service);
    st.bind(5, f.revision).bind(6, f.instance).bind(7, f.since_ms.value_or(0));
    st.bind(8, f.until_ms.value_or(0)).bind(9, f.page_size + 1);
    std::vector<b::UsageRecord> out;
    while (SVC_TRY(st.step())) out.push_back(SVC_TRY(read_record(st)));
    std::string next;
    if (out.size() > static_cast<std::size_t>(f.page_size)) {
      out.pop_back();
      next = fmt::format("r{}:{}", out.back().start_ms, out.back().id);
    }
    return std::make_pair(std::move(out), std::move(next));
  });
}

// ---- queries --------------------------------------------------------------------------------

namespace {

// A query's window [since, until), cut into what each source can sum: whole UTC days from
// usage_rollup, whole hours from usage_rollup_hour, and the part of an hour at each edge from
// the records themselves (by the start_ms index: at most an hour's records per edge).
struct Window {
  std::vector<std::pair<std::int64_t, std::int64_t>> days;   // [from, to) day numbers
  std::vector<std::pair<std::int64_t, std::int64_t>> hours;  // [from, to) hour numbers
  std::vector<std::pair<std::int64_t, std::int64_t>> raw;    // [from, to) unix ms
};

Window window_of(const b::UsageQuery& q) {
  Window w;
  constexpr std::int64_t kDay = b::kMsPerDay, kHour = b::kMsPerHour;
  constexpr std::int64_t kLowest = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kHighest = std::numeric_limits<std::int64_t>::max();
  // Whole days inside the window; the unbounded sides take every day there is.
  std::int64_t day_lo = q.since_ms ? b::ceil_div_signed(*q.since_ms, kDay) : kMinDay;
  std::int64_t day_hi = q.until_ms ? b::floor_div(*q.until_ms, kDay) : kMaxDay;
  std::int64_t hour_lo = q.since_ms ? b::ceil_div_signed(*q.since_ms, kHour) : kLowest;
  std::int64_t hour_hi = q.until_ms ? b::floor_div(*q.until_ms, kHour) : kHighest;
  std::int64_t lo = q.since_ms.value_or(kLowest);
  std::int64_t hi = q.until_ms.value_or(kHighest);
  if (hour_lo >= hour_hi) {  // not one whole hour: the records alone
    w.raw.emplace_back(lo, hi);
    return w;
  }
  if (day_lo < day_hi) {
    w.days.emplace_back(day_lo, day_hi);
    if (q.since_ms && hour_lo < day_lo * 24) w.hours.emplace_back(hour_lo, day_lo * 24);
    if (q.until_ms && day_hi * 24 < hour_hi) w.hours.emplace_back(day_hi * 24, hour_hi);
  } else {
    w.hours.emplace_back(hour_lo, hour_hi);
  }
  if (q.since_ms && *q.since_ms < hour_lo * kHour) w.raw.emplace_back(*q.since_ms, hour_lo * kHour);
  if (q.until_ms && hour_hi * kHour < *q.until_ms) w.raw.emplace_back(hour_hi * kHour, *q.until_ms);
  return w;
}

constexpr const char* kSums =
    "sum(runs), sum(run_ms), sum(billed_seconds), sum(vcpu_milli_seconds), "
    "sum(memory_mib_seconds), sum(requests), sum(cpu_ms), sum(cost_nanos)";
constexpr const char* kRollupFigures =
    "runs, run_ms, billed_seconds, vcpu_milli_seconds, memory_mib_seconds, requests, cpu_ms, "
    "cost_nanos";
constexpr const char* kNegatedFigures =
    "-runs AS runs, -run_ms AS run_ms, -billed_seconds AS billed_seconds, "
    "-vcpu_milli_seconds AS vcpu_milli_seconds, -memory_mib_seconds AS memory_mib_seconds, "
    "-requests AS requests, -cpu_ms AS cpu_ms, -cost_nanos AS cost_nanos";
// Named as the rollup's columns: the first part of a UNION names the columns of all.
constexpr const char* kRawFigures =
    "1 AS runs, r.run_ms AS run_ms, r.billed_seconds AS billed_seconds, r.vcpu_milli_seconds AS "
    "vcpu_milli_seconds, r.memory_mib_seconds AS memory_mib_seconds, r.requests AS requests, "
    "r.cpu_ms AS cpu_ms, r.cost_nanos AS cost_nanos";

// SQL with its parameters, bound in order (plain "?" placeholders), so a part that a query
// leaves out takes its parameters with it.
struct Sql {
  std::string text;
  std::vector<std::variant<std::int64_t, std::string>> params;
  void bind_all(Statement& st) const {
    for (std::size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1);
      if (const auto* v = std::get_if<std::int64_t>(&params[i]))
        st.bind(index, *v);
      else
        st.bind(index, std::get<std::string>(params[i]));
    }
  }
};

// The closed runs of the window, as rows of (k, figures...) to be summed.
Sql parts_sql(const Window& w, b::GroupBy by, bool grouped, const std::string& dim,
              const std::string& label_key) {
  std::string rollup_key = !grouped ? "''" : by == b::GroupBy::kDay ? "day" : "key";
  std::string raw_key = "''";
  bool join = false;
  if (grouped) {
    switch (by) {
      case b::GroupBy::kTask:
        raw_key = "CASE WHEN r.kind = 1 THEN r.name ELSE '' END";
        break;
      case b::GroupBy::kService:
        raw_key = "CASE WHEN r.kind = 2 THEN r.service ELSE '' END";
        break;
      case b::GroupBy::kRevision:
        raw_key = "CASE WHEN r.kind = 2 THEN r.revision ELSE '' END";
        break;
      case b::GroupBy::kDay:
        raw_key = "r.day";
        break;
      case b::GroupBy::kLabel:
        raw_key = "coalesce(l.value, '')";
        join = true;
        break;
    }
  }
  Sql out;
  auto part = [&](std::string text) { out.text += (out.text.empty() ? "" : " UNION ALL ") + text; };
  // A rollup table over [from, to) of its period: its rows of this dim, and for a label the
  // runs without it (all runs minus the labelled ones, period by period).
  auto rollup = [&](const char* table, const char* period, const std::string& key,
                    std::int64_t from, std::int64_t to) {
    auto range = [&] {
      out.params.emplace_back(from);
      out.params.emplace_back(to);
    };
    part(fmt::format("SELECT {} AS k, {} FROM {} WHERE dim = ? AND {} >= ? AND {} < ?", key,
                     kRollupFigures, table, period, period));
    out.params.emplace_back(dim);
    range();
    if (grouped && by == b::GroupBy::kLabel) {
      part(fmt::format("SELECT '' AS k, {} FROM {} WHERE dim = 'all' AND {} >= ? AND {} < ?",
                       kRollupFigures, table, period, period));
      range();
      part(fmt::format("SELECT '' AS k, {} FROM {} WHERE dim = ? AND {} >= ? AND {} < ?",
                       kNegatedFigures, table, period, period));
      out.params.emplace_back(dim);
      range();
    }
  };
  for (const auto& [from, to] : w.days) rollup("usage_rollup", "day", rollup_key, from, to);
  // By day, an hour's rows are keyed by the hour's day (SQLite's integer division truncates
  // toward zero, so the floor for hours before 1970 is spelled out).
  std::string hour_key = grouped && by == b::GroupBy::kDay
                             ? "(CASE WHEN hour >= 0 THEN hour / 24 ELSE -((23 - hour) / 24) END)"
                             : rollup_key;
  for (const auto& [from, to] : w.hours) rollup("usage_rollup_hour", "hour", hour_key, from, to);
  for (const auto& [from, to] : w.raw) {
    part(
        fmt::format("SELECT {} AS k, {} FROM usage_records r{} WHERE r.end_ms IS NOT NULL AND "
                    "r.start_ms >= ? AND r.start_ms < ?",
                    raw_key, kRawFigures,
                    join ? " LEFT JOIN usage_labels l ON l.record_id = r.id AND l.key = ?" : ""));
    if (join) out.params.emplace_back(label_key);
    out.params.emplace_back(from);
    out.params.emplace_back(to);
  }
  if (out.text.empty())
    part(fmt::format("SELECT '' AS k, {} FROM usage_rollup WHERE 0", kRollupFigures));
  return out;
}

std::string dim_of(const b::UsageQuery& q) {
  switch (q.by) {
    case b::GroupBy::kTask:
      return "task";
    case b::GroupBy::kService:
      return "service";
    case b::GroupBy::kRevision:
      return "revision";
    case b::GroupBy::kDay:
      return "all";
    case b::GroupBy::kLabel:
      return "label:" + q.label_key;
  }
  return "all";
}

void read_figures(const Statement& st, int first, b::UsageRow& row) {
  row.runs = st.int64(first);
  row.run_ms = st.int64(first + 1);
  row.billed_seconds = st.int64(first + 2);
  row.vcpu_milli_seconds = st.int64(first + 3);
  row.memory_mib_seconds = st.int64(first + 4);
  row.requests = u64(st.int64(first + 5));
  row.cpu_ms = st.int64(first + 6);
  row.cost = st.int64(first + 7);
}

// "2026-01-31" -> its day number; nullopt when it is not a date.
std::optional<std::int64_t> parse_day(std::string_view name) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (name.size() != 10 || name[4] != '-' || name[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  y = std::stoi(std::string(name.substr(0, 4)));
  m = static_cast<unsigned>(std::stoi(std::string(name.substr(5, 2))));
  d = static_cast<unsigned>(std::stoi(std::string(name.substr(8, 2))));
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd).time_since_epoch().count();
}

}  // namespace

Result<b::UsageReport> SqlUsageStore::query(const b::UsageQuery& q,
                                            const std::function<void(b::UsageRecord&)>& live) {
  SVC_TRY(b::validate(q));
  const Window w = window_of(q);
  const std::string dim = dim_of(q);
  const bool first_page = q.page_token.empty();
  const std::string after = first_page ? std::string() : q.page_token.substr(2);
  std::optional<std::int64_t> after_day;
  if (q.by == b::GroupBy::kDay && !first_page) {
    after_day = parse_day(after);
    if (!after_day)
      return fail(Code::kInvalidArgument, "pageToken: \"{}\" is not from a previous page",
                  q.page_token);
  }
  return store_.read([&](Store& s) -> Result<b::UsageReport> {
    b::UsageReport report;
    // The page of closed runs: page_size + 1 keys after the token are enough to merge the open
    // runs in and still know whether another page follows.
    std::vector<b::UsageRow> rows;
    {
      Sql sql = parts_sql(w, q.by, true, dim, q.label_key);
      sql.text = fmt::format(
          "SELECT k, {} FROM ({}) GROUP BY k HAVING sum(runs) != 0 AND (? OR k > ?) "
          "ORDER BY k LIMIT ?",
          kSums, sql.text);
      sql.params.emplace_back(std::int64_t{first_page ? 1 : 0});
      if (after_day)
        sql.params.emplace_back(*after_day);
      else
        sql.params.emplace_back(after);
      sql.params.emplace_back(std::int64_t{q.page_size} + 1);
      auto st = SVC_TRY(s.prepare(sql.text));
      sql.bind_all(st);
      while (SVC_TRY(st.step())) {
        b::UsageRow row;
        row.key = q.by == b::GroupBy::kDay ? b::day_name(st.int64(0)) : st.text(0);
        read_figures(st, 1, row);
        rows.push_back(std::move(row));
      }
    }
    {
      Sql sql = parts_sql(w, q.by, false, "all", q.label_key);
      auto st = SVC_TRY(s.prepare(fmt::format("SELECT {} FROM ({})", kSums, sql.text)));
      sql.bind_all(st);
      if (SVC_TRY(st.step()) && !st.is_null(0)) read_figures(st, 0, report.total);
    }
    // Open runs: billed up to now, folded into the rows and the totals.
    auto open = SVC_TRY(open_records_locked(s));
    if (live)
      for (auto& r : open) live(r);
    b::UsageQuery everything = q;
    everything.page_token.clear();
    everything.page_size = std::numeric_limits<int>::max();
    b::UsageReport so_far = b::aggregate(open, everything);
    report.total.add(so_far.total);
    b::merge_rows(rows, so_far.rows);
    report.rows = b::page_of(std::move(rows), q, &report.next_page_token);
    return report;
  });
}

Result<UsageTotals> SqlUsageStore::totals() {
  return store_.read([&](Store& s) -> Result<UsageTotals> {
    UsageTotals t;
    // In the "service" grouping tasks are the rows keyed "" (an instance always has a service).
    auto st = SVC_TRY(s.prepare(fmt::format(
        "SELECT key = '', {} FROM usage_rollup WHERE dim = 'service' GROUP BY key = ''", kSums)));
    while (SVC_TRY(st.step())) read_figures(st, 1, st.int64(0) ? t.tasks : t.instances);
    auto open = SVC_TRY(
        s.prepare("SELECT kind, count(*) FROM usage_records WHERE end_ms IS NULL GROUP BY kind"));
    while (SVC_TRY(open.step()))
      (open.int64(0) == static_cast<int>(b::RunKind::kTask) ? t.open_tasks : t.open_instances) =
          open.int64(1);
    return t;
  });
}

}  // namespace svc::daemon
