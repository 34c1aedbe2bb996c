#include "scheduler/ingress/activator.hpp"

#include <algorithm>

#include "scheduler/ingress/picker.hpp"

namespace svc::ingress {

struct Activator::Service {
  ServiceRoute route;
  std::shared_ptr<ServiceMetrics> metrics;
  std::vector<std::shared_ptr<Revision>> targets;  // route.traffic's revisions, in order
  std::vector<std::uint32_t> weights;              // their percents
  std::vector<std::int64_t> wrr;                   // pick_weighted's state
  std::size_t waiting = 0;                         // held for all its revisions
};

struct Activator::Event {
  enum class Kind { kDemand, kReady, kNotReady, kDrained, kBusy };
  Kind kind;
  std::shared_ptr<Instance> instance;
  std::shared_ptr<Revision> revision;
  std::size_t waiting = 0;
  bool busy = false;
  SteadyTime at{};
  std::string why;
};

struct Activator::Outcome {
  std::shared_ptr<Waiter> waiter;
  std::uint64_t wait_id = 0;
  Lease lease;  // granted when set
  int status = 0;
  std::string reason;
};

namespace {

double millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = std::exchange(o.owner_, nullptr);
    instance_ = std::move(o.instance_);
    cold_ = std::move(o.cold_);
    primary_ = o.primary_;
  }
  return *this;
}

void Lease::release() {
  if (owner_) owner_->release(*this);
}

// ---------------------------------------------------------------------------------------------

Activator::Activator(const Clock& clock, ControlPlane& control)
    : clock_(clock), control_(control) {}

Activator::~Activator() {
  // Instances and revisions point at each other while registered: break the cycles.
  for (auto& [name, rev] : revisions_) {
    rev->instances_.clear();
    rev->waiting_.clear();
  }
  for (auto& [id, inst] : instances_) inst->revision_.reset();
}

void Activator::accrue_locked(Revision& rev, SteadyTime now) {
  if (now > rev.since_) {
    rev.concurrency_ms_ +=
        static_cast<double>(rev.in_flight_ + static_cast<int>(rev.waiting_.size())) *
        millis(now - rev.since_);
    rev.since_ = now;
  }
}

Activator::Service* Activator::service_of_locked(const Revision& rev) {
  auto it = services_.find(rev.service);
  return it == services_.end() ? nullptr : it->second.get();
}

std::shared_ptr<Revision> Activator::revision_locked(const std::string& service,
                                                     const std::string& name, SteadyTime now) {
  auto& slot = revisions_[name];
  if (!slot) slot = std::make_shared<Revision>(service, name, now);
  return slot;
}

void Activator::maybe_forget_locked(const std::shared_ptr<Revision>& rev) {
  if (!rev->routed_ && rev->instances_.empty() && rev->waiting_.empty())
    revisions_.erase(rev->name);
}

namespace {

struct Candidate {
  bool routable;
  int in_flight;
  int concurrency;
};

}  // namespace

std::size_t Activator::pick_locked(Revision& rev, const Instance* avoid) {
  return pick_least_loaded(rev.instances_.size(), rev.next_, [&](std::size_t i) {
    const Instance& x = *rev.instances_[i];
    return Candidate{x.state_ == Instance::State::kReady && &x != avoid, x.in_flight_,
                     std::max(1, x.endpoint.concurrency)};
  });
}

Lease Activator::grant_locked(const std::shared_ptr<Instance>& inst, SteadyTime now) {
  Revision& rev = *inst->revision_;
  accrue_locked(rev, now);
  ++rev.in_flight_;
  if (inst->in_flight_++ == 0) {
    inst->busy_since_ = now;
    events_.push_back(Event{Event::Kind::kBusy, inst, nullptr, 0, true, now, {}});
  }
  Lease lease;
  lease.owner_ = this;
  lease.instance_ = inst;
  return lease;
}

