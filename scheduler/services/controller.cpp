// The service controller's API side: deploy, get, list, remove, status, and the ControlPlane
// callbacks. Scaling decisions are in scaling.cpp, instance lifecycle in lifecycle.cpp.
#include "scheduler/services/controller.hpp"

#include <algorithm>
#include <csignal>

#include <spdlog/spdlog.h>

#include "common/units.hpp"
#include "scheduler/services/process.hpp"

namespace svc::services {

ServiceController::ServiceController(ServiceStore& store, scheduler::ImageSource& images,
                                     scheduler::TaskRuntime& runtime, scheduler::Executor& executor,
                                     scheduler::Capacity& capacity, InstanceNetwork& network,
                                     ServiceLogs& logs, const Clock& clock, Options options)
    : store_(store),
      images_(images),
      runtime_(runtime),
      executor_(executor),
      capacity_(capacity),
      network_(network),
      logs_(logs),
      clock_(clock),
      options_(options) {
  // Room freed by a task or another service's instance may let a waiting start go ahead.
  capacity_.on_release([this] {
    if (!stopping_.load()) request_scale();
  });
}

ServiceController::~ServiceController() { shutdown(); }

void ServiceController::attach(ingress::DataPlane& data_plane) { data_plane_ = &data_plane; }

void ServiceController::shutdown() {
  stopping_ = true;
  Lock lock(mu_);
  ticking_ = false;
  if (tick_timer_) executor_.cancel(tick_timer_);
  tick_timer_ = 0;
  for (auto& [name, r] : revisions_) {
    if (r.retry_timer) executor_.cancel(r.retry_timer);
    r.retry_timer = 0;
  }
}

// ---- helpers --------------------------------------------------------------------------------

scheduler::Resources ServiceController::resources_of(const ServiceSpec& spec) const {
  return scheduler::resolve_resources(spec.cpu_millis, spec.memory_bytes, spec.pids,
                                      options_.resources);
}

void ServiceController::request_scale() {
  if (!scale_pending_.exchange(true)) executor_.post([this] { scale_pass(); });
}

ServiceController::ServiceEntry* ServiceController::service_of_locked(const RevisionEntry& r) {
  auto it = services_.find(r.rev.service);
  if (it == services_.end()) return nullptr;
  return &it->second;
}

void ServiceController::persist_service_locked(const ServiceEntry& s) {
  if (auto r = store_.put_service(s.svc); !r)
    spdlog::error("services: could not record service {}: {}", s.svc.name, r.error().message());
}

void ServiceController::persist_instance_locked(const InstanceEntry& e) {
  if (auto r = store_.put_instance(e.inst); !r)
    spdlog::error("services: could not record instance {} as {}: {}", e.inst.id,
                  state_name(e.inst.state), r.error().message());
}

void ServiceController::set_condition_locked(ServiceEntry& s, const std::string& type, bool status,
                                             std::string reason, std::string message) {
  Condition& c = s.conditions[type];
  if (c.type.empty() || c.status != status || c.reason != reason) c.last_transition = clock_.now();
  c.type = type;
  c.status = status;
  c.reason = std::move(reason);
  c.message = std::move(message);
}

ingress::ServiceRoute ServiceController::route_locked(const ServiceEntry& s) const {
  ingress::ServiceRoute route;
  route.service = s.svc.name;
  if (!s.svc.serving_revision.empty())
    route.traffic.push_back(ingress::TrafficTarget{s.svc.serving_revision, 100, ""});
  // The serving revision's own limits (a rollout changes them with the traffic).
  auto it = revisions_.find(s.svc.serving_revision);
  const ServiceSpec& spec = it != revisions_.end() ? it->second.rev.spec : s.svc.spec;
  route.queue_limit = spec.queue_limit;
  route.request_timeout = spec.request_timeout;
  return route;
}

ServiceStatus ServiceController::status_locked(const ServiceEntry& s) const {
  ServiceStatus out;
  out.service = s.svc;
  for (const auto& [name, r] : revisions_) {
    if (r.rev.service != s.svc.name) continue;
    RevisionStatus rs;
    rs.revision = r.rev;
    rs.traffic_percent = name == s.svc.serving_revision ? 100 : 0;
    rs.desired = r.retired ? 0 : r.desired;
    Counts c = count_locked(name);
    rs.ready = c.ready;
    rs.starting = c.starting;
    rs.draining = c.draining;
    rs.panicking = r.last.panicking;
    rs.stable_concurrency = r.last.stable_concurrency;
    rs.panic_concurrency = r.last.panic_concurrency;
    rs.retired = r.retired;
    out.revisions.push_back(std::move(rs));
  }
  std::sort(out.revisions.begin(), out.revisions.end(),
            [](const RevisionStatus& a, const RevisionStatus& b) {
              return a.revision.number > b.revision.number;
            });
  for (const auto& [id, e] : instances_)
    if (e.inst.service == s.svc.name && e.inst.state != InstanceState::kStopped)
      out.instances.push_back(e.inst);
  std::sort(out.instances.begin(), out.instances.end(), [](const Instance& a, const Instance& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });

  // "Ready" sums up the others for the serving revision.
  Condition ready;
  ready.type = "Ready";
  Counts serving = count_locked(s.svc.serving_revision);
  auto cond = [&](const char* type) -> const Condition* {
    auto it = s.conditions.find(type);
    return it == s.conditions.end() ? nullptr : &it->second;
  };
  const Condition* cold = cond("ColdStart");
  const Condition* cap = cond("Capacity");
  if (serving.ready > 0) {
    ready.reason = "Serving";
    ready.message =
        fmt::format("{} instance(s) of {} ready", serving.ready, s.svc.serving_revision);
  } else if (cold && !cold->status) {
    ready.status = false;
    ready.reason = cold->reason;
    ready.message = cold->message;
  } else if (cap && !cap->status) {
    ready.status = false;
    ready.reason = cap->reason;
    ready.message = cap->message;
  } else if (serving.starting > 0) {
    ready.reason = "Starting";
    ready.message =
        fmt::format("{} instance(s) of {} starting", serving.starting, s.svc.serving_revision);
  } else {
    ready.reason = "ScaledToZero";
    ready.message = "no instance runs now; the next request starts one";
  }
  ready.last_transition = s.svc.updated_at;
  out.conditions.push_back(std::move(ready));
  for (const auto& [type, c] : s.conditions) out.conditions.push_back(c);
  {
    std::lock_guard stats_lock(stats_mu_);
    if (auto it = stats_.find(s.svc.name); it != stats_.end()) out.stats = it->second;
  }
  return out;
}

// ---- the plan executor ----------------------------------------------------------------------

void ServiceController::run(Actions a) {
  // Routes first: a switch to a new revision must be in place before the old one drains.
  if (data_plane_) {
    for (auto& route : a.routes) data_plane_->set_route(std::move(route));
    for (const auto& name : a.unroutes) data_plane_->remove_route(name);
    for (auto& [id, why] : a.removals) data_plane_->remove_instance(id, std::move(why));
    for (auto& f : a.fail_waiting)
      data_plane_->fail_waiting(f.revision, std::move(f.why), f.status);
    for (const auto& id : a.drains) data_plane_->drain_instance(id);
  }
  for (auto& job : a.launches) executor_.post([this, job = std::move(job)] { launch(job); });
  for (const auto& s : a.stops) {
    executor_.post([this, s] {
      if (auto r = runtime_.stop(s.id, s.signal, s.grace); !r)
        spdlog::warn("services: stop instance {}: {}", s.id, r.error().message());
    });
  }
  for (const auto& [service, id] : a.archives) logs_.archive(service, id);
  for (const auto& id : a.kills) {
    executor_.post([this, id] {
      (void)runtime_.signal(id, SIGKILL);
      network_.close(id);
      if (auto r = runtime_.remove(id); !r && r.error().code() != Code::kNotFound)
        spdlog::warn("services: remove orphan instance {}: {}", id, r.error().message());
    });
  }
  for (const auto& holder : a.releases) {
    executor_.post([this, holder] {
      if (auto r = images_.release(holder); !r && r.error().code() != Code::kNotFound)
        spdlog::warn("services: release image of {}: {}", holder, r.error().message());
    });
  }
  if (a.rescan) request_scale();
}

// ---- deploy, get, list, remove --------------------------------------------------------------

Result<DeployResult> ServiceController::deploy(ServiceSpec spec, const std::atomic<bool>& cancel) {
  spec = normalized(std::move(spec));
  if (auto err = validate_service_spec(spec, options_.limits))
    return fail(Code::kInvalidArgument, *err);
  scheduler::Resources res = resources_of(spec);
  if (!capacity_.can_ever_fit(res.request()))
    return fail(Code::kResourceExhausted,
                "an instance of {} asks for {} vCPU and {} memory, more than this node can ever "
                "give ({} vCPU and {} allocatable): ask for less",
                spec.name, format_cpu_millis(res.cpu_request_millis),
                format_size_human(res.memory_request_bytes),
                format_cpu_millis(capacity_.total().cpu_millis),
                format_size_human(capacity_.total().memory_bytes));
  // Deploys and removals of services are serialised; scaling goes on meanwhile.
  std::lock_guard deploy_lock(deploy_mu_);
  auto unchanged = [&]() -> std::optional<DeployResult> {
    auto it = services_.find(spec.name);
    if (it == services_.end() || !(it->second.svc.spec == spec)) return std::nullopt;
    DeployResult out;
    out.outcome = DeployOutcome::kUnchanged;
    out.revision = revision_name(spec.name, it->second.svc.latest_revision);
    out.status = status_locked(it->second);
    return out;
  };
  int number = 1;
  {
    Lock lock(mu_);
    if (stopping_) return fail(Code::kUnavailable, "svcd is shutting down");
    if (auto same = unchanged()) return *same;
    if (auto it = services_.find(spec.name); it != services_.end())
      number = it->second.svc.latest_revision + 1;
    // A removed service of the same name may still be draining: never reuse its names.
    while (revisions_.count(revision_name(spec.name, number))) ++number;
  }

  // Found and leased in one step, so no `image rm` or prune can delete it between the two
  // (ImageSource::acquire_local); pulled, and leased the same way, when not on the node.
  const std::string holder = revision_lease(revision_name(spec.name, number));
  auto image = images_.acquire_local(holder, spec.image);
  if (!image && image.error().code() == Code::kNotFound)
    image = images_.pull(holder, spec.image, cancel);
  if (!image)
    return tl::unexpected(std::move(image).error().context(fmt::format("image {}", spec.image)));
  Revision rev;
  rev.name = revision_name(spec.name, number);
  rev.service = spec.name;
  rev.number = number;
  rev.spec = spec;
  rev.image_digest = image->digest;
  rev.created_at = clock_.now();
  // An image that cannot make an instance is refused now, not at the first request.
  if (auto checked = make_instance_launch(rev, rev.name + "-00000000", *image, res); !checked) {
    (void)images_.release(holder);
    return tl::unexpected(std::move(checked).error());
  }

  Actions a;
  DeployResult out;
  {
    Lock lock(mu_);
    auto it = services_.find(spec.name);
    bool created = it == services_.end();
    Service svc = created ? Service{} : it->second.svc;
    if (created) {
      svc.name = spec.name;
      svc.created_at = rev.created_at;
    }
    svc.spec = spec;
    svc.latest_revision = number;
    svc.updated_at = rev.created_at;
    Counts old{};
    if (!created) old = count_locked(svc.serving_revision);
    bool switch_now = created || old.ready + old.starting == 0;
    std::string previous = svc.serving_revision;
    if (switch_now) svc.serving_revision = rev.name;
    // Durable before anyone hears of it.
    auto stored = store_.put_revision(rev);
    if (stored) stored = store_.put_service(svc);
    if (!stored) {
      lock.unlock();
      (void)images_.release(holder);
      return tl::unexpected(std::move(stored).error().context("record the deploy"));
    }
    ServiceEntry& s = services_[spec.name];
    s.svc = svc;
    auto [rit, inserted] = revisions_.emplace(rev.name, RevisionEntry(rev, options_.backoff));
    rit->second.image = *image;
    // A rollout still in progress is abandoned for this newer one.
    if (!s.rollout_to.empty() && s.rollout_to != rev.name) {
      if (auto old_target = revisions_.find(s.rollout_to); old_target != revisions_.end())
        retire_locked(old_target->second, reason::kReplaced, a);
      s.rollout_to.clear();
    }
    if (switch_now) {
      if (!previous.empty() && previous != rev.name)
        if (auto p = revisions_.find(previous); p != revisions_.end())
          retire_locked(p->second, reason::kReplaced, a);
      set_condition_locked(s, "Rollout", true, "RolledOut",
                           fmt::format("{} takes all traffic", rev.name));
      a.routes.push_back(route_locked(s));
    } else {
      // New instances are ready before old ones drain: as many as the old revision has ready.
      int target = std::max(1, old.ready);
      target = std::max(target, spec.scaling.min_instances);
      if (spec.scaling.max_instances > 0) target = std::min(target, spec.scaling.max_instances);
      s.rollout_to = rev.name;
      s.rollout_target = target;
      set_condition_locked(s, "Rollout", false, "RollingOut",
                           fmt::format("rolling out {}: waiting for {} ready instance(s); {} "
                                       "serves meanwhile",
                                       rev.name, target, previous));
    }
    s.conditions.erase("ColdStart");
    s.conditions.erase("Capacity");
    out.outcome = created ? DeployOutcome::kCreated : DeployOutcome::kUpdated;
    out.revision = rev.name;
    out.status = status_locked(s);
    a.rescan = true;
  }
  spdlog::info("services: {} {} ({}, image {})", spec.name,
               out.outcome == DeployOutcome::kCreated ? "created" : "updated", rev.name,
               rev.image_digest);
  run(std::move(a));
  return out;
}

Result<ServiceStatus> ServiceController::get(std::string_view name) const {
  std::vector<ServiceStatus> out;
  {
    Lock lock(mu_);
    auto it = services_.find(name);
    if (it == services_.end())
      return fail(Code::kNotFound, "no service \"{}\" (see `svctl services`)", name);
    out.push_back(status_locked(it->second));
  }
  with_live_load(out);
  return std::move(out.front());
}

std::vector<ServiceStatus> ServiceController::list() const {
  std::vector<ServiceStatus> out;
  {
    Lock lock(mu_);
    for (const auto& [name, s] : services_) out.push_back(status_locked(s));
  }
  with_live_load(out);
  return out;
}

void ServiceController::with_live_load(std::vector<ServiceStatus>& statuses) const {
  if (!data_plane_) return;
  std::map<std::string, ingress::InstanceLoad, std::less<>> now;
  for (auto& revision : data_plane_->load())
    for (auto& i : revision.instances) now.emplace(i.id, std::move(i));
  for (auto& st : statuses)
    for (auto& inst : st.instances)
      if (auto it = now.find(inst.id); it != now.end()) {
        inst.in_flight = it->second.in_flight;
        inst.requests_total = std::max(inst.requests_total, it->second.requests_total);
      }
}

Result<> ServiceController::remove(std::string_view name) {
  std::lock_guard deploy_lock(deploy_mu_);
  Actions a;
  {
    Lock lock(mu_);
    auto it = services_.find(name);
    if (it == services_.end())
      return fail(Code::kNotFound, "no service \"{}\" (see `svctl services`)", name);
    SVC_TRY_CTX(store_.remove_service(it->second.svc.name), "remove service {}", name);
    for (auto& [rev_name, r] : revisions_)
      if (r.rev.service == name) retire_locked(r, reason::kDeleted, a);
    a.unroutes.push_back(std::string(name));
    services_.erase(it);
    a.rescan = true;
  }
  {
    std::lock_guard stats_lock(stats_mu_);
    if (auto it = stats_.find(name); it != stats_.end()) stats_.erase(it);
  }
  logs_.forget(std::string(name));
  spdlog::info("services: {} removed; its instances drain and stop", name);
  run(std::move(a));
  return {};
}

int ServiceController::drain_all(std::string message) {
  Actions a;
  int drained = 0;
  {
    Lock lock(mu_);
    for (auto& [id, e] : instances_) drained += drain_locked(e, reason::kNodeDrained, message, a);
  }
  if (drained > 0) spdlog::info("services: {} instance(s) drain: {}", drained, message);
  run(std::move(a));
  return drained;
}

InstanceCounts ServiceController::counts() const {
  Lock lock(mu_);
  InstanceCounts out;
  for (const auto& [id, e] : instances_) {
    ++out.by_revision[{e.inst.service, e.inst.revision}][e.inst.state];
    ++out.total;
  }
  return out;
}

bool ServiceController::has_instance(std::string_view id) const {
  Lock lock(mu_);
  return instances_.find(id) != instances_.end();
}

// ---- ingress::ControlPlane ------------------------------------------------------------------
// On the data plane's io threads: post, never block.

void ServiceController::on_demand(const std::string&, std::size_t) {
  if (!stopping_.load()) request_scale();
}

void ServiceController::on_ready(const std::string& id, SteadyTime at) {
  executor_.post([this, id, at] { handle_ready(id, at); });
}

void ServiceController::on_not_ready(const std::string& id, std::string why) {
  executor_.post([this, id, why = std::move(why)] { handle_not_ready(id, why); });
}

void ServiceController::on_drained(const std::string& id) {
  executor_.post([this, id] { handle_drained(id); });
}

void ServiceController::on_busy(const std::string&, bool, SteadyTime) {
  // Request-mode billing and CPU throttling outside requests will use these edges; the
  // autoscaler reads in-flight counts from load() instead.
}

void ServiceController::on_upstream_error(const std::string& id, std::string why) {
  // The instance's exit (if it crashed) comes from its shim; this only explains a 502.
  spdlog::debug("services: instance {}: {}", id, why);
}

void ServiceController::on_request(const ingress::RequestRecord& record) {
  if (record.service.empty()) return;  // an unknown host: no service to count it for
  {
    std::lock_guard lock(stats_mu_);
    stats_[record.service].add(record);
  }
  logs_.request(record);
}

}  // namespace svc::services
