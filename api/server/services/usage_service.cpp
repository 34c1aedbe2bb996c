#include "api/server/services/usage_service.hpp"

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"

#include "svc/v1/usage.pb.h"

namespace svc::api {

namespace {

// value / 10^scale, exact, trailing zeros trimmed to min_decimals.
std::string scaled(__int128 value, int scale, int min_decimals) {
  bool negative = value < 0;
  unsigned __int128 mag =
      negative ? static_cast<unsigned __int128>(-value) : static_cast<unsigned __int128>(value);
  unsigned __int128 pow = 1;
  for (int i = 0; i < scale; ++i) pow *= 10;
  auto digits_of = [](unsigned __int128 v) {
    std::string s;
    do {
      s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
      v /= 10;
    } while (v);
    return s;
  };
  std::string whole = digits_of(mag / pow);
  std::string frac = digits_of(mag % pow);
  if (scale > 0)
    frac.insert(frac.begin(), static_cast<std::size_t>(scale) - frac.size(), '0');
  else
    frac.clear();
  while (static_cast<int>(frac.size()) > min_decimals && frac.back() == '0') frac.pop_back();
  std::string out = negative ? "-" + whole : whole;
  if (!frac.empty()) out += "." + frac;
  return out;
}

}  // namespace

std::string milli_decimal(std::int64_t millis) { return scaled(millis, 3, 0); }

std::string mib_to_gib_decimal(std::int64_t mib_seconds) {
  // 1 MiB = 1/1024 GiB = 0.0009765625 GiB: ten decimals make every MiB-second exact.
  return scaled(static_cast<__int128>(mib_seconds) * 9'765'625, 10, 0);
}

std::string nanos_decimal(std::int64_t nanos) { return scaled(nanos, 9, 2); }

namespace {

using google::protobuf::util::TimeUtil;

void to_proto(const UsageSums& s, v1::UsageRow* p) {
  p->set_name(s.name);
  p->set_runs(s.runs);
  p->set_open_runs(s.open_runs);
  p->set_run_seconds(milli_decimal(s.run_ms));
  p->set_run_ms(s.run_ms);
  p->set_billed_seconds(s.billed_seconds);
  p->set_vcpu_seconds(milli_decimal(s.vcpu_milli_seconds));
  p->set_vcpu_milli_seconds(s.vcpu_milli_seconds);
  p->set_gib_seconds(mib_to_gib_decimal(s.memory_mib_seconds));
  p->set_memory_mib_seconds(s.memory_mib_seconds);
  p->set_requests(static_cast<std::int64_t>(s.requests));
  p->set_cpu_seconds(milli_decimal(s.cpu_ms));
  p->set_cpu_ms(s.cpu_ms);
  p->set_cost(nanos_decimal(s.cost_nanos));
  p->set_cost_nanos(s.cost_nanos);
}

void to_proto(const UsagePricing& s, v1::Pricing* p) {
  p->set_currency(s.currency);
  p->set_vcpu_second(nanos_decimal(s.vcpu_second_nanos));
  p->set_gib_second(nanos_decimal(s.gib_second_nanos));
  p->set_million_requests(nanos_decimal(s.million_requests_nanos));
  p->set_vcpu_second_nanos(s.vcpu_second_nanos);
  p->set_gib_second_nanos(s.gib_second_nanos);
  p->set_million_requests_nanos(s.million_requests_nanos);
  p->set_billed_resources(s.billed_resources);
  *p->mutable_task_minimum() = to_duration(s.task_minimum);
  p->set_service_mode(s.service_mode);
}

void to_proto(const UsageRun& r, v1::UsageRecord* p) {
  p->set_id(r.id);
  p->set_kind(r.instance ? v1::UsageRecord::INSTANCE : v1::UsageRecord::TASK);
  p->set_task_id(r.task_id);
  p->set_task_name(r.task_name);
  p->set_service(r.service);
  p->set_revision(r.revision);
  p->set_instance(r.instance_id);
  p->set_schedule(r.schedule);
  p->set_trigger(r.trigger);
  for (const auto& [k, v] : r.labels) (*p->mutable_labels())[k] = v;
  *p->mutable_start() = to_timestamp(r.start);
  if (r.end) *p->mutable_end() = to_timestamp(*r.end);
  p->set_open(!r.end);
  p->set_end_estimated(r.end_estimated);
  p->set_end_reason(r.end_reason);
  *p->mutable_checkpoint() = to_timestamp(r.checkpoint);
  p->set_cpu_request_millis(r.cpu_request_millis);
  p->set_cpu_limit_millis(r.cpu_limit_millis);
  p->set_memory_request_bytes(r.memory_request_bytes);
  p->set_memory_limit_bytes(r.memory_limit_bytes);
  p->set_billed_resources(r.billed_resources);
  p->set_mode(r.mode);
  p->set_cpu_seconds(milli_decimal(r.cpu_ms));
  p->set_memory_peak_bytes(r.memory_peak_bytes);
  p->set_memory_average_bytes(r.memory_average_bytes);
  p->set_memory_sampled_ms(r.memory_sampled_ms);
  p->set_requests(static_cast<std::int64_t>(r.requests));
  p->set_busy_ms(r.busy_ms);
  p->set_billable(r.billable);
  p->set_run_seconds(milli_decimal(r.run_ms));
  p->set_billed_seconds(r.billed_seconds);
  p->set_billed_vcpu_millis(r.billed_vcpu_millis);
  p->set_billed_memory_mib(r.billed_memory_mib);
  p->set_vcpu_seconds(milli_decimal(r.vcpu_milli_seconds));
  p->set_gib_seconds(mib_to_gib_decimal(r.memory_mib_seconds));
  p->set_cost(nanos_decimal(r.cost_nanos));
  p->set_cost_nanos(r.cost_nanos);
  p->set_currency(r.currency);
  p->set_price_vcpu_second(nanos_decimal(r.price_vcpu_second_nanos));
  p->set_price_gib_second(nanos_decimal(r.price_gib_second_nanos));
  p->set_price_million_requests(nanos_decimal(r.price_million_requests_nanos));
  p->set_minimum_seconds((r.minimum_ms + 999) / 1000);
}

Result<std::optional<UsageTime>> time_of(bool set, const google::protobuf::Timestamp& t,
                                         std::string_view field) {
  if (!set) return std::optional<UsageTime>{};
  // The range of RFC 3339 (years 1-9999), as protobuf's Timestamp defines it.
  if (t.seconds() < -62'135'596'800 || t.seconds() > 253'402'300'799 || t.nanos() < 0 ||
      t.nanos() > 999'999'999)
    return fail(Code::kInvalidArgument, "{}: not a valid time", field);
  return std::optional<UsageTime>(from_timestamp(t));
}

}  // namespace

void register_usage_service(Dispatcher& d, UsageBackend& backend) {
  d.unary<v1::UsageQueryRequest, v1::UsageQueryResponse>(
      "svc.v1.Usage/Query",
      [&backend](const v1::UsageQueryRequest& req, v1::UsageQueryResponse& resp,
                 CallContext&) -> Result<> {
        UsageSummaryQuery q;
        switch (req.group_by()) {
          case v1::UsageQueryRequest::GROUP_BY_UNSPECIFIED:
          case v1::UsageQueryRequest::TASK:
            q.by = UsageGroupBy::kTask;
            break;
          case v1::UsageQueryRequest::SERVICE:
            q.by = UsageGroupBy::kService;
            break;
          case v1::UsageQueryRequest::REVISION:
            q.by = UsageGroupBy::kRevision;
            break;
          case v1::UsageQueryRequest::DAY:
            q.by = UsageGroupBy::kDay;
            break;
          case v1::UsageQueryRequest::LABEL:
            q.by = UsageGroupBy::kLabel;
            break;
          default:
            return fail(Code::kInvalidArgument,
                        "groupBy: {} is not TASK, SERVICE, REVISION, DAY or LABEL",
                        static_cast<int>(req.group_by()));
        }
        q.label_key = req.label_key();
        q.since = SVC_TRY(time_of(req.has_since(), req.since(), "since"));
        q.until = SVC_TRY(time_of(req.has_until(), req.until(), "until"));
        q.page_size = req.page_size() == 0 ? 100 : req.page_size();
        q.page_token = req.page_token();
        UsageSummary s = SVC_TRY(backend.summary(q));
        for (const auto& row : s.rows) to_proto(row, resp.add_rows());
        to_proto(s.total, resp.mutable_total());
        resp.set_next_page_token(s.next_page_token);
        to_proto(backend.pricing(), resp.mutable_pricing());
        *resp.mutable_until() = to_timestamp(s.until);
        return {};
      });
  d.unary<v1::UsageRecordsRequest, v1::UsageRecordsResponse>(
      "svc.v1.Usage/Records",
      [&backend](const v1::UsageRecordsRequest& req, v1::UsageRecordsResponse& resp,
                 CallContext&) -> Result<> {
        UsageRunsQuery q;
        q.task = req.task();
        q.service = req.service();
        q.revision = req.revision();
        q.instance = req.instance();
        q.open_only = req.open_only();
        q.since = SVC_TRY(time_of(req.has_since(), req.since(), "since"));
        q.until = SVC_TRY(time_of(req.has_until(), req.until(), "until"));
        q.page_size = req.page_size() == 0 ? 100 : req.page_size();
        q.page_token = req.page_token();
        auto [runs, next] = SVC_TRY(backend.runs(q));
        for (const auto& r : runs) to_proto(r, resp.add_records());
        resp.set_next_page_token(next);
        return {};
      });
}

}  // namespace svc::api