void Activator::hold_locked(Service& svc, const std::shared_ptr<Revision>& rev, Revision::Held held,
                            SteadyTime now) {
  accrue_locked(*rev, now);
  rev->waiting_.push_back(std::move(held));
  ++svc.waiting;
  events_.push_back(
      Event{Event::Kind::kDemand, nullptr, rev, rev->waiting_.size(), false, now, {}});
}

void Activator::dispatch_locked(Revision& rev, SteadyTime now, std::vector<Outcome>& out,
                                const Instance* cold_for) {
  bool first = true;
  while (!rev.waiting_.empty()) {
    std::size_t i = pick_locked(rev);
    if (i == kNone) break;
    const auto& inst = rev.instances_[i];
    accrue_locked(rev, now);
    Revision::Held held = std::move(rev.waiting_.front());
    rev.waiting_.pop_front();
    if (Service* svc = service_of_locked(rev)) --svc->waiting;
    Lease lease = grant_locked(inst, now);
    if (inst.get() == cold_for) {
      lease.cold_ = cold_phases(held.arrival, inst->endpoint.start_requested,
                                inst->endpoint.sandbox_started, inst->ready_at_);
      lease.primary_ = first;
      first = false;
    }
    rev.next_ = i + 1;
    out.push_back(Outcome{std::move(held.waiter), held.wait_id, std::move(lease), 0, {}});
  }
}

void Activator::drop_waiting_locked(Revision& rev, std::vector<Outcome>& out, int status,
                                    const std::string& why, SteadyTime now) {
  if (rev.waiting_.empty()) return;
  accrue_locked(rev, now);
  Service* svc = service_of_locked(rev);
  for (auto& held : rev.waiting_) {
    out.push_back(Outcome{std::move(held.waiter), held.wait_id, Lease{}, status, why});
    if (svc) --svc->waiting;
  }
  rev.waiting_.clear();
}

void Activator::finish(Lock& lock, std::vector<Outcome>& out) {
  bool deliver = !events_.empty() && !delivering_;
  if (deliver) delivering_ = true;
  lock.unlock();
  for (auto& o : out) {
    if (o.lease)
      o.waiter->granted(o.wait_id, std::move(o.lease));
    else
      o.waiter->rejected(o.wait_id, o.status, std::move(o.reason));
  }
  out.clear();
  if (!deliver) return;
  // One thread at a time delivers, in the order the events were queued; events queued by other
  // threads meanwhile are picked up by this loop.
  lock.lock();
  std::vector<Event> batch;
  while (!events_.empty()) {
    batch.swap(events_);
    lock.unlock();
    for (const Event& e : batch) {
      switch (e.kind) {
        case Event::Kind::kDemand:
          control_.on_demand(e.revision->name, e.waiting);
          break;
        case Event::Kind::kReady:
          control_.on_ready(e.instance->endpoint.id, e.at);
          break;
        case Event::Kind::kNotReady:
          control_.on_not_ready(e.instance->endpoint.id, e.why);
          break;
        case Event::Kind::kDrained:
          control_.on_drained(e.instance->endpoint.id);
          break;
        case Event::Kind::kBusy:
          control_.on_busy(e.instance->endpoint.id, e.busy, e.at);
          break;
      }
    }
    batch.clear();
    lock.lock();
  }
  delivering_ = false;
  lock.unlock();
}

// --- DataPlane --------------------------------------------------------------------------------

