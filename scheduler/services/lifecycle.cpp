// The service controller's instance lifecycle: launch (or re-adopt) a sandbox and hand it to
// the data plane, and what follows from its readiness, drain and exit; recovery at start.
#include <csignal>

#include <spdlog/spdlog.h>

#include "common/units.hpp"
#include "scheduler/services/controller.hpp"
#include "scheduler/services/process.hpp"

namespace svc::services {

namespace {

std::string describe_exit(const scheduler::ExitInfo& info, const scheduler::Resources& res) {
  if (info.lost)
    return info.error.empty() ? std::string("its sandbox's supervisor vanished") : info.error;
  if (!info.error.empty()) return info.error;  // could not exec its program
  if (info.oom_killed)
    return fmt::format("ran out of memory (its limit is {})",
                       format_size_human(res.memory_limit_bytes));
  if (info.signal != 0) return fmt::format("killed by {}", scheduler::signal_name(info.signal));
  return fmt::format("exited with code {}", info.exit_code);
}

}  // namespace

void ServiceController::watch(const std::string& id) {
  auto r = runtime_.watch(id, [this, id](scheduler::ExitInfo info) {
    // On the runtime's monitor thread: hand over at once.
    executor_.post([this, id, info] { handle_exit(id, info); });
  });
  if (!r) {
    spdlog::error("services: cannot watch instance {}: {} (stopping it)", id, r.error().message());
    (void)runtime_.signal(id, SIGKILL);
  }
}

void ServiceController::launch(Launch job) {
  const std::string& id = job.id;
  int stop_signal = SIGTERM;
  if (!job.revision.spec.stop_signal.empty())
    stop_signal = scheduler::parse_signal(job.revision.spec.stop_signal);
  if (stop_signal == 0) stop_signal = SIGTERM;
  std::optional<SteadyTime> sandbox_started;
  if (!job.adopt) {
    if (!job.image) {
      // The revision's lease already keeps its image; taking it again under the same holder
      // finds (or pulls) and keeps it in one step.
      std::atomic<bool> never{false};
      const std::string holder = revision_lease(job.revision.name);
      auto image = images_.acquire_local(holder, job.revision.spec.image);
      if (!image && image.error().code() == Code::kNotFound)
        image = images_.pull(holder, job.revision.spec.image, never);
      if (!image) {
        launch_failed(
            id, fmt::format("image {}: {}", job.revision.spec.image, image.error().message()));
        return;
      }
      job.image = *image;
      Lock lock(mu_);
      if (auto r = revisions_.find(job.revision.name); r != revisions_.end() && !r->second.image)
        r->second.image = *image;
    }
    auto spec = make_instance_launch(job.revision, id, *job.image, job.resources);
    if (!spec) {
      launch_failed(id, spec.error().message());
      return;
    }
    stop_signal = spec->stop_signal;
    auto pid = runtime_.launch(*spec);
    if (!pid) {
      launch_failed(id, pid.error().message());
      return;
    }
    sandbox_started = clock_.steady_now();
    watch(id);
    Result<> recorded;
    {
      // Its start is durable (and its usage record open, daemon/store) before it serves.
      Lock lock(mu_);
      if (auto it = instances_.find(id); it != instances_.end()) {
        it->second.inst.pid = *pid;
        it->second.inst.started_at = clock_.now();
        recorded = store_.put_instance(it->second.inst);
      }
    }
    if (!recorded) {
      // Unrecorded, it would run unbilled and unknown to the next svcd: stopped instead.
      (void)runtime_.signal(id, SIGKILL);
      launch_failed(id, fmt::format("record its start: {}", recorded.error().message()));
      return;
    }
  } else {
    watch(id);
  }

  // Draining already (its service went, or a recovery found it leaving): stop, do not route.
  bool draining = false;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) {
      lock.unlock();
      // Its exit was handled while this ran, or it was forgotten: nothing may be left.
      (void)runtime_.signal(id, SIGKILL);
      return;
    }
    InstanceEntry& e = it->second;
    e.stop_signal = stop_signal;
    e.stop_grace = job.revision.spec.stop_grace;
    if (e.inst.state == InstanceState::kDraining) {
      e.launching = false;
      e.stopping = true;
      draining = true;
    }
  }
  if (draining) {
    if (auto r = runtime_.stop(id, stop_signal, job.revision.spec.stop_grace); !r)
      spdlog::warn("services: stop instance {}: {}", id, r.error().message());
    return;
  }

  auto socket = network_.open(id);
  if (!socket) {
    // Without a way in, the instance is useless: a failed start.
    (void)runtime_.signal(id, SIGKILL);
    launch_failed(id, fmt::format("reach its network namespace: {}", socket.error().message()));
    return;
  }
  ingress::InstanceEndpoint ep;
  ep.id = id;
  ep.service = job.revision.service;
  ep.revision = job.revision.name;
  ep.port = job.revision.spec.port;
  ep.concurrency = job.revision.spec.scaling.concurrency;
  ep.make_socket = std::move(*socket);
  ingress::Readiness readiness;
  readiness.http_path = job.revision.spec.readiness_path;
  readiness.timeout = job.revision.spec.readiness_timeout;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) {
      lock.unlock();
      network_.close(id);
      (void)runtime_.signal(id, SIGKILL);
      return;
    }
    InstanceEntry& e = it->second;
    e.launching = false;
    if (e.inst.state == InstanceState::kDraining) {
      // Drained while the socket was being made: stop it instead.
      e.stopping = true;
      lock.unlock();
      (void)runtime_.stop(id, stop_signal, job.revision.spec.stop_grace);
      return;
    }
    e.sandbox_started = sandbox_started;
    e.routed = true;
    if (!job.adopt) {
      ep.start_requested = e.start_requested;
      ep.sandbox_started = sandbox_started;
    }
  }
  if (data_plane_) data_plane_->add_instance(std::move(ep), readiness);
}

