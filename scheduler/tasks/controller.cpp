#include "scheduler/tasks/controller.hpp"

#include <algorithm>
#include <csignal>

#include <spdlog/spdlog.h>

#include "common/digest.hpp"
#include "common/units.hpp"
#include "scheduler/tasks/launch.hpp"

namespace svc::scheduler {

namespace {

std::string describe_exit(const ExitInfo& info) {
  if (info.signal != 0) return fmt::format("killed by {}", signal_name(info.signal));
  return fmt::format("exited with code {}", info.exit_code);
}

}  // namespace

TaskController::TaskController(TaskStore& store, ImageSource& images, TaskRuntime& runtime,
                               Executor& executor, const Clock& clock, Capacity& capacity,
                               Options options)
    : store_(store),
      images_(images),
      runtime_(runtime),
      executor_(executor),
      clock_(clock),
      capacity_(capacity),
      options_(options),
      events_(options_.events) {
  lifeline_->self = this;
  // Room freed by anyone (a service instance too) may let a queued task start. The listener
  // runs on the releasing thread, maybe under its lock: post, never lock here.
  release_listener_ = capacity_.on_release([life = std::weak_ptr<Lifeline>(lifeline_)] {
    auto l = life.lock();
    if (!l) return;
    std::lock_guard guard(l->mu);
    if (TaskController* self = l->self)
      self->executor_.post([self] {
        Lock lock(self->mu_);
        self->drain_queue_locked();
      });
  });
}

TaskController::~TaskController() {
  capacity_.remove_listener(release_listener_);
  {
    std::lock_guard guard(lifeline_->mu);
    lifeline_->self = nullptr;
  }
  shutdown();
}

void TaskController::shutdown() {
  Lock lock(mu_);
  shutting_down_ = true;
  for (auto& [id, e] : tasks_) {
    e.cancel->store(true);
    for (std::uint64_t* timer :
         {&e.timeout_timer, &e.remove_timer, &e.record_timer, &e.start_timer}) {
      if (*timer) executor_.cancel(*timer);
      *timer = 0;
    }
  }
  if (drain_timer_) executor_.cancel(drain_timer_);
  drain_timer_ = 0;
  changed_.notify_all();
}

// ---- lookups --------------------------------------------------------------------------------

const TaskController::Entry* TaskController::find_locked(std::string_view ref) const {
  return const_cast<TaskController*>(this)->find_locked(ref);
}

TaskController::Entry* TaskController::find_locked(std::string_view ref) {
  if (ref.empty()) return nullptr;
  if (auto it = tasks_.find(std::string(ref)); it != tasks_.end()) return &it->second;
  for (auto& [id, e] : tasks_)
    if (e.task.spec.name == ref) return &e;
  return nullptr;
}

Result<TaskController::Entry*> TaskController::must_find_locked(std::string_view ref) {
  if (ref.empty()) return fail(Code::kInvalidArgument, "id: name the task (its id or name)");
  if (Entry* e = find_locked(ref)) return e;
  if (ref.size() >= 4) {
    Entry* match = nullptr;
    int count = 0;
    for (auto& [id, e] : tasks_) {
      if (id.starts_with(ref)) {
        match = &e;
        ++count;
      }
    }
    if (count == 1) return match;
    if (count > 1)
      return fail(Code::kInvalidArgument, "\"{}\" matches {} tasks: give more of the id", ref,
                  count);
  }
  return fail(Code::kNotFound, "no task \"{}\" (see `svctl ps -a`)", ref);
}

std::string TaskController::new_id_locked() const {
  for (;;) {
    std::string id = random_hex(8);
    if (!tasks_.count(id)) return id;
  }
}

// ---- capacity -------------------------------------------------------------------------------

bool TaskController::reserve_locked(Entry& e, Capacity::Refusal* refused) {
  const Resources& r = e.task.resources;
  if (!capacity_.try_reserve(holder(e.task.id), r.request(), r.limit(), refused)) return false;
  e.reserved = true;
  return true;
}

void TaskController::readopt_reservation_locked(Entry& e) {
  // The sandbox runs (or will) whatever the ledger says now: reserve past the total if need be.
  capacity_.force_reserve(holder(e.task.id), e.task.resources.request(), e.task.resources.limit());
  e.reserved = true;
}

void TaskController::release_capacity_locked(Entry& e) {
  if (!e.reserved) return;
  e.reserved = false;
  capacity_.release(holder(e.task.id));
  drain_queue_locked();
}

void TaskController::drain_queue_locked() {
  if (shutting_down_) return;
  while (!queue_.empty()) {
    auto it = tasks_.find(queue_.front());
    if (it == tasks_.end() || it->second.task.state != TaskState::kPending) {
      queue_.pop_front();
      continue;
    }
    Entry& e = it->second;
    if (!reserve_locked(e, nullptr)) break;  // FIFO: the head waits, so do the others
    Task before = e.task;
    e.task.queued_reason.clear();
    if (auto r = record_locked(e, before, "capacity available: starting", Unrecorded::kUndo); !r) {
      // It stays queued, and the room stays free for it: try again soon.
      capacity_.release(holder(e.task.id));
      e.reserved = false;
      spdlog::error("tasks: {}: the queue waits and tries again", r.error().message());
      arm_drain_retry_locked();
      break;
    }
    queue_.pop_front();
    start_async(e.task.id);
  }
}

void TaskController::arm_drain_retry_locked() {
  if (drain_timer_ || shutting_down_) return;
  drain_timer_ = executor_.schedule(clock_.steady_now() + Millis(1000), [this] {
    Lock lock(mu_);
    drain_timer_ = 0;
    if (!shutting_down_) drain_queue_locked();
  });
}

void TaskController::arm_timeout_locked(Entry& e) {
  if (e.task.spec.timeout.count() <= 0 || !e.task.running_at) return;
  auto elapsed = clock_.now() - *e.task.running_at;
  auto left = std::chrono::duration_cast<Millis>(e.task.spec.timeout - elapsed);
  if (left.count() < 0) left = Millis(0);
  std::string id = e.task.id;
  e.timeout_timer = executor_.schedule(clock_.steady_now() + left, [this, id] { on_timeout(id); });
}

void TaskController::arm_auto_remove_locked(Entry& e) {
  if (!e.task.spec.auto_remove || e.remove_timer || shutting_down_) return;
  std::string id = e.task.id;
  e.remove_timer =
      executor_.schedule(clock_.steady_now() + options_.auto_remove_linger, [this, id] {
        if (auto r = remove(id, true); !r && r.error().code() != Code::kNotFound)
          spdlog::warn("tasks: auto-remove of {}: {}", id, r.error().message());
      });
}

// ---- run ------------------------------------------------------------------------------------

Result<Task> TaskController::run(TaskSpec spec) {
  if (auto err = validate_spec(spec, options_.limits)) return fail(Code::kInvalidArgument, *err);
  if (spec.stop_grace.count() == 0) spec.stop_grace = kDefaultStopGrace;
  Resources resources = resolve_resources(resource_ask(spec), options_.defaults);

  Lock lock(mu_);
  if (shutting_down_) return fail(Code::kUnavailable, "svcd is shutting down");
  if (!capacity_.can_ever_fit(resources.request()))
    return fail(Code::kResourceExhausted,
                "the task requests {} vCPU and {} memory, more than this node can ever give ({} "
                "vCPU and {} allocatable): ask for less",
                format_cpu_millis(resources.cpu_request_millis),
                format_size_human(resources.memory_request_bytes),
                format_cpu_millis(capacity_.total().cpu_millis),
                format_size_human(capacity_.total().memory_bytes));
  Task t;
  t.id = new_id_locked();
  if (spec.name.empty()) spec.name = "task-" + t.id.substr(0, 8);
  for (const auto& [id, e] : tasks_)
    if (e.task.spec.name == spec.name)
      return fail(Code::kAlreadyExists,
                  "a task named \"{}\" already exists ({}): pick another name or remove it with "
                  "`svctl rm {}`",
                  spec.name, id, spec.name);
  t.spec = std::move(spec);
  t.resources = resources;
  t.state = TaskState::kPending;
  t.created_at = clock_.now();
  Entry e;
  e.task = t;
  e.recorded = t;
  Capacity::Refusal refused;
  bool fits = reserve_locked(e, &refused);
  if (!fits) {
    std::string need = fmt::format("the task requests {} vCPU and {} memory; {}",
                                   format_cpu_millis(resources.cpu_request_millis),
                                   format_size_human(resources.memory_request_bytes), refused.why);
    if (!t.spec.queue && refused.cordoned)
      return fail(Code::kUnavailable, "cannot run the task: {}; pass --queue to start it then",
                  refused.why);
    if (!t.spec.queue)
      return fail(Code::kResourceExhausted,
                  "not enough capacity: {}. Wait for tasks to finish, ask for less, or pass "
                  "--queue to wait for room",
                  need);
    t.queued_reason = e.task.queued_reason = "waiting for capacity: " + need;
  }
  if (auto stored = store_.insert(t); !stored) {
    if (fits) capacity_.release(holder(t.id));
    return tl::unexpected(std::move(stored).error().context("record task"));
  }
  tasks_[t.id] = std::move(e);
  if (!fits) queue_.push_back(t.id);
  events_.publish(event_for(t, fits ? "created" : t.queued_reason));
  changed_.notify_all();
  if (fits) start_async(t.id);
  return t;
}

void TaskController::start_async(const std::string& id) {
  executor_.post([this, id] { start_task(id); });
}

void TaskController::start_task(const std::string& id) {
  std::shared_ptr<std::atomic<bool>> cancel;
  std::string image_ref;
  {
    Lock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end() || shutting_down_) return;
    Entry& e = it->second;
    bool retry = std::exchange(e.retry_start, false);
    if (e.task.state == TaskState::kPending) {
      if (auto r = set_state_locked(e, TaskState::kPulling, "resolving image " + e.task.spec.image,
                                    Unrecorded::kUndo);
          !r) {
        // Not started, nothing to undo: it stays PENDING (as recorded) and tries again.
        spdlog::error("tasks: {}: the start is retried", r.error().message());
        retry_start_locked(e);
        return;
      }
    } else if (!(retry && e.task.state == TaskState::kPulling)) {
      return;  // stopped or removed meanwhile, or already under way
    }
    cancel = e.cancel;
    image_ref = e.task.spec.image;
  }
  auto local = images_.acquire_local(id, image_ref);
  if (!local && local.error().code() == Code::kNotFound) {
    // A pull may take as long as the registry does: off the main executor, so tasks whose
    // image is here start meanwhile.
    Executor& pulls = options_.pulls ? *options_.pulls : executor_;
    pulls.post([this, id, image_ref, cancel] { pull_image(id, image_ref, cancel); });
    return;
  }
  launch_task(id, std::move(local));
}

