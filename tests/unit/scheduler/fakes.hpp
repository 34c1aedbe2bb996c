#pragma once
// Fakes for the task controller's ports: in-memory store, scripted images and runtime, a manual
// executor on a fake clock. They record what the controller asked, so tests assert behaviour.
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "common/clock.hpp"
#include "scheduler/tasks/ports.hpp"
#include "tests/unit/scheduler/fake_stdio.hpp"

namespace svc::scheduler::test {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'000) +
                                                 offset);
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1) + offset);
  }
  std::chrono::milliseconds offset{0};
};

class FakeStore final : public TaskStore {
 public:
  Result<> insert(const Task& t) override {
    std::lock_guard l(mu);
    if (fail_next) {
      fail_next = false;
      return fail(Code::kResourceExhausted, "disk full");
    }
    if (rows.count(t.id)) return fail(Code::kAlreadyExists, "dup");
    rows[t.id] = t;
    ++writes;
    return {};
  }
  Result<> update(const Task& t) override {
    std::lock_guard l(mu);
    if (failing) return fail(Code::kPermissionDenied, "attempt to write a readonly database");
    rows[t.id] = t;
    ++writes;
    return {};
  }
  Result<> remove(const std::string& id) override {
    std::lock_guard l(mu);
    rows.erase(id);
    return {};
  }
  Result<std::vector<Task>> load_all() override {
    std::lock_guard l(mu);
    std::vector<Task> out;
    for (auto& [id, t] : rows) out.push_back(t);
    return out;
  }
  std::mutex mu;
  std::map<std::string, Task> rows;
  int writes = 0;
  bool fail_next = false;  // the next insert fails
  bool failing = false;    // updates fail until cleared (a read-only or full disk)
};

class FakeImages final : public ImageSource {
 public:
  // Every image is local unless `remote` names it (then only pull() has it).
  Result<ResolvedImage> acquire_local(const std::string& holder, const std::string& ref) override {
    std::lock_guard l(mu);
    resolved.push_back(ref);
    if (remote.count(ref) || failing.count(ref))
      return fail(Code::kNotFound, "no image \"{}\" on this node", ref);
    return lease_locked(holder, ref);
  }
  Result<ResolvedImage> pull(const std::string& holder, const std::string& ref,
                             const std::atomic<bool>&) override {
    std::lock_guard l(mu);
    pulled.push_back(ref);
    if (failing.count(ref)) return fail(Code::kNotFound, "manifest unknown: {}", ref);
    remote.erase(ref);  // on the node now
    return lease_locked(holder, ref);
  }
  Result<> release(const std::string& holder) override {
    std::lock_guard l(mu);
    leases.erase(holder);
    return {};
  }
  std::mutex mu;
  ResolvedImage image{"",     "sha256:abc", {"/bin/sh"}, {"-c", "true"}, {"PATH=/bin", "A=image"},
                      "/srv", "",           "",          {"/snap/1"}};
  std::set<std::string> failing;
  std::set<std::string> remote;
  std::vector<std::string> resolved;
  std::vector<std::string> pulled;
  std::map<std::string, std::string> leases;

 private:
  Result<ResolvedImage> lease_locked(const std::string& holder, const std::string& ref) {
    // As images/leases.cpp: a holder is a file name, so the fake refuses what the real one does.
    if (holder.empty() || holder.size() > 128 || holder[0] == '.' ||
        holder.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            std::string::npos)
      return fail(Code::kInvalidArgument, "lease holder \"{}\": not a valid file name", holder);
    ResolvedImage img = image;
    img.reference = ref;
    leases[holder] = img.digest;
    return img;
  }
};