void ServiceController::launch_failed(const std::string& id, const std::string& why) {
  if (auto r = runtime_.remove(id); !r && r.error().code() != Code::kNotFound)
    spdlog::warn("services: remove instance {} after its failed start: {}", id,
                 r.error().message());
  network_.close(id);
  Actions a;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) return;
    std::string revision = it->second.inst.revision;
    capacity_.release("instance:" + id);
    // A sandbox that ran (and so has a usage record) ends now.
    it->second.inst.end = InstanceEnd{clock_.now(), 0, 0, false, std::nullopt};
    if (it->second.inst.stop_reason.empty())
      it->second.inst.stop_reason = std::string(reason::kStartFailed);
    if (auto r = store_.end_instance(it->second.inst); !r)
      spdlog::error("services: forget instance {}: {}", id, r.error().message());
    instances_.erase(it);
    spdlog::warn("services: instance {} did not start: {}", id, why);
    if (auto r = revisions_.find(revision); r != revisions_.end() && !r->second.retired)
      failed_start_locked(r->second, why, std::nullopt, a);
  }
  run(std::move(a));
}

void ServiceController::handle_exit(const std::string& id, const scheduler::ExitInfo& info) {
  Actions a;
  std::string service;
  bool keep_logs = false;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) return;
    InstanceEntry& e = it->second;
    auto rit = revisions_.find(e.inst.revision);
    RevisionEntry* r = rit == revisions_.end() ? nullptr : &rit->second;
    std::string why = describe_exit(info, resources_of(r ? r->rev.spec : ServiceSpec{}));
    bool crashed = !e.stopping && e.inst.state != InstanceState::kDraining;
    std::optional<Millis> ready_for;
    if (crashed) {
      bool was_ready = e.inst.state == InstanceState::kReady;
      if (e.ready_since)
        ready_for = std::chrono::duration_cast<Millis>(clock_.steady_now() - *e.ready_since);
      e.inst.stop_reason = std::string(info.oom_killed ? reason::kOomKilled
                                       : info.lost     ? reason::kLost
                                       : was_ready     ? reason::kCrashed
                                                       : reason::kStartFailed);
      e.inst.stop_message = was_ready ? why + " while serving" : why + " before it was ready";
    }
    if (info.exit_code != 0 || info.signal != 0) e.inst.exit_code = info.exit_code;
    if (e.routed) a.removals.emplace_back(id, crashed ? e.inst.stop_message : why);
    capacity_.release("instance:" + id);
    e.inst.end = InstanceEnd{info.exited_at.value_or(clock_.now()), info.cpu_seconds,
                             info.memory_peak_bytes, info.lost, info.started_at};
    if (auto w = store_.end_instance(e.inst); !w)
      spdlog::error("services: forget instance {}: {}", id, w.error().message());
    service = e.inst.service;
    keep_logs = services_.count(service) > 0;
    if (crashed)
      spdlog::warn("services: instance {} {}", id, e.inst.stop_message);
    else
      spdlog::info("services: instance {} stopped ({}: {}; {})", id, e.inst.stop_reason,
                   e.inst.stop_message, why);
    std::string message = e.inst.stop_message;
    instances_.erase(it);
    if (crashed && r && !r->retired) failed_start_locked(*r, message, ready_for, a);
    a.rescan = true;
  }
  run(std::move(a));
  network_.close(id);
  if (keep_logs) logs_.archive(service, id);
  if (auto r = runtime_.remove(id); !r && r.error().code() != Code::kNotFound)
    spdlog::warn("services: remove the sandbox of instance {}: {}", id, r.error().message());
}

