#include "daemon/billing/instance_recorder.hpp"

#include <cmath>

namespace svc::billing {

UsageRecord InstanceUsageRecorder::record_for(const InstanceRun& run, const Policy& policy) {
  UsageRecord r;
  r.id = record_id(run.instance_id);
  r.owner.kind = RunKind::kInstance;
  r.owner.service = run.service;
  r.owner.revision = run.revision;
  r.owner.instance = run.instance_id;
  r.owner.name = run.service;
  r.labels = run.labels;
  r.start_ms = unix_millis(run.started_at);
  r.cpu_request_millis = run.cpu_request_millis;
  r.cpu_limit_millis = run.cpu_limit_millis;
  r.memory_request_bytes = run.memory_request_bytes;
  r.memory_limit_bytes = run.memory_limit_bytes;
  r.basis = policy.basis;
  r.mode = run.mode.value_or(policy.service_mode);
  r.prices = policy.prices;
  r.minimum_ms = 0;  // instances have no minimum
  r.checkpoint_ms = r.start_ms;
  return r;
}

std::int64_t InstanceUsageRecorder::wall_ms(std::chrono::steady_clock::time_point at) const {
  // The proxy's steady time, placed on the wall clock by how long ago it was.
  auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - at);
  return unix_millis(clock_.now()) - ago.count();
}

Result<> InstanceUsageRecorder::on_started(daemon::Store::Tx& tx, const InstanceRun& run) {
  if (run.instance_id.empty())
    return fail(Code::kInvalidArgument, "instance usage record without an instance id");
  UsageRecord r = record_for(run, policy_);
  bool opened = SVC_TRY(daemon::SqlUsageStore::open_in(tx, r));
  std::lock_guard lock(mu_);
  if (!opened && live_.count(run.instance_id)) return {};  // a start written twice: no change
  Live l(BusySeconds(r.start_ms), r.mode, r.start_ms);
  l.cpu_limit_millis = r.cpu_limit_millis;
  live_.insert_or_assign(run.instance_id, std::move(l));
  return {};
}

void InstanceUsageRecorder::adopt(const UsageRecord& open) {
  if (open.owner.kind != RunKind::kInstance || !open.open()) return;
  BusySeconds seconds(open.start_ms, open.busy);
  if (seconds.is_busy()) seconds.idle(std::max(open.checkpoint_ms, *open.busy.busy_since_ms));
  Live l(seconds, open.mode, open.start_ms);
  // A re-adopted instance was serving (or had been probed ready) before svcd died: its start-up
  // is over. Start-up billed before the crash is in the checkpointed state already.
  l.ready = true;
  l.requests = open.measured.requests;
  l.cpu_limit_millis = open.cpu_limit_millis;
  std::lock_guard lock(mu_);
  live_.insert_or_assign(open.owner.instance, std::move(l));
}

void InstanceUsageRecorder::on_ready(const std::string& id,
                                     std::chrono::steady_clock::time_point at) {
  std::int64_t ms = wall_ms(at);
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end() || it->second.ready) return;
  it->second.ready = true;
  // Start-up: billed in request mode, as Cloud Run bills it.
  if (it->second.mode == ServiceMode::kRequest) it->second.seconds.add(it->second.start_ms, ms);
}

void InstanceUsageRecorder::on_busy(const std::string& id, bool busy,
                                    std::chrono::steady_clock::time_point at) {
  std::int64_t ms = wall_ms(at);
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return;
  if (busy)
    it->second.seconds.busy(ms);
  else
    it->second.seconds.idle(ms);
}

void InstanceUsageRecorder::on_draining(const std::string& id,
                                        std::chrono::steady_clock::time_point at) {
  std::int64_t ms = wall_ms(at);
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end() || it->second.draining_ms) return;
  it->second.draining_ms = ms;
}

void InstanceUsageRecorder::on_requests(const std::string& id, std::uint64_t requests_total) {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return;
  it->second.requests = std::max(it->second.requests, requests_total);
}

void InstanceUsageRecorder::count_request(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it != live_.end()) ++it->second.requests;
}

std::optional<InstanceUsageRecorder::Billing> InstanceUsageRecorder::billing_of(
    const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return std::nullopt;
  return Billing{it->second.mode, it->second.cpu_limit_millis};
}

Result<> InstanceUsageRecorder::on_exited(daemon::Store::Tx& tx, const std::string& id,
                                          const InstanceExit& exit) {
  daemon::UsageClose c;
  c.end_ms = unix_millis(exit.at);
  c.end_at_last_checkpoint = exit.lost;
  if (exit.started_at) c.start_ms = unix_millis(*exit.started_at);
  c.cpu_ms = std::llround(exit.cpu_seconds * 1000.0);
  c.memory_peak_bytes = exit.memory_peak_bytes;
  c.reason = exit.reason;
  std::optional<Live> l;
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(id); it != live_.end()) l = it->second;
  }
  if (l) {
    if (l->mode == ServiceMode::kRequest) {
      // An instance that never became ready was starting up all its life; one that was
      // draining bills its shut-down (the store closes an interval still open at the end).
      if (!l->ready) l->seconds.add(l->start_ms, c.end_ms);
      c.shutdown_from_ms = l->draining_ms;
    }
    c.busy = l->seconds.state();
    c.busy_ms = l->seconds.busy_ms(c.end_ms);
    c.requests = l->requests;
  }
  SVC_TRY(daemon::SqlUsageStore::close_in(tx, record_id(id), c));
  // Forgotten once the close is in the transaction. Should that transaction fail to commit, the
  // record stays open and svcd's next start closes it from the exit record, with the accounting
  // of its last checkpoint (at most one meter tick behind).
  std::lock_guard lock(mu_);
  live_.erase(id);
  return {};
}

std::optional<Activity> InstanceUsageRecorder::activity(const std::string& record) {
  static constexpr std::string_view kPrefix = "instance:";
  if (record.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = live_.find(record.substr(kPrefix.size()));
  if (it == live_.end()) return std::nullopt;
  return Activity{it->second.seconds.state(), it->second.requests};
}

std::size_t InstanceUsageRecorder::live() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace svc::billing