void Activator::set_route(ServiceRoute route) {
  Lock lock(mu_);
  SteadyTime now = clock_.steady_now();
  std::vector<Outcome> out;
  auto& slot = services_[route.service];
  if (!slot) {
    slot = std::make_unique<Service>();
    slot->metrics = std::make_shared<ServiceMetrics>(route.service);
  }
  Service& svc = *slot;
  auto old_targets = std::move(svc.targets);
  svc.targets.clear();
  svc.weights.clear();
  svc.wrr.clear();
  for (const auto& t : route.traffic) {
    auto rev = revision_locked(route.service, t.revision, now);
    rev->routed_ = true;
    svc.targets.push_back(rev);
    svc.weights.push_back(t.percent);
  }
  svc.route = std::move(route);
  // Requests held for a revision the traffic no longer names follow the new split (a rolling
  // deploy must not strand them on a revision that gets no more instances).
  std::vector<Revision::Held> moved;
  for (auto& old : old_targets) {
    if (std::find(svc.targets.begin(), svc.targets.end(), old) != svc.targets.end()) continue;
    old->routed_ = false;
    accrue_locked(*old, now);
    for (auto& held : old->waiting_) moved.push_back(std::move(held));
    svc.waiting -= old->waiting_.size();
    old->waiting_.clear();
    maybe_forget_locked(old);
  }
  for (auto& held : moved) {
    std::size_t t = pick_weighted(svc.weights, svc.wrr);
    if (t == kNone) {
      out.push_back(Outcome{std::move(held.waiter), held.wait_id, Lease{}, 503,
                            "service " + svc.route.service + " has no revision to route to"});
      continue;
    }
    const auto& rev = svc.targets[t];
    std::size_t i = pick_locked(*rev);
    if (i != kNone) {
      rev->next_ = i + 1;
      out.push_back(Outcome{
          std::move(held.waiter), held.wait_id, grant_locked(rev->instances_[i], now), 0, {}});
    } else {
      hold_locked(svc, rev, std::move(held), now);
    }
  }
  finish(lock, out);
}

void Activator::remove_route(const std::string& service) {
  Lock lock(mu_);
  SteadyTime now = clock_.steady_now();
  std::vector<Outcome> out;
  auto it = services_.find(service);
  if (it == services_.end()) return;
  std::string why = "service " + service + " was removed";
  for (auto& rev : it->second->targets) {
    drop_waiting_locked(*rev, out, 503, why, now);
    rev->routed_ = false;
  }
  auto targets = std::move(it->second->targets);
  services_.erase(it);
  for (auto& rev : targets) maybe_forget_locked(rev);
  finish(lock, out);
}

std::shared_ptr<Instance> Activator::add_instance(InstanceEndpoint endpoint, Readiness readiness) {
  Lock lock(mu_);
  SteadyTime now = clock_.steady_now();
  std::vector<Outcome> out;
  if (instances_.count(endpoint.id)) remove_locked(endpoint.id, now);
  auto inst = std::make_shared<Instance>(std::move(endpoint), std::move(readiness), next_serial_++);
  inst->revision_ = revision_locked(inst->endpoint.service, inst->endpoint.revision, now);
  inst->revision_->instances_.push_back(inst);
  instances_[inst->endpoint.id] = inst;
  finish(lock, out);
  return inst;
}

void Activator::drain_instance(const std::string& id) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  auto it = instances_.find(id);
  if (it == instances_.end()) return;
  Instance& inst = *it->second;
  if (inst.state_ == Instance::State::kDraining || inst.state_ == Instance::State::kGone) return;
  inst.state_ = Instance::State::kDraining;
  inst.routable = false;
  if (inst.in_flight_ == 0)
    events_.push_back(Event{Event::Kind::kDrained, it->second, nullptr, 0, false, {}, {}});
  finish(lock, out);
}

std::shared_ptr<Instance> Activator::remove_locked(const std::string& id, SteadyTime now) {
  auto it = instances_.find(id);
  if (it == instances_.end()) return nullptr;
  auto inst = it->second;
  instances_.erase(it);
  inst->state_ = Instance::State::kGone;
  inst->routable = false;
  inst->gone = true;
  auto rev = inst->revision_;
  accrue_locked(*rev, now);
  rev->instances_.erase(std::find(rev->instances_.begin(), rev->instances_.end(), inst));
  maybe_forget_locked(rev);
  return inst;
}

std::shared_ptr<Instance> Activator::remove_instance(const std::string& id) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  auto inst = remove_locked(id, clock_.steady_now());
  finish(lock, out);
  return inst;
}

void Activator::fail_waiting(const std::string& revision, const std::string& why, int status) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  auto it = revisions_.find(revision);
  if (it == revisions_.end()) return;
  auto rev = it->second;
  drop_waiting_locked(*rev, out, status, why, clock_.steady_now());
  maybe_forget_locked(rev);
  finish(lock, out);
}