void TaskController::pull_image(const std::string& id, const std::string& reference,
                                std::shared_ptr<std::atomic<bool>> cancel) {
  auto image = images_.pull(id, reference, *cancel);
  if (options_.pulls) {
    executor_.post(
        [this, id, image = std::move(image)]() mutable { launch_task(id, std::move(image)); });
  } else {
    launch_task(id, std::move(image));
  }
}

void TaskController::launch_task(const std::string& id, Result<ResolvedImage> image) {
  LaunchSpec launch;
  {
    Lock lock(mu_);
    auto it = tasks_.find(id);
    bool wanted = it != tasks_.end() && it->second.task.state == TaskState::kPulling;
    if (!wanted || !image) {
      // Removed or stopped meanwhile (the lease is not needed), or the image failed.
      if (image) (void)images_.release(id);
      if (!wanted) return;
      (void)finish_locked(it->second, reason::kImagePullFailed, image.error().message(),
                          Unrecorded::kKeep);
      return;
    }
    Entry& e = it->second;
    Task before = e.task;
    e.task.image_digest = image->digest;
    auto spec = make_launch_spec(e.task, *image);
    if (!spec) {
      (void)images_.release(id);
      (void)finish_locked(e, reason::kStartFailed, spec.error().message(), Unrecorded::kKeep);
      return;
    }
    if (auto r = set_state_locked(e, TaskState::kStarting, "starting sandbox", Unrecorded::kUndo);
        !r) {
      // No sandbox may exist that the record does not know of (recover() would not find it):
      // back to PULLING as recorded, the lease let go, and the start tried again.
      e.task = before;
      (void)images_.release(id);
      spdlog::error("tasks: {}: the start is retried", r.error().message());
      retry_start_locked(e);
      return;
    }
    launch = std::move(*spec);
    e.launched = true;
  }

  auto fail_start = [&](const std::string& message) {
    (void)runtime_.remove(id);
    (void)images_.release(id);
    Lock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    it->second.launched = false;
    if (it->second.task.state == TaskState::kStarting)
      (void)finish_locked(it->second, reason::kStartFailed, message, Unrecorded::kKeep);
  };

  auto pid = runtime_.launch(launch);
  if (!pid) {
    fail_start(pid.error().message());
    return;
  }
  auto watched = runtime_.watch(id, [this, id](ExitInfo info) { on_exit(id, info); });
  // RUNNING means the program runs: a sandbox whose execve failed goes from STARTING to
  // STOPPED (StartFailed, 127) through its exit, and never shows RUNNING (which `svctl run -d`
  // waits for). One round trip to the shim, which knows at once.
  bool execd = launch.hold || runtime_.program_started(id);

  bool orphan = false;
  bool stop_now = false;
  int stop_sig = launch.stop_signal;
  Millis grace = launch.stop_grace;
  {
    Lock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) {
      orphan = true;  // removed while it was starting: undo below
    } else {
      Entry& e = it->second;
      if (e.task.pid == 0) e.task.pid = *pid;
      if (e.task.state == TaskState::kStarting && execd) {
        // It runs, recorded or not (a retry records it): kKeep.
        (void)set_state_locked(
            e, TaskState::kRunning,
            launch.hold ? fmt::format("running as pid {}, held for its first attach", *pid)
                        : fmt::format("running as pid {}", *pid),
            Unrecorded::kKeep);
        arm_timeout_locked(e);
        if (launch.hold) arm_attach_hold_locked(e);
        if (e.task.stop_requested) {
          (void)set_state_locked(e, TaskState::kStopping, "stop requested while starting",
                                 Unrecorded::kKeep);
          stop_now = true;
        }
      }
      if (!watched) {
        spdlog::error("tasks: cannot watch task {}: {}", id, watched.error().message());
        stop_now = true;
      }
    }
  }
  if (orphan) {
    (void)runtime_.signal(id, SIGKILL);
    (void)runtime_.remove(id);
    (void)images_.release(id);
    return;
  }
  if (stop_now) (void)runtime_.stop(id, stop_sig, grace);
}