class FakeRuntime final : public TaskRuntime {
 public:
  Result<int> launch(const LaunchSpec& spec) override {
    std::lock_guard l(mu);
    if (fail_launch) return fail(Code::kInternal, "pivot_root: Invalid argument");
    launched[spec.id] = spec;
    running.insert(spec.id);
    return next_pid++;
  }
  Result<> watch(const std::string& id, std::function<void(ExitInfo)> cb) override {
    std::lock_guard l(mu);
    watchers[id] = std::move(cb);
    return {};
  }
  bool program_started(const std::string& id) override {
    std::lock_guard l(mu);
    return !fail_exec.count(id);
  }
  Result<> signal(const std::string& id, int sig) override {
    std::lock_guard l(mu);
    signals.emplace_back(id, sig);
    return {};
  }
  Result<> stop(const std::string& id, int sig, Millis grace) override {
    std::lock_guard l(mu);
    stops.push_back({id, sig, grace});
    return {};
  }
  Result<TaskUsage> stats(const std::string&) override { return TaskUsage{1.5, 1000, 500, 3}; }
  Result<> remove(const std::string& id) override {
    std::lock_guard l(mu);
    removed.push_back(id);
    running.erase(id);
    return {};
  }
  Result<std::vector<SandboxInfo>> list() override {
    std::lock_guard l(mu);
    return sandboxes;
  }
  Result<> release(const std::string& id) override {
    std::lock_guard l(mu);
    released.push_back(id);
    return {};
  }
  Result<std::unique_ptr<StdioStream>> attach(const std::string& id,
                                              const AttachRequest& request) override {
    std::lock_guard l(mu);
    attaches.emplace_back(id, request);
    if (request.start) released.push_back(id);
    return std::unique_ptr<StdioStream>(std::make_unique<FakeStdioStream>(stdio));
  }
  Result<std::unique_ptr<StdioStream>> exec(const std::string& id,
                                            const ExecRequest& request) override {
    std::lock_guard l(mu);
    execs.emplace_back(id, request);
    return std::unique_ptr<StdioStream>(std::make_unique<FakeStdioStream>(stdio));
  }
  // Makes the sandbox's process exit: calls the watcher as the shim would.
  void exit(const std::string& id, ExitInfo info) {
    std::function<void(ExitInfo)> cb;
    {
      std::lock_guard l(mu);
      running.erase(id);
      cb = watchers[id];
    }
    if (cb) cb(info);
  }
  struct Stop {
    std::string id;
    int sig;
    Millis grace;
  };
  std::mutex mu;
  std::map<std::string, LaunchSpec> launched;
  std::set<std::string> running;
  std::map<std::string, std::function<void(ExitInfo)>> watchers;
  std::vector<std::pair<std::string, int>> signals;
  std::vector<Stop> stops;
  std::vector<std::string> removed;
  std::vector<SandboxInfo> sandboxes;
  std::vector<std::string> released;  // release() and attaches with start
  std::vector<std::pair<std::string, AttachRequest>> attaches;
  std::vector<std::pair<std::string, ExecRequest>> execs;
  std::shared_ptr<FakeStdioState> stdio = std::make_shared<FakeStdioState>();
  bool fail_launch = false;
  std::set<std::string> fail_exec;  // ids whose program "cannot be exec'd" (program_started)
  int next_pid = 1000;
};

// Runs posted work only when asked; timers fire when the fake clock passes them.
class ManualExecutor final : public Executor {
 public:
  explicit ManualExecutor(FakeClock& clock) : clock_(clock) {}
  void post(std::function<void()> work) override {
    std::lock_guard l(mu);
    work_.push_back(std::move(work));
  }
  std::uint64_t schedule(std::chrono::steady_clock::time_point at,
                         std::function<void()> fn) override {
    std::lock_guard l(mu);
    std::uint64_t id = next_++;
    timers_[id] = {at, std::move(fn)};
    return id;
  }
  void cancel(std::uint64_t id) override {
    std::lock_guard l(mu);
    timers_.erase(id);
  }
  // Runs posted work (and work it posts) until none is left.
  void run_all() {
    for (;;) {
      std::function<void()> job;
      {
        std::lock_guard l(mu);
        if (work_.empty()) return;
        job = std::move(work_.front());
        work_.pop_front();
      }
      job();
    }
  }
  // Moves the clock and fires due timers, then runs posted work.
  void advance(std::chrono::milliseconds d) {
    clock_.offset += d;
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard l(mu);
        auto due = timers_.end();
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
          if (it->second.first <= clock_.steady_now() &&
              (due == timers_.end() || it->second.first < due->second.first))
            due = it;
        if (due == timers_.end()) break;
        fn = std::move(due->second.second);
        timers_.erase(due);
      }
      fn();
    }
    run_all();
  }
  std::size_t pending_timers() {
    std::lock_guard l(mu);
    return timers_.size();
  }
  std::size_t pending_work() {
    std::lock_guard l(mu);
    return work_.size();
  }

 private:
  FakeClock& clock_;
  std::mutex mu;
  std::deque<std::function<void()>> work_;
  std::map<std::uint64_t, std::pair<std::chrono::steady_clock::time_point, std::function<void()>>>
      timers_;
  std::uint64_t next_ = 1;
};

}  // namespace svc::scheduler::test