std::vector<RevisionLoad> Activator::load() const {
  Lock lock(mu_);
  SteadyTime now = clock_.steady_now();
  std::vector<RevisionLoad> out;
  out.reserve(revisions_.size());
  for (const auto& [name, rev] : revisions_) {
    RevisionLoad l;
    l.service = rev->service;
    l.revision = rev->name;
    l.waiting = rev->waiting_.size();
    l.in_flight = rev->in_flight_;
    l.concurrency_ms_total = rev->concurrency_ms_;
    if (now > rev->since_)
      l.concurrency_ms_total += static_cast<double>(rev->in_flight_ + static_cast<int>(l.waiting)) *
                                millis(now - rev->since_);
    l.requests_total = rev->requests_total_;
    for (const auto& inst : rev->instances_) {
      InstanceLoad il;
      il.id = inst->endpoint.id;
      il.in_flight = inst->in_flight_;
      il.ready =
          inst->state_ == Instance::State::kReady || inst->state_ == Instance::State::kDraining;
      il.draining = inst->state_ == Instance::State::kDraining;
      il.requests_total = inst->requests_total_;
      auto busy = inst->busy_total_;
      if (inst->in_flight_ > 0 && now > inst->busy_since_) busy += now - inst->busy_since_;
      il.busy_ms_total =
          static_cast<std::uint64_t>(std::chrono::duration_cast<Millis>(busy).count());
      l.instances.push_back(std::move(il));
    }
    out.push_back(std::move(l));
  }
  return out;
}

// --- readiness ---------------------------------------------------------------------------------

void Activator::mark_ready(const std::shared_ptr<Instance>& inst) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  if (inst->state_ != Instance::State::kProbing) return;
  SteadyTime now = clock_.steady_now();
  inst->state_ = Instance::State::kReady;
  inst->ready_at_ = now;
  inst->routable = true;
  events_.push_back(Event{Event::Kind::kReady, inst, nullptr, 0, false, now, {}});
  dispatch_locked(*inst->revision_, now, out, inst.get());
  finish(lock, out);
}

void Activator::mark_not_ready(const std::shared_ptr<Instance>& inst, std::string why) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  if (inst->state_ != Instance::State::kProbing) return;
  inst->state_ = Instance::State::kNotReady;
  events_.push_back(Event{Event::Kind::kNotReady, inst, nullptr, 0, false, {}, std::move(why)});
  finish(lock, out);
}

bool Activator::probing(const Instance& inst) const {
  Lock lock(mu_);
  return inst.state_ == Instance::State::kProbing;
}

// --- the request path ---------------------------------------------------------------------------

Admission Activator::admit(std::string_view service, const std::shared_ptr<Waiter>& waiter,
                           std::uint64_t wait_id, SteadyTime arrival) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  Admission a;
  auto it = services_.find(service);
  if (it == services_.end()) {
    a.kind = Admission::Kind::kUnknownService;
    return a;
  }
  Service& svc = *it->second;
  a.metrics = svc.metrics;
  a.request_timeout = svc.route.request_timeout;
  if (shut_down_) {
    a.kind = Admission::Kind::kShuttingDown;
    return a;
  }
  std::size_t t = pick_weighted(svc.weights, svc.wrr);
  if (t == kNone) {
    a.kind = Admission::Kind::kNoRevision;
    return a;
  }
  a.revision = svc.targets[t];
  Revision& rev = *a.revision;
  SteadyTime now = clock_.steady_now();
  std::size_t i = pick_locked(rev);
  if (i != kNone) {
    rev.next_ = i + 1;
    a.kind = Admission::Kind::kGranted;
    a.lease = grant_locked(rev.instances_[i], now);
  } else if (svc.waiting >= svc.route.queue_limit) {
    a.kind = Admission::Kind::kQueueFull;
    svc.metrics->queue_rejections.fetch_add(1, std::memory_order_relaxed);
  } else {
    a.kind = Admission::Kind::kQueued;
    hold_locked(svc, a.revision, Revision::Held{waiter, wait_id, arrival}, now);
  }
  finish(lock, out);
  return a;
}