void ServiceController::handle_ready(const std::string& id, SteadyTime at) {
  Actions a;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second.inst.state != InstanceState::kStarting) return;
    InstanceEntry& e = it->second;
    e.inst.state = InstanceState::kReady;
    e.inst.ready_at = clock_.now();
    e.ready_since = at;
    persist_instance_locked(e);
    auto rit = revisions_.find(e.inst.revision);
    if (rit == revisions_.end()) return;
    rit->second.backoff.succeeded();
    if (ServiceEntry* s = service_of_locked(rit->second)) {
      if (!e.inst.adopted) {
        auto took = std::chrono::duration_cast<Millis>(at - e.start_requested);
        set_condition_locked(*s, "ColdStart", true, "Started",
                             fmt::format("last cold start: {} was ready {} after it was asked for",
                                         id, format_duration(took)));
      }
      plan_rollout_locked(*s, a);
    }
  }
  run(std::move(a));
}

void ServiceController::handle_not_ready(const std::string& id, const std::string& why) {
  Actions a;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second.stopping) return;
    InstanceEntry& e = it->second;
    auto rit = revisions_.find(e.inst.revision);
    if (e.inst.state == InstanceState::kReady) {
      // It was serving and refused the proxy's connection: nothing listens on its port any
      // more. The data plane routes nothing new to it; what it has in flight may finish within
      // its stop grace period. Replaced as a crash is (with its back-off).
      std::optional<Millis> ready_for;
      if (e.ready_since)
        ready_for = std::chrono::duration_cast<Millis>(clock_.steady_now() - *e.ready_since);
      std::string message = "stopped accepting connections while serving (" + why + ")";
      drain_locked(e, reason::kStoppedListening, message, a);
      e.stopping = true;
      a.stops.push_back(Stop{id, e.stop_signal, e.stop_grace});
      spdlog::warn("services: instance {} {}", id, message);
      if (rit != revisions_.end() && !rit->second.retired)
        failed_start_locked(rit->second, message, ready_for, a);
      lock.unlock();
      run(std::move(a));
      return;
    }
    std::string message = "not ready: " + why;
    if (rit != revisions_.end())
      message = fmt::format("not ready within {}: {}",
                            format_duration(rit->second.rev.spec.readiness_timeout), why);
    e.inst.state = InstanceState::kDraining;
    e.inst.draining_at = clock_.now();
    e.inst.stop_reason = std::string(reason::kNotReady);
    e.inst.stop_message = message;
    e.stopping = true;
    persist_instance_locked(e);
    if (e.routed) a.removals.emplace_back(id, message);
    e.routed = false;
    a.stops.push_back(Stop{id, SIGKILL, Millis(0)});
    if (rit != revisions_.end() && !rit->second.retired)
      failed_start_locked(rit->second, message, std::nullopt, a);
  }
  run(std::move(a));
}

void ServiceController::handle_drained(const std::string& id) {
  Actions a;
  {
    Lock lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second.stopping) return;
    InstanceEntry& e = it->second;
    e.stopping = true;
    a.stops.push_back(Stop{id, e.stop_signal, e.stop_grace});
  }
  run(std::move(a));
}

// ---- recovery -------------------------------------------------------------------------------