// ---- exits, stops, timeouts -----------------------------------------------------------------

void TaskController::on_exit(const std::string& id, const ExitInfo& info) {
  Lock lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Entry& e = it->second;
  Task& t = e.task;
  if (t.state == TaskState::kStopped || t.state == TaskState::kPending ||
      t.state == TaskState::kPulling)
    return;
  // The sandbox has exited whatever the store says: every change here is kKeep (a retry
  // records it; the shim's exit record lets a restarted svcd find it again meanwhile).
  // An exit before start_task recorded RUNNING: the program ran, unless execve failed.
  if (t.state == TaskState::kStarting && info.error.empty())
    (void)set_state_locked(e, TaskState::kRunning, "running", Unrecorded::kKeep);
  // The shim's own record of when the process started is the truth: svcd noted RUNNING a few
  // ms after it (the usage record's close takes this start too).
  if (info.started_at) t.running_at = info.started_at;
  if (info.lost) {
    t.usage.pids = 0;
    (void)finish_locked(
        e, reason::kLost,
        info.error.empty() ? std::string("its sandbox's supervisor vanished") : info.error,
        Unrecorded::kKeep);
    return;
  }
  t.exit_code = info.exit_code;
  t.signal = info.signal;
  t.usage.cpu_seconds = info.cpu_seconds;
  t.usage.memory_peak_bytes = info.memory_peak_bytes;
  t.usage.memory_now_bytes = 0;
  t.usage.pids = 0;
  if (info.exited_at) t.stopped_at = info.exited_at;
  std::string_view why = reason::kExited;
  std::string message = describe_exit(info);
  if (!info.error.empty()) {
    // The runtime could not exec the task's program (exit code 127, as a shell says).
    why = reason::kStartFailed;
    message = info.error;
  } else if (info.oom_killed) {
    why = reason::kOomKilled;
    message = fmt::format("ran out of memory: its limit is {} ({})",
                          format_size_human(t.resources.memory_limit_bytes), describe_exit(info));
  } else if (t.timed_out) {
    why = reason::kTimedOut;
    message = fmt::format("stopped after its timeout of {} ({})", format_duration(t.spec.timeout),
                          describe_exit(info));
  } else if (t.stop_requested && t.drained) {
    why = reason::kNodeDrained;
    message = fmt::format("stopped by a node drain ({})", describe_exit(info));
  } else if (t.stop_requested) {
    why = reason::kStoppedByUser;
    message = fmt::format("stopped by user ({})", describe_exit(info));
  }
  (void)finish_locked(e, why, std::move(message), Unrecorded::kKeep);
}