bool Activator::cancel(const Revision& revision, const Waiter* waiter, std::uint64_t wait_id) {
  Lock lock(mu_);
  auto& rev = const_cast<Revision&>(revision);  // the caller's handle; guarded by mu_ here
  auto it = std::find_if(rev.waiting_.begin(), rev.waiting_.end(), [&](const Revision::Held& h) {
    return h.waiter.get() == waiter && h.wait_id == wait_id;
  });
  if (it == rev.waiting_.end()) return false;
  accrue_locked(rev, clock_.steady_now());
  std::shared_ptr<Waiter> keep = std::move(it->waiter);  // destroyed after the lock
  rev.waiting_.erase(it);
  if (Service* svc = service_of_locked(rev)) --svc->waiting;
  lock.unlock();
  return true;
}

void Activator::release(Lease& lease) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  std::shared_ptr<Instance> inst = std::move(lease.instance_);  // destroyed after the lock
  lease.owner_ = nullptr;
  lease.cold_.reset();
  Revision& rev = *inst->revision_;
  SteadyTime now = clock_.steady_now();
  accrue_locked(rev, now);
  --rev.in_flight_;
  ++rev.requests_total_;
  ++inst->requests_total_;
  if (--inst->in_flight_ == 0) {
    if (now > inst->busy_since_) inst->busy_total_ += now - inst->busy_since_;
    if (inst->state_ != Instance::State::kGone)
      events_.push_back(Event{Event::Kind::kBusy, inst, nullptr, 0, false, now, {}});
    if (inst->state_ == Instance::State::kDraining)
      events_.push_back(Event{Event::Kind::kDrained, inst, nullptr, 0, false, {}, {}});
  }
  if (!rev.waiting_.empty()) dispatch_locked(rev, now, out, nullptr);
  finish(lock, out);
}

void Activator::report_upstream_error(const Instance& instance, std::string why) {
  control_.on_upstream_error(instance.endpoint.id, std::move(why));
}

void Activator::refused(const Instance& instance, std::string why) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  auto it = instances_.find(instance.endpoint.id);
  if (it != instances_.end() && it->second.get() == &instance &&
      it->second->state_ == Instance::State::kReady) {
    Instance& inst = *it->second;
    inst.state_ = Instance::State::kNotReady;
    inst.routable = false;
    events_.push_back(
        Event{Event::Kind::kNotReady, it->second, nullptr, 0, false, {}, std::move(why)});
  }
  finish(lock, out);
}

Lease Activator::grant_other(const Revision& revision, const Instance& avoid) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  auto& rev = const_cast<Revision&>(revision);  // the caller's handle; guarded by mu_ here
  Lease lease;
  if (!shut_down_) {
    if (std::size_t i = pick_locked(rev, &avoid); i != kNone) {
      rev.next_ = i + 1;
      lease = grant_locked(rev.instances_[i], clock_.steady_now());
    }
  }
  finish(lock, out);
  return lease;
}

std::vector<ServiceGauges> Activator::gauges() const {
  Lock lock(mu_);
  std::vector<ServiceGauges> out;
  for (const auto& [name, svc] : services_) {
    ServiceGauges g;
    g.metrics = svc->metrics;
    g.waiting = svc->waiting;
    for (const auto& [rname, rev] : revisions_) {
      if (rev->service != name) continue;
      g.in_flight += rev->in_flight_;
      for (const auto& inst : rev->instances_)
        if (inst->state_ == Instance::State::kReady) ++g.instances_ready;
    }
    out.push_back(std::move(g));
  }
  return out;
}

void Activator::shutdown(const std::string& why) {
  Lock lock(mu_);
  std::vector<Outcome> out;
  shut_down_ = true;
  SteadyTime now = clock_.steady_now();
  for (auto& [name, rev] : revisions_) drop_waiting_locked(*rev, out, 503, why, now);
  finish(lock, out);
}

}  // namespace svc::ingress
