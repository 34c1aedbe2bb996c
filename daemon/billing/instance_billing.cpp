#include "daemon/billing/instance_billing.hpp"

#include <spdlog/spdlog.h>

namespace svc::billing {

namespace svs = svc::services;

InstanceRun InstanceBilling::run_of(const svs::Instance& i) {
  InstanceRun run;
  run.instance_id = i.id;
  run.service = i.service;
  run.revision = i.revision;
  run.labels = i.labels;
  run.cpu_request_millis = i.resources.cpu_request_millis;
  run.cpu_limit_millis = i.resources.cpu_limit_millis;
  run.memory_request_bytes = i.resources.memory_request_bytes;
  run.memory_limit_bytes = i.resources.memory_limit_bytes;
  run.started_at = i.started_at.value_or(i.created_at);
  // The service's choice (validated when it was deployed); unset: [billing] service_mode.
  if (auto mode = parse_mode(i.billing); !i.billing.empty() && mode) run.mode = *mode;
  return run;
}

InstanceExit InstanceBilling::exit_of(const svs::Instance& i) {
  InstanceExit e;
  if (i.end) {
    e.at = i.end->at;
    e.cpu_seconds = i.end->cpu_seconds;
    e.memory_peak_bytes = i.end->memory_peak_bytes;
    e.lost = i.end->lost;
    e.started_at = i.end->process_started_at;
  }
  // The controller's reason (ScaledDown, Crashed, ...); one that ended unseen, while svcd was
  // down, has none: its exit record, or that there is none, says how.
  e.reason = i.stop_reason;
  if (e.reason.empty()) e.reason = e.lost ? std::string(svs::reason::kLost) : "Exited";
  return e;
}

Result<> InstanceBilling::on_instance_written(daemon::Store::Tx& tx, const svs::Instance& i) {
  // Opened once its sandbox runs (nothing of the user's ran before); a re-adopted instance's
  // record is open already and carries on (adopt_open). Later writes of a live instance find
  // the record open: the first one stands.
  if (!i.started_at || i.adopted || i.state == svs::InstanceState::kStopped) return {};
  return recorder_.on_started(tx, run_of(i));
}

Result<> InstanceBilling::on_instance_ended(daemon::Store::Tx& tx, const svs::Instance& i) {
  if (!i.end) return {};
  SVC_TRY(recorder_.on_exited(tx, i.id, exit_of(i)));
  // Nothing more to throttle or restore (its cgroup goes with its sandbox).
  if (throttle_) throttle_->remove(i.id);
  return {};
}

Result<int> InstanceBilling::adopt_open(daemon::SqlUsageStore& store,
                                        InstanceUsageRecorder& recorder,
                                        const std::function<void(const UsageRecord&)>& each) {
  int adopted = 0;
  for (const UsageRecord& r : SVC_TRY(store.open_records())) {
    if (r.owner.kind != RunKind::kInstance) continue;
    recorder.adopt(r);
    if (each) each(r);
    ++adopted;
  }
  return adopted;
}

Result<int> InstanceBilling::close_orphans(daemon::SqlUsageStore& store,
                                           const std::function<bool(const std::string&)>& exists) {
  int closed = 0;
  for (const UsageRecord& r : SVC_TRY(store.open_records())) {
    if (r.owner.kind != RunKind::kInstance || exists(r.owner.instance)) continue;
    daemon::UsageClose c;
    c.end_at_last_checkpoint = true;
    c.reason = std::string(svs::reason::kLost);
    if (SVC_TRY(store.close(r.id, c))) ++closed;
  }
  return closed;
}

// ---- BilledControlPlane ---------------------------------------------------------------------

void BilledControlPlane::on_demand(const std::string& revision, std::size_t waiting) {
  inner_.on_demand(revision, waiting);
}

void BilledControlPlane::on_ready(const std::string& id, ingress::SteadyTime at) {
  recorder_.on_ready(id, at);
  // Request mode: outside requests its CPU is throttled (after the throttle's hold).
  if (throttle_)
    if (auto b = recorder_.billing_of(id); b && b->mode == ServiceMode::kRequest)
      throttle_->add(id, b->cpu_limit_millis);
  inner_.on_ready(id, at);
}

void BilledControlPlane::on_not_ready(const std::string& id, std::string why) {
  inner_.on_not_ready(id, std::move(why));
}

void BilledControlPlane::on_drained(const std::string& id) {
  // Its shut-down starts now (the controller sends the stop signal next): billed in request
  // mode, and run at the full CPU limit, as a busy edge gives it back at once.
  auto now = clock_.steady_now();
  recorder_.on_draining(id, now);
  if (throttle_) throttle_->on_busy(id, true, now);
  inner_.on_drained(id);
}

void BilledControlPlane::on_busy(const std::string& id, bool busy, ingress::SteadyTime at) {
  recorder_.on_busy(id, busy, at);
  if (throttle_) throttle_->on_busy(id, busy, at);
  inner_.on_busy(id, busy, at);
}

void BilledControlPlane::on_upstream_error(const std::string& id, std::string why) {
  inner_.on_upstream_error(id, std::move(why));
}

void BilledControlPlane::on_request(const ingress::RequestRecord& record) {
  if (!record.instance.empty()) recorder_.count_request(record.instance);
  inner_.on_request(record);
}

}  // namespace svc::billing