Result<Task> TaskController::stop(std::string_view ref, std::optional<int> signal,
                                  std::optional<Millis> grace, bool drain) {
  Lock lock(mu_);
  Entry* e = SVC_TRY(must_find_locked(ref));
  Task& t = e->task;
  if (drain && t.state != TaskState::kStopped) t.drained = true;
  // A stop is recorded before svcd acts on it (kUndo): when the store fails, the caller hears
  // so and nothing is signalled or cancelled.
  Task before = t;
  switch (t.state) {
    case TaskState::kStopped:
      return shown(*e);
    case TaskState::kPending:
    case TaskState::kPulling:
      t.stop_requested = true;
      if (auto r = finish_locked(*e, drain ? reason::kNodeDrained : reason::kStoppedByUser,
                                 drain ? "stopped by a node drain before it started"
                                       : "stopped by user before it started",
                                 Unrecorded::kUndo);
          !r) {
        t = before;
        return tl::unexpected(std::move(r).error());
      }
      e->cancel->store(true);
      return t;
    case TaskState::kStarting:
      t.stop_requested = true;  // start_task stops it as soon as the sandbox exists
      SVC_TRY(record_locked(*e, before, {}, Unrecorded::kUndo));
      return t;
    case TaskState::kRunning:
    case TaskState::kStopping:
      break;
  }
  t.stop_requested = true;
  int sig = signal.value_or(0);
  if (sig == 0) sig = t.spec.stop_signal.empty() ? 0 : parse_signal(t.spec.stop_signal);
  if (sig == 0) sig = SIGTERM;
  Millis g = grace.value_or(t.spec.stop_grace);
  if (t.state == TaskState::kRunning) {
    if (auto r = set_state_locked(
            *e, TaskState::kStopping,
            fmt::format("sending {}, SIGKILL after {}", signal_name(sig), format_duration(g)),
            Unrecorded::kUndo);
        !r) {
      t = before;
      return tl::unexpected(std::move(r).error());
    }
  }
  std::string id = t.id;
  Task snapshot = shown(*e);
  lock.unlock();
  if (auto r = runtime_.stop(id, sig, g); !r)
    return tl::unexpected(std::move(r).error().context(fmt::format("stop task {}", id)));
  return snapshot;
}

