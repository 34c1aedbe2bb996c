#include "api/server/services/service_service.hpp"

#include <algorithm>

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"
#include "api/server/services/task_spec_proto.hpp"
#include "api/server/services/utf8.hpp"

#include "svc/v1/services.pb.h"

namespace svc::api {

namespace {

using google::protobuf::util::TimeUtil;
namespace svs = svc::services;
using Millis = std::chrono::milliseconds;

// A duration field: unset or 0 = the default (0 here); negative or absurd values refused.
// zero_ok: an explicit 0 means something (else it is refused as the user's typo).
Result<Millis> duration(bool has, const google::protobuf::Duration& d, std::string_view field,
                        bool zero_ok = false) {
  if (!has) return Millis(0);
  if (d.seconds() < 0 || d.nanos() < 0)
    return fail(Code::kInvalidArgument, "{}: must not be negative", field);
  if (d.seconds() > 10LL * 365 * 86400) return fail(Code::kInvalidArgument, "{}: too long", field);
  Millis ms(TimeUtil::DurationToMilliseconds(d));
  if (ms.count() == 0 && !zero_ok)
    return fail(Code::kInvalidArgument,
                "{}: 0 is not a valid value (leave it unset for the default)", field);
  return ms;
}

Result<svs::ServiceSpec> from_proto(const v1::ServiceSpec& p) {
  svs::ServiceSpec s;
  s.name = p.name();
  s.image = p.image();
  if (p.port() < 0 || p.port() > 65535)
    return fail(Code::kInvalidArgument, "port {}: a TCP port is 1 to 65535 (default 8080)",
                p.port());
  s.port = static_cast<std::uint16_t>(p.port());
  s.entrypoint.assign(p.entrypoint().begin(), p.entrypoint().end());
  s.reset_entrypoint = p.reset_entrypoint();
  s.args.assign(p.args().begin(), p.args().end());
  for (const auto& [k, v] : p.env()) s.env.emplace_back(k, v);
  std::sort(s.env.begin(), s.env.end());
  for (const auto& [k, v] : p.labels()) s.labels[k] = v;
  s.workdir = p.workdir();
  s.user = p.user();
  if (p.resources().cpu_millis() < 0)
    return fail(Code::kInvalidArgument, "spec.resources.cpuMillis: must not be negative");
  if (p.resources().memory_bytes() < 0)
    return fail(Code::kInvalidArgument, "spec.resources.memoryBytes: must not be negative");
  s.cpu_millis = p.resources().cpu_millis();
  s.memory_bytes = static_cast<std::uint64_t>(p.resources().memory_bytes());
  s.pids = p.resources().pids();
  s.network = SVC_TRY(network_from_proto(p.network()));
  if (p.concurrency() < 0)
    return fail(Code::kInvalidArgument, "concurrency {}: must be at least 1", p.concurrency());
  s.scaling.concurrency = p.concurrency();
  s.scaling.min_instances = p.min_instances();
  s.scaling.max_instances = p.max_instances();
  s.scaling.idle_timeout =
      SVC_TRY(duration(p.has_idle_timeout(), p.idle_timeout(), "idle timeout"));
  const v1::Scaling& k = p.scaling();
  if (k.target_utilization_percent() < 0)
    return fail(Code::kInvalidArgument, "target utilization {}%: must be 1 to 100",
                k.target_utilization_percent());
  s.scaling.target_utilization_percent = k.target_utilization_percent();
  s.scaling.stable_window =
      SVC_TRY(duration(k.has_stable_window(), k.stable_window(), "stable window"));
  s.scaling.panic_window =
      SVC_TRY(duration(k.has_panic_window(), k.panic_window(), "panic window"));
  if (k.panic_threshold_percent() < 0)
    return fail(Code::kInvalidArgument, "panic threshold {}%: must be 110 to 1000",
                k.panic_threshold_percent());
  s.scaling.panic_threshold_percent = k.panic_threshold_percent();
  s.request_timeout =
      SVC_TRY(duration(p.has_request_timeout(), p.request_timeout(), "request timeout"));
  s.readiness_path = p.readiness().http_path();
  s.readiness_timeout =
      SVC_TRY(duration(p.readiness().has_timeout(), p.readiness().timeout(), "readiness timeout"));
  s.stop_grace = SVC_TRY(
      duration(p.has_stop_grace_period(), p.stop_grace_period(), "spec.stopGracePeriod", true));
  if (p.has_stop_grace_period() && s.stop_grace.count() == 0) s.stop_grace = Millis(1);
  s.stop_signal = p.stop_signal();
  if (p.queue_limit() < 0)
    return fail(Code::kInvalidArgument, "queue limit {}: must not be negative", p.queue_limit());
  s.queue_limit = static_cast<std::size_t>(p.queue_limit());
  s.billing = p.billing();
  return s;
}

void to_proto(const svs::ServiceSpec& s, v1::ServiceSpec* p) {
  p->set_name(s.name);
  p->set_image(s.image);
  p->set_port(s.port);
  for (const auto& a : s.entrypoint) p->add_entrypoint(a);
  p->set_reset_entrypoint(s.reset_entrypoint);
  for (const auto& a : s.args) p->add_args(a);
  // Values are secrets as far as svc knows: answers carry the names only.
  for (const auto& [k, v] : s.env) (*p->mutable_env())[k] = "";
  for (const auto& [k, v] : s.labels) (*p->mutable_labels())[k] = v;
  p->set_workdir(s.workdir);
  p->set_user(s.user);
  p->mutable_resources()->set_cpu_millis(s.cpu_millis);
  p->mutable_resources()->set_memory_bytes(static_cast<std::int64_t>(s.memory_bytes));
  p->mutable_resources()->set_pids(s.pids);
  p->set_network(network_to_proto(s.network));
  p->set_concurrency(s.scaling.concurrency);
  p->set_min_instances(s.scaling.min_instances);
  p->set_max_instances(s.scaling.max_instances);
  *p->mutable_idle_timeout() = to_duration(s.scaling.idle_timeout);
  auto* k = p->mutable_scaling();
  k->set_target_utilization_percent(s.scaling.target_utilization_percent);
  *k->mutable_stable_window() = to_duration(s.scaling.stable_window);
  *k->mutable_panic_window() = to_duration(s.scaling.panic_window);
  k->set_panic_threshold_percent(s.scaling.panic_threshold_percent);
  *p->mutable_request_timeout() = to_duration(s.request_timeout);
  p->mutable_readiness()->set_http_path(s.readiness_path);
  *p->mutable_readiness()->mutable_timeout() = to_duration(s.readiness_timeout);
  *p->mutable_stop_grace_period() = to_duration(s.stop_grace);
  p->set_stop_signal(s.stop_signal);
  p->set_queue_limit(static_cast<std::int32_t>(s.queue_limit));
  p->set_billing(s.billing);
}

v1::Instance::State to_proto(svs::InstanceState s) {
  switch (s) {
    case svs::InstanceState::kStarting:
      return v1::Instance::STARTING;
    case svs::InstanceState::kReady:
      return v1::Instance::READY;
    case svs::InstanceState::kDraining:
      return v1::Instance::DRAINING;
    case svs::InstanceState::kPaused:
      return v1::Instance::PAUSED;
    case svs::InstanceState::kStopped:
      return v1::Instance::STOPPED;
  }
  return v1::Instance::STATE_UNSPECIFIED;
}

int revision_number(std::string_view revision) {
  auto dash = revision.rfind('-');
  if (dash == std::string_view::npos) return 0;
  int n = 0;
  for (char c : revision.substr(dash + 1)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

void to_proto(const svs::Instance& i, v1::Instance* p) {
  p->set_id(i.id);
  p->set_service(i.service);
  p->set_revision_name(i.revision);
  p->set_revision(revision_number(i.revision));
  p->set_state(to_proto(i.state));
  p->set_in_flight(i.in_flight);
  p->set_requests_total(static_cast<std::int64_t>(i.requests_total));
  p->set_pid(i.pid);
  *p->mutable_started_at() = to_timestamp(i.created_at);
  if (i.ready_at) *p->mutable_ready_at() = to_timestamp(*i.ready_at);
  if (i.draining_at) *p->mutable_draining_at() = to_timestamp(*i.draining_at);
  p->set_stop_reason(i.stop_reason);
  p->set_stop_message(i.stop_message);
  p->set_adopted(i.adopted);
}

void to_proto(const svs::Histogram& h, v1::LatencySummary* p) {
  p->set_count(static_cast<std::int64_t>(h.count()));
  p->set_mean_ms(h.count() ? h.sum_ms() / static_cast<double>(h.count()) : 0);
  p->set_p50_ms(h.quantile(0.5));
  p->set_p90_ms(h.quantile(0.9));
  p->set_p99_ms(h.quantile(0.99));
}

void to_proto(const svs::ServiceStats& st, v1::ServiceStats* p) {
  p->set_requests_total(static_cast<std::int64_t>(st.requests_total));
  static constexpr const char* kClasses[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (std::size_t i = 0; i < st.by_class.size(); ++i)
    if (st.by_class[i])
      (*p->mutable_requests_by_class())[kClasses[i]] = static_cast<std::int64_t>(st.by_class[i]);
  to_proto(st.latency, p->mutable_latency());
  auto* c = p->mutable_cold_starts();
  c->set_count(static_cast<std::int64_t>(st.cold_starts));
  to_proto(st.cold_start_phases.total, c->mutable_total());
  to_proto(st.cold_start_phases.queue, c->mutable_queue());
  to_proto(st.cold_start_phases.sandbox, c->mutable_sandbox());
  to_proto(st.cold_start_phases.readiness, c->mutable_readiness());
  to_proto(st.cold_start_phases.first_byte, c->mutable_first_byte());
  if (st.last_cold_start) {
    const auto& l = *st.last_cold_start;
    *c->mutable_last_at() = to_timestamp(l.time);
    c->set_last_instance(l.instance);
    *c->mutable_last_total() = to_duration(l.total);
    *c->mutable_last_queue() = to_duration(l.phases.queue);
    *c->mutable_last_sandbox() = to_duration(l.phases.sandbox);
    *c->mutable_last_readiness() = to_duration(l.phases.readiness);
    *c->mutable_last_first_byte() = to_duration(l.phases.first_byte);
  }
}

void to_proto(const svs::ServiceStatus& s, const std::string& url, v1::Service* p) {
  p->set_name(s.service.name);
  to_proto(s.service.spec, p->mutable_spec());
  p->set_revision(s.service.latest_revision);
  p->set_latest_revision(svs::revision_name(s.service.name, s.service.latest_revision));
  p->set_serving_revision(s.service.serving_revision);
  p->set_url(url);
  *p->mutable_created_at() = to_timestamp(s.service.created_at);
  *p->mutable_updated_at() = to_timestamp(s.service.updated_at);
  int desired = 0;
  for (const auto& r : s.revisions) {
    auto* pr = p->add_revisions();
    pr->set_name(r.revision.name);
    pr->set_service(r.revision.service);
    pr->set_number(r.revision.number);
    to_proto(r.revision.spec, pr->mutable_spec());
    pr->set_image_digest(r.revision.image_digest);
    *pr->mutable_created_at() = to_timestamp(r.revision.created_at);
    pr->set_traffic_percent(r.traffic_percent);
    pr->set_desired_instances(r.desired);
    pr->set_ready_instances(r.ready);
    pr->set_starting_instances(r.starting);
    pr->set_draining_instances(r.draining);
    pr->set_panicking(r.panicking);
    pr->set_stable_concurrency(r.stable_concurrency);
    pr->set_panic_concurrency(r.panic_concurrency);
    pr->set_retired(r.retired);
    desired += r.desired;
    if (r.revision.name == s.service.serving_revision) p->set_image_digest(r.revision.image_digest);
  }
  p->set_desired_instances(desired);
  for (const auto& i : s.instances) to_proto(i, p->add_instances());
  for (const auto& c : s.conditions) {
    auto* pc = p->add_conditions();
    pc->set_type(c.type);
    pc->set_status(c.status);
    pc->set_reason(c.reason);
    pc->set_message(c.message);
    *pc->mutable_last_transition() = to_timestamp(c.last_transition);
  }
  to_proto(s.stats, p->mutable_stats());
}

Result<> need_name(const std::string& name) {
  if (name.empty()) return fail(Code::kInvalidArgument, "name: name the service");
  return {};
}

}  // namespace

void register_service_service(Dispatcher& d, ServiceBackend& backend) {
  d.unary<v1::DeployServiceRequest, v1::Service>(
      "svc.v1.Services/Deploy",
      [&backend](const v1::DeployServiceRequest& req, v1::Service& out, CallContext&) -> Result<> {
        if (!req.has_spec())
          return fail(Code::kInvalidArgument,
                      "spec: missing (give at least spec.name and spec.image)");
        auto spec = SVC_TRY(from_proto(req.spec()));
        auto result = SVC_TRY(backend.deploy(std::move(spec)));
        to_proto(result.status, backend.url(result.status.service.name), &out);
        switch (result.outcome) {
          case svs::DeployOutcome::kCreated:
            out.set_deploy_outcome(v1::Service::CREATED);
            break;
          case svs::DeployOutcome::kUpdated:
            out.set_deploy_outcome(v1::Service::UPDATED);
            break;
          case svs::DeployOutcome::kUnchanged:
            out.set_deploy_outcome(v1::Service::UNCHANGED);
            break;
        }
        return {};
      });
  d.unary<v1::GetServiceRequest, v1::Service>(
      "svc.v1.Services/Get",
      [&backend](const v1::GetServiceRequest& req, v1::Service& out, CallContext&) -> Result<> {
        SVC_TRY(need_name(req.name()));
        auto s = SVC_TRY(backend.get(req.name()));
        to_proto(s, backend.url(s.service.name), &out);
        return {};
      });
  d.unary<v1::ListServicesRequest, v1::ListServicesResponse>(
      "svc.v1.Services/List",
      [&backend](const v1::ListServicesRequest&, v1::ListServicesResponse& out,
                 CallContext&) -> Result<> {
        auto all = SVC_TRY(backend.list());
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a.service.name < b.service.name; });
        for (const auto& s : all) to_proto(s, backend.url(s.service.name), out.add_services());
        return {};
      });
  d.unary<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      "svc.v1.Services/Delete",
      [&backend](const v1::DeleteServiceRequest& req, v1::DeleteServiceResponse&,
                 CallContext&) -> Result<> {
        SVC_TRY(need_name(req.name()));
        return backend.remove(req.name());
      });
  d.unary<v1::ListInstancesRequest, v1::ListInstancesResponse>(
      "svc.v1.Services/ListInstances",
      [&backend](const v1::ListInstancesRequest& req, v1::ListInstancesResponse& out,
                 CallContext&) -> Result<> {
        SVC_TRY(need_name(req.name()));
        auto s = SVC_TRY(backend.get(req.name()));
        for (const auto& i : s.instances) to_proto(i, out.add_instances());
        return {};
      });
  d.server_stream<v1::ServiceLogsRequest, v1::ServiceLogEntry>(
      "svc.v1.Services/Logs",
      [&backend](const v1::ServiceLogsRequest& req, TypedSink<v1::ServiceLogEntry>& sink,
                 CallContext& ctx) -> Result<> {
        SVC_TRY(need_name(req.name()));
        if (req.tail() < 0) return fail(Code::kInvalidArgument, "tail: must not be negative");
        SVC_TRY(backend.get(req.name()));  // NOT_FOUND before the stream starts
        ServiceLogQuery q;
        q.follow = req.follow();
        q.tail = req.tail();
        q.requests = !req.no_requests();
        if (req.has_since()) q.since = from_timestamp(req.since());
        auto emit = [&](const ServiceLogLine& line) {
          v1::ServiceLogEntry e;
          *e.mutable_time() = to_timestamp(line.time);
          e.set_instance(line.instance);
          e.set_text(valid_utf8(line.text));
          e.set_partial(line.partial);
          switch (line.kind) {
            case ServiceLogLine::Kind::kStdout:
              e.set_kind(v1::ServiceLogEntry::STDOUT);
              break;
            case ServiceLogLine::Kind::kStderr:
              e.set_kind(v1::ServiceLogEntry::STDERR);
              break;
            case ServiceLogLine::Kind::kRequest:
              e.set_kind(v1::ServiceLogEntry::REQUEST);
              break;
          }
          if (line.request) {
            const auto& r = *line.request;
            auto* pr = e.mutable_request();
            pr->set_method(valid_utf8(r.method));
            pr->set_path(valid_utf8(r.path));
            pr->set_status(r.status);
            *pr->mutable_latency() = to_duration(r.duration);
            pr->set_revision(r.revision);
            pr->set_instance(r.instance);
            pr->set_request_bytes(static_cast<std::int64_t>(r.request_bytes));
            pr->set_response_bytes(static_cast<std::int64_t>(r.response_bytes));
            pr->set_client(r.client);
            pr->set_cold_start(r.cold_start.has_value());
          }
          return sink.write(e);
        };
        return backend.logs(req.name(), q, emit, ctx.cancelled);
      });
}

}  // namespace svc::api
