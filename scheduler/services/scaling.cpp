// The service controller's scaling side: the scale pass (every tick and on demand), what each
// revision's autoscaler wants turned into starts and drains, rollouts, capacity and back-off.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/digest.hpp"
#include "common/units.hpp"
#include "scheduler/services/controller.hpp"

namespace svc::services {

void ServiceController::start() {
  Lock lock(mu_);
  if (ticking_ || stopping_) return;
  ticking_ = true;
  tick_timer_ = executor_.schedule(clock_.steady_now() + options_.tick, [this] { tick(); });
}

void ServiceController::tick() {
  scale_pass();
  Lock lock(mu_);
  tick_timer_ = 0;
  if (!ticking_ || stopping_) return;
  tick_timer_ = executor_.schedule(clock_.steady_now() + options_.tick, [this] { tick(); });
}

ServiceController::Counts ServiceController::count_locked(const std::string& revision) const {
  Counts c;
  for (const auto& [id, e] : instances_) {
    if (e.inst.revision != revision) continue;
    switch (e.inst.state) {
      case InstanceState::kStarting:
        ++c.starting;
        break;
      case InstanceState::kReady:
      case InstanceState::kPaused:
        ++c.ready;
        break;
      case InstanceState::kDraining:
        ++c.draining;
        break;
      case InstanceState::kStopped:
        break;
    }
  }
  return c;
}

void ServiceController::scale_pass() {
  scale_pending_ = false;  // a demand from now on asks for another pass
  if (stopping_ || !data_plane_) return;
  // Read outside the lock: the data plane takes its own locks.
  std::vector<ingress::RevisionLoad> loads = data_plane_->load();
  Actions a;
  {
    Lock lock(mu_);
    SteadyTime now = clock_.steady_now();
    std::map<std::string_view, const ingress::RevisionLoad*> by_revision;
    for (const auto& l : loads) by_revision[l.revision] = &l;
    for (auto& [name, r] : revisions_) {
      LoadSample s;
      s.at = now;
      s.concurrency_ms_total = r.last_integral;
      s.requests_total = r.last_requests;
      if (auto it = by_revision.find(name); it != by_revision.end()) {
        const ingress::RevisionLoad& l = *it->second;
        s.concurrency_ms_total = l.concurrency_ms_total;
        s.requests_total = l.requests_total;
        s.waiting = l.waiting;
        s.in_flight = l.in_flight;
        for (const auto& il : l.instances) {
          auto e = instances_.find(il.id);
          if (e == instances_.end()) continue;
          e->second.inst.in_flight = il.in_flight;
          e->second.inst.requests_total = il.requests_total;
        }
      }
      r.last_integral = s.concurrency_ms_total;
      r.last_requests = s.requests_total;
      r.waiting = s.waiting;
      r.scaler.record(s);
    }
    for (auto& [name, s] : services_) plan_rollout_locked(s, a);
    for (auto it = revisions_.begin(); it != revisions_.end();) {
      RevisionEntry& r = it->second;
      plan_revision_locked(r, now, a);
      // A revision of a removed service is forgotten once nothing of it is left.
      Counts c = count_locked(it->first);
      if (r.retired && !r.leased && !services_.count(r.rev.service) &&
          c.ready + c.starting + c.draining == 0)
        it = revisions_.erase(it);
      else
        ++it;
    }
  }
  run(std::move(a));
}

void ServiceController::plan_revision_locked(RevisionEntry& r, SteadyTime now, Actions& a) {
  Counts c = count_locked(r.rev.name);
  ServiceEntry* s = service_of_locked(r);
  if (!r.retired && s && s->svc.serving_revision != r.rev.name && s->rollout_to != r.rev.name)
    retire_locked(r, reason::kReplaced, a);  // neither serving nor rolled to: nothing wants it
  if (r.retired || !s) {
    r.desired = 0;
    r.last = ScaleDecision{};
    if (c.ready + c.starting + c.draining == 0 && r.leased) {
      a.releases.push_back(revision_lease(r.rev.name));
      r.leased = false;
      r.image.reset();
    }
    return;
  }
  ScaleDecision d = r.scaler.decide(now, c.ready);
  r.last = d;
  int desired = d.desired;
  if (s->rollout_to == r.rev.name) desired = std::max(desired, s->rollout_target);
  r.desired = desired;
  int current = c.ready + c.starting;
  if (desired > current) {
    start_instances_locked(r, desired - current, now, a);
    return;
  }
  if (r.capacity_short) {
    r.capacity_short = false;
    s->conditions.erase("Capacity");
  }
  if (desired >= current) return;
  // Fewer wanted: the ones doing least go first (not yet ready, then the least busy, newest).
  std::vector<InstanceEntry*> candidates;
  for (auto& [id, e] : instances_)
    if (e.inst.revision == r.rev.name &&
        (e.inst.state == InstanceState::kStarting || e.inst.state == InstanceState::kReady))
      candidates.push_back(&e);
  std::sort(candidates.begin(), candidates.end(), [](InstanceEntry* x, InstanceEntry* y) {
    bool xs = x->inst.state == InstanceState::kStarting;
    bool ys = y->inst.state == InstanceState::kStarting;
    if (xs != ys) return xs;
    if (x->inst.in_flight != y->inst.in_flight) return x->inst.in_flight < y->inst.in_flight;
    return x->inst.created_at > y->inst.created_at;
  });
  std::string why = d.idle ? fmt::format("no request for {} (idle timeout)",
                                         format_duration(r.rev.spec.scaling.idle_timeout))
                           : fmt::format("the autoscaler wants {} instance(s)", desired);
  for (int i = 0; i < current - desired && i < static_cast<int>(candidates.size()); ++i)
    drain_locked(*candidates[static_cast<std::size_t>(i)], reason::kScaledDown, why, a);
}

void ServiceController::plan_rollout_locked(ServiceEntry& s, Actions& a) {
  if (s.rollout_to.empty()) return;
  auto nit = revisions_.find(s.rollout_to);
  if (nit == revisions_.end()) {
    s.rollout_to.clear();
    return;
  }
  RevisionEntry& next = nit->second;
  Counts nc = count_locked(next.rev.name);
  Counts oc = count_locked(s.svc.serving_revision);
  // Switch once the new revision holds what the old one served; or when the old one has
  // nothing left to protect; or when the node has no room for more while some are ready.
  bool go = nc.ready >= s.rollout_target || oc.ready + oc.starting == 0 ||
            (nc.ready > 0 && next.capacity_short);
  if (!go) {
    std::string msg =
        fmt::format("rolling out {}: {} of {} instance(s) ready; {} serves meanwhile",
                    next.rev.name, nc.ready, s.rollout_target, s.svc.serving_revision);
    if (!next.backoff.last_error().empty())
      msg += fmt::format(" (last start failed: {})", next.backoff.last_error());
    set_condition_locked(s, "Rollout", false, "RollingOut", std::move(msg));
    return;
  }
  Service svc = s.svc;
  std::string previous = svc.serving_revision;
  svc.serving_revision = next.rev.name;
  svc.updated_at = clock_.now();
  if (auto w = store_.put_service(svc); !w) {
    spdlog::error("services: could not record the rollout of {} to {}: {} (retrying)", svc.name,
                  next.rev.name, w.error().message());
    return;
  }
  s.svc = svc;
  s.rollout_to.clear();
  s.rollout_target = 0;
  set_condition_locked(s, "Rollout", true, "RolledOut",
                       fmt::format("{} takes all traffic (was {})", next.rev.name, previous));
  a.routes.push_back(route_locked(s));
  if (auto p = revisions_.find(previous); p != revisions_.end())
    retire_locked(p->second, reason::kReplaced, a);
  spdlog::info("services: {} rolled out to {} ({} ready)", svc.name, next.rev.name, nc.ready);
}

void ServiceController::start_instances_locked(RevisionEntry& r, int count, SteadyTime now,
                                               Actions& a) {
  ServiceEntry* s = service_of_locked(r);
  if (!s) return;
  Counts c = count_locked(r.rev.name);
  bool nothing_runs = c.ready + c.starting == 0;
  if (!r.backoff.allowed(now)) {
    if (r.waiting > 0 && nothing_runs)
      a.fail_waiting.push_back(
          {r.rev.name,
           fmt::format("the last cold start of {} failed: {}; the next attempt is in {}",
                       r.rev.name, r.backoff.last_error(),
                       format_duration(Millis(std::chrono::ceil<std::chrono::seconds>(
                           r.backoff.not_before() - now))))});
    arm_retry_locked(r, now);
    return;
  }
  scheduler::Resources res = resources_of(r.rev.spec);
  int started = 0;
  for (; started < count; ++started) {
    std::string id;
    do {
      id = r.rev.name + "-" + random_hex(4);
    } while (instances_.count(id));
    scheduler::Capacity::Refusal refused;
    if (!capacity_.try_reserve("instance:" + id, res.request(), res.limit(), &refused)) {
      r.capacity_short = true;
      std::string condition, answer;  // for the service's condition, and for held requests
      if (refused.cordoned) {  // svctl node drain: its reason says it all
        condition = fmt::format("cannot start {} instance(s) of {}: {}", count - started,
                                r.rev.name, refused.why);
        answer = refused.why;  // the activator says which service could not start
      } else {
        condition = fmt::format(
            "cannot start {} more instance(s) of {} (each requests {} vCPU and {}): {}",
            count - started, r.rev.name, format_cpu_millis(res.cpu_request_millis),
            format_size_human(res.memory_request_bytes), refused.why);
        answer = fmt::format("no room on this node for another instance: {}", refused.why);
      }
      set_condition_locked(*s, "Capacity", false,
                           refused.cordoned ? "NodeDraining" : "CapacityExhausted",
                           std::move(condition));
      if (r.waiting > 0 && c.ready + c.starting + started == 0)
        a.fail_waiting.push_back({r.rev.name, std::move(answer), 503});  // may pass: retry
      break;
    }
    InstanceEntry e;
    e.inst.id = id;
    e.inst.service = r.rev.service;
    e.inst.revision = r.rev.name;
    e.inst.state = InstanceState::kStarting;
    e.inst.created_at = clock_.now();
    e.inst.resources = res;
    e.inst.labels = r.rev.spec.labels;
    e.inst.billing = r.rev.spec.billing;
    e.reserved = res.request();
    e.start_requested = now;
    e.launching = true;
    if (auto w = store_.put_instance(e.inst); !w) {
      capacity_.release("instance:" + id);
      set_condition_locked(*s, "ColdStart", false, "StoreFailed",
                           fmt::format("cannot record a new instance: {}", w.error().message()));
      break;
    }
    instances_.emplace(id, std::move(e));
    a.launches.push_back(Launch{id, r.rev, r.image, res, false});
  }
  if (started == count && r.capacity_short) {
    r.capacity_short = false;
    s->conditions.erase("Capacity");
  }
}

bool ServiceController::drain_locked(InstanceEntry& e, std::string_view why, std::string message,
                                     Actions& a) {
  if (e.inst.state == InstanceState::kDraining || e.inst.state == InstanceState::kStopped)
    return false;
  e.inst.state = InstanceState::kDraining;
  e.inst.draining_at = clock_.now();
  e.inst.stop_reason = std::string(why);
  e.inst.stop_message = std::move(message);
  persist_instance_locked(e);
  // Routed: the data plane stops sending to it and says when it is idle (on_drained). Still
  // launching: the launch finds it draining and stops it instead of routing it.
  if (e.routed) a.drains.push_back(e.inst.id);
  return true;
}

void ServiceController::retire_locked(RevisionEntry& r, std::string_view why, Actions& a) {
  if (!r.retired) {
    r.retired = true;
    r.retire_reason = std::string(why);
    if (r.retry_timer) executor_.cancel(r.retry_timer);
    r.retry_timer = 0;
  }
  std::string message = why == reason::kDeleted
                            ? std::string("its service was removed")
                            : fmt::format("its revision {} was replaced", r.rev.name);
  for (auto& [id, e] : instances_)
    if (e.inst.revision == r.rev.name) drain_locked(e, why, message, a);
}

void ServiceController::failed_start_locked(RevisionEntry& r, const std::string& why,
                                            std::optional<Millis> ready_for, Actions& a) {
  SteadyTime now = clock_.steady_now();
  Millis delay = r.backoff.failed(now, ready_for, why);
  if (ServiceEntry* s = service_of_locked(r)) {
    std::string msg = fmt::format("last cold start of {} failed: {}", r.rev.name, why);
    if (r.backoff.streak() > 1)
      msg += fmt::format(" ({} times in a row; next attempt in {})", r.backoff.streak(),
                         format_duration(delay));
    set_condition_locked(*s, "ColdStart", false, ready_for ? "Crashed" : "StartFailed",
                         std::move(msg));
  }
  if (delay.count() > 0) {
    // A crash loop: held requests that nothing can take now get the reason at once.
    Counts c = count_locked(r.rev.name);
    if (c.ready + c.starting == 0)
      a.fail_waiting.push_back(
          {r.rev.name, fmt::format("cold start of {} failed: {}", r.rev.name, why)});
    arm_retry_locked(r, now);
  } else {
    a.rescan = true;  // the first failure is replaced at once
  }
}

void ServiceController::arm_retry_locked(RevisionEntry& r, SteadyTime now) {
  if (r.retry_timer || stopping_) return;
  std::string name = r.rev.name;
  SteadyTime at = std::max(now, r.backoff.not_before());
  r.retry_timer = executor_.schedule(at, [this, name] {
    {
      Lock lock(mu_);
      if (auto it = revisions_.find(name); it != revisions_.end()) it->second.retry_timer = 0;
    }
    request_scale();
  });
}

}  // namespace svc::services