void TaskController::on_timeout(const std::string& id) {
  int sig = SIGTERM;
  Millis grace{};
  {
    Lock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    Entry& e = it->second;
    e.timeout_timer = 0;
    if (e.task.state != TaskState::kRunning) return;
    Task before = e.task;
    e.task.timed_out = true;
    if (!e.task.spec.stop_signal.empty()) sig = parse_signal(e.task.spec.stop_signal);
    if (sig == 0) sig = SIGTERM;
    grace = e.task.spec.stop_grace;
    if (auto r = set_state_locked(
            e, TaskState::kStopping,
            fmt::format("timeout of {} reached", format_duration(e.task.spec.timeout)),
            Unrecorded::kUndo);
        !r) {
      // Recorded first, then stopped: try again soon (the task runs a little past its time).
      e.task = before;
      spdlog::error("tasks: {}: the timeout is retried", r.error().message());
      if (!shutting_down_)
        e.timeout_timer = executor_.schedule(clock_.steady_now() + next_backoff_locked(e),
                                             [this, id] { on_timeout(id); });
      return;
    }
  }
  if (auto r = runtime_.stop(id, sig, grace); !r)
    spdlog::error("tasks: stop {} after its timeout: {}", id, r.error().message());
}

// ---- remove, wait, list ---------------------------------------------------------------------