Result<> ServiceController::recover(bool node_rebooted) {
  auto contents = SVC_TRY_CTX(store_.load_all(), "load services");
  std::map<std::string, scheduler::SandboxInfo> sandboxes;
  if (auto list = runtime_.list(); list) {
    for (auto& s : *list) sandboxes.emplace(s.id, s);
  } else {
    spdlog::error("services: cannot list instance sandboxes: {}", list.error().message());
  }
  Actions a;
  int adopted = 0, ended = 0, orphans = 0;
  std::size_t service_count = 0;
  {
    Lock lock(mu_);
    SteadyTime now = clock_.steady_now();
    for (Revision& rev : contents.revisions) {
      std::string name = rev.name;
      revisions_.emplace(name, RevisionEntry(std::move(rev), options_.backoff));
    }
    for (Service& svc : contents.services) {
      ServiceEntry& s = services_[svc.name];
      s.svc = std::move(svc);
      std::string latest = revision_name(s.svc.name, s.svc.latest_revision);
      if (latest != s.svc.serving_revision && revisions_.count(latest)) s.rollout_to = latest;
    }
    for (auto& [name, r] : revisions_) {
      ServiceEntry* s = service_of_locked(r);
      if (!s || (s->svc.serving_revision != name && s->rollout_to != name)) r.retired = true;
    }
    std::map<std::string, Instance> rows;
    for (Instance& i : contents.instances) rows[i.id] = std::move(i);
    for (auto& [id, sb] : sandboxes) {
      auto row = rows.find(id);
      std::string rev_name = row != rows.end() ? row->second.revision : revision_of_instance(id);
      auto rit = revisions_.find(rev_name);
      bool known = rit != revisions_.end() && services_.count(rit->second.rev.service);
      if (sb.status != scheduler::SandboxInfo::Status::kRunning || !known) {
        // Ended while svcd was down, or nobody wants it any more: keep its output, remove it.
        if (known && !node_rebooted) a.archives.emplace_back(rit->second.rev.service, id);
        a.kills.push_back(id);
        // Its end, from its exit record; one nobody wants any more ends now (it is killed).
        Instance ended_row = row != rows.end() ? row->second : Instance{};
        ended_row.id = id;
        ended_row.end = InstanceEnd{clock_.now(), 0, 0, false, std::nullopt};
        if (sb.status == scheduler::SandboxInfo::Status::kLost) ended_row.end->lost = true;
        if (sb.status == scheduler::SandboxInfo::Status::kExited && sb.exit)
          ended_row.end =
              InstanceEnd{sb.exit->exited_at.value_or(clock_.now()), sb.exit->cpu_seconds,
                          sb.exit->memory_peak_bytes, sb.exit->lost, sb.exit->started_at};
        if (auto w = store_.end_instance(ended_row); !w)
          spdlog::error("services: forget instance {}: {}", id, w.error().message());
        ++(known ? ended : orphans);
        continue;
      }
      RevisionEntry& r = rit->second;
      InstanceEntry e;
      if (row != rows.end()) e.inst = row->second;
      e.inst.id = id;
      e.inst.service = r.rev.service;
      e.inst.revision = r.rev.name;
      if (row == rows.end()) e.inst.created_at = clock_.now();
      e.inst.adopted = true;
      e.inst.pid = sb.pid;
      e.inst.in_flight = 0;
      e.reserved = resources_of(r.rev.spec).request();
      capacity_.force_reserve("instance:" + id, e.reserved);
      e.launching = true;
      if (r.retired || e.inst.state == InstanceState::kDraining) {
        e.inst.state = InstanceState::kDraining;  // launch() stops it instead of routing it
        if (e.inst.stop_reason.empty()) e.inst.stop_reason = std::string(reason::kReplaced);
      } else {
        e.inst.state = InstanceState::kStarting;  // routed again once its probe passes
        e.inst.ready_at.reset();
      }
      instances_.emplace(id, std::move(e));
      a.launches.push_back(Launch{id, r.rev, std::nullopt, resources_of(r.rev.spec), true});
      ++adopted;
    }
    for (auto& [id, row] : rows) {
      if (sandboxes.count(id)) continue;
      // Its sandbox is gone without a trace: it ends when it was last seen alive.
      row.end = InstanceEnd{clock_.now(), 0, 0, true, std::nullopt};
      if (auto w = store_.end_instance(row); !w)
        spdlog::error("services: forget instance {}: {}", id, w.error().message());
    }
    for (auto& [name, r] : revisions_) {
      Counts c = count_locked(name);
      // No history yet: hold what runs until the windows fill, as KPA starts in panic, and
      // count the restart as activity (when the last request came is not known).
      r.scaler.start_in_panic(now, c.starting);
      if (c.starting > 0) r.scaler.touch(now);
      if (r.retired && c.starting + c.ready + c.draining == 0 && r.leased) {
        a.releases.push_back(revision_lease(name));
        r.leased = false;
      }
    }
    for (auto& [name, s] : services_) {
      if (!s.rollout_to.empty())
        s.rollout_target = std::max(1, count_locked(s.svc.serving_revision).starting);
      a.routes.push_back(route_locked(s));
    }
    service_count = services_.size();
  }
  spdlog::info(
      "services: recovered {} service(s): {} instance(s) re-adopted, {} ended while svcd was "
      "down, {} orphan sandbox(es) removed",
      service_count, adopted, ended, orphans);
  run(std::move(a));
  return {};
}

}  // namespace svc::services