Result<> TaskController::remove(std::string_view ref, bool force) {
  std::string id;
  bool running = false;
  bool launched = false;
  {
    Lock lock(mu_);
    Entry* e = SVC_TRY(must_find_locked(ref));
    Task& t = e->task;
    if (t.state != TaskState::kStopped && !force)
      return fail(Code::kFailedPrecondition,
                  "task {} ({}) is {}: stop it first (`svctl stop {}`) or remove it with -f",
                  t.spec.name, t.id, state_name(t.state), t.spec.name);
    id = t.id;
    SVC_TRY_CTX(store_.remove(id), "remove task {}", id);
    running = t.state == TaskState::kRunning || t.state == TaskState::kStopping ||
              t.state == TaskState::kStarting;
    launched = e->launched;
    e->cancel->store(true);
    for (std::uint64_t timer : {e->timeout_timer, e->remove_timer, e->record_timer, e->start_timer})
      if (timer) executor_.cancel(timer);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    bool was_reserved = e->reserved;
    // What was not recorded goes with the row; what happened is said before it goes.
    for (auto& ev : e->unpublished) events_.publish(std::move(ev));
    events_.publish(event_for(t, "removed"));
    tasks_.erase(id);
    if (was_reserved) {
      capacity_.release(holder(id));
      drain_queue_locked();
    }
    changed_.notify_all();
  }
  if (running) (void)runtime_.signal(id, SIGKILL);
  if (launched || running) {
    auto r = runtime_.remove(id);
    if (!r && r.error().code() != Code::kNotFound)
      spdlog::warn("tasks: remove sandbox of task {}: {}", id, r.error().message());
  }
  if (auto r = images_.release(id); !r && r.error().code() != Code::kNotFound)
    spdlog::warn("tasks: release image of task {}: {}", id, r.error().message());
  return {};
}

Result<Task> TaskController::wait(std::string_view ref,
                                  std::chrono::steady_clock::time_point deadline,
                                  const std::function<bool()>& cancelled) {
  Lock lock(mu_);
  Entry* e = SVC_TRY(must_find_locked(ref));
  std::string id = e->task.id;
  ++e->waiters;
  for (;;) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return fail(Code::kNotFound, "task {} was removed", id);
    Entry& cur = it->second;
    auto leave = [&] { --cur.waiters; };
    // Stopped as recorded: an exit code that a restart could lose is not answered yet.
    if (shown(cur).state == TaskState::kStopped) {
      leave();
      Task result = shown(cur);
      if (cur.task.spec.auto_remove && cur.waiters == 0) {
        // Its exit code has been read: an auto-remove task goes now.
        executor_.post([this, id] { (void)remove(id, true); });
      }
      return result;
    }
    if (cancelled && cancelled()) {
      leave();
      return fail(Code::kCancelled, "wait for task {} cancelled", id);
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      leave();
      return fail(Code::kDeadlineExceeded, "task {} is still {}", id, state_name(shown(cur).state));
    }
    // Wake now and then to notice a caller that went away.
    changed_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                deadline - now, std::chrono::milliseconds(200)));
  }
}

Result<Task> TaskController::get(std::string_view ref) const {
  Lock lock(mu_);
  const Entry* e = SVC_TRY(const_cast<TaskController*>(this)->must_find_locked(ref));
  return shown(*e);
}

Result<std::pair<std::vector<Task>, std::string>> TaskController::list(
    const TaskFilter& filter) const {
  int page = filter.page_size <= 0 ? 100 : filter.page_size;
  if (page > 1000) return fail(Code::kInvalidArgument, "pageSize: at most 1000");
  Lock lock(mu_);
  std::vector<const Task*> all;
  for (const auto& [id, e] : tasks_) {
    const Task& t = shown(e);
    if (!filter.states.empty()) {
      if (std::find(filter.states.begin(), filter.states.end(), t.state) == filter.states.end())
        continue;
    } else if (!filter.all && t.state == TaskState::kStopped) {
      continue;
    }
    if (!filter.name.empty() && t.spec.name != filter.name) continue;
    bool labels_ok = true;
    for (const auto& [k, v] : filter.labels) {
      auto l = t.spec.labels.find(k);
      labels_ok = labels_ok && l != t.spec.labels.end() && l->second == v;
    }
    if (!labels_ok) continue;
    all.push_back(&t);
  }
  std::sort(all.begin(), all.end(), [](const Task* a, const Task* b) {
    return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id;
  });
  std::size_t start = 0;
  if (!filter.page_token.empty()) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const Task* t) { return t->id == filter.page_token; });
    if (it == all.end())
      return fail(Code::kInvalidArgument, "pageToken: \"{}\" is not from this listing",
                  filter.page_token);
    start = static_cast<std::size_t>(it - all.begin()) + 1;
  }
  std::vector<Task> out;
  for (std::size_t i = start; i < all.size() && out.size() < static_cast<std::size_t>(page); ++i)
    out.push_back(*all[i]);
  std::string next;
  if (start + out.size() < all.size() && !out.empty()) next = out.back().id;
  return std::make_pair(std::move(out), std::move(next));
}

std::shared_ptr<EventHub::Subscription> TaskController::subscribe(std::string task_id) {
  return events_.subscribe(std::move(task_id));
}

Result<std::shared_ptr<EventHub::Subscription>> TaskController::subscribe_since(
    std::string task_id, std::uint64_t since_seq) {
  // Under mu_, as every publish is: no event can get a number between the check and the
  // subscription.
  Lock lock(mu_);
  std::uint64_t next = events_.next_seq();
  if (since_seq >= next)
    return fail(Code::kInvalidArgument,
                "sinceSeq: {} is ahead of the newest event ({}): resume after a sequence you "
                "received, or leave it out to follow new events only",
                since_seq, next - 1);
  return events_.subscribe(std::move(task_id), since_seq);
}

Result<Task> TaskController::refresh_usage(std::string_view ref) {
  std::string id;
  {
    Lock lock(mu_);
    Entry* e = SVC_TRY(must_find_locked(ref));
    if (e->task.state != TaskState::kRunning && e->task.state != TaskState::kStopping)
      return shown(*e);
    id = e->task.id;
  }
  auto usage = runtime_.stats(id);
  Lock lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return fail(Code::kNotFound, "task {} was removed", id);
  Entry& e = it->second;
  if (usage && e.task.state != TaskState::kStopped) {
    e.task.usage = *usage;
    if (e.behind) e.recorded.usage = *usage;  // measured, not a change of state
  }
  return shown(e);
}

std::set<std::string> TaskController::task_ids() const {
  Lock lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, e] : tasks_) out.insert(id);
  return out;
}

int TaskController::running_count() const {
  Lock lock(mu_);
  int n = 0;
  for (const auto& [id, e] : tasks_)
    if (e.task.state == TaskState::kRunning || e.task.state == TaskState::kStopping) ++n;
  return n;
}

std::map<TaskState, int> TaskController::count_by_state() const {
  Lock lock(mu_);
  std::map<TaskState, int> counts;
  for (const auto& [id, e] : tasks_) ++counts[e.task.state];
  return counts;
}

}  // namespace svc::scheduler
