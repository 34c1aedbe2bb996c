#pragma once
// The ports the task controller stands on. daemon/ adapts the real modules to them
// (images::ImageService, isolation::Runtime, daemon/store); unit tests use the fakes in
// tests/unit/scheduler/fakes.hpp. Nothing here knows about protobuf, SQLite or the kernel.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "scheduler/tasks/stdio.hpp"
#include "scheduler/tasks/task.hpp"

namespace svc::scheduler {

// An image ready to run: what the runtime needs and what docker-run semantics need.
struct ResolvedImage {
  std::string reference;  // normalised
  std::string digest;     // manifest digest
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string workdir;
  std::string user;
  std::string stop_signal;
  std::vector<std::string> lower_dirs;  // rootfs layers, bottom to top
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The image when it is on this node (as `docker run`: a local image is used as it is), and
  // leased to holder (a task id) in the same step, so that no `image rm` or prune can delete
  // it between the lookup and the lease; NOT_FOUND when it is not here. Quick: no network.
  virtual Result<ResolvedImage> acquire_local(const std::string& holder,
                                              const std::string& reference) = 0;
  // Pulls it, then leases it to holder as acquire_local does. Blocking for as long as the
  // registry takes; honours cancel.
  virtual Result<ResolvedImage> pull(const std::string& holder, const std::string& reference,
                                     const std::atomic<bool>& cancel) = 0;
  // Lets garbage collection have what holder's lease kept. Idempotent.
  virtual Result<> release(const std::string& holder) = 0;
};

// What a sandbox is asked to run: the image config already merged with the task's overrides.
struct LaunchSpec {
  std::string id;
  std::vector<std::string> args;  // argv, args[0] the program
  std::vector<std::string> env;   // KEY=VALUE
  std::string workdir;
  std::string user;
  std::string hostname;
  std::vector<std::string> lower_dirs;
  // Limits the cgroup enforces: cpu_millis a CFS quota (0 = none: idle CPU is free to use),
  // memory_bytes memory.max (swap off). The CPU request becomes the cgroup's weight (shares)
  // under contention; the memory request is what admission counted.
  std::int64_t cpu_millis = 0;
  std::uint64_t memory_bytes = 0;
  std::int64_t pids = 0;
  std::int64_t cpu_request_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  NetworkMode network = NetworkMode::kPrivate;
  int stop_signal = 15;
  Millis stop_grace{10'000};
  bool tty = false;         // a terminal (TaskSpec::tty)
  bool open_stdin = false;  // a stdin for attached clients
  bool hold = false;        // created, not started: the first attach with start (or release)
  bool init = false;        // svc-init as PID 1, the task's args after it
};

struct ExitInfo {
  int exit_code = 0;  // 128+signal when a signal ended it
  int signal = 0;
  bool oom_killed = false;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> exited_at;
  double cpu_seconds = 0;
  std::uint64_t memory_peak_bytes = 0;
  // The sandbox's supervisor died without recording how the task ended: no exit code is known.
  bool lost = false;
  std::string error;  // what the runtime knows about a lost or failed task
};

struct SandboxInfo {
  std::string id;
  enum class Status { kRunning, kExited, kLost } status = Status::kLost;
  int pid = 0;
  std::optional<ExitInfo> exit;  // kExited
};

class TaskRuntime {
 public:
  virtual ~TaskRuntime() = default;
  // Creates and starts the sandbox; returns its first process's host pid.
  virtual Result<int> launch(const LaunchSpec& spec) = 0;
  // Calls on_exit once, on any thread, when the sandbox's process has exited (also for a
  // sandbox re-adopted after a restart).
  virtual Result<> watch(const std::string& id, std::function<void(ExitInfo)> on_exit) = 0;
  virtual Result<> signal(const std::string& id, int sig) = 0;
  // Sends sig, then SIGKILL after grace (done by the sandbox's shim, so it happens even if svcd
  // is down).
  virtual Result<> stop(const std::string& id, int sig, Millis grace) = 0;
  virtual Result<TaskUsage> stats(const std::string& id) = 0;
  virtual Result<> remove(const std::string& id) = 0;
  // Every sandbox on this node, for re-adoption.
  virtual Result<std::vector<SandboxInfo>> list() = 0;
  // Lets a sandbox launched with hold run; nothing when it runs already.
  virtual Result<> release(const std::string& id) = 0;
  // For a sandbox launched without hold: false only when its program definitely could not be
  // exec'd (its exit, StartFailed, follows through watch); true once it was, or when that
  // cannot be told. The task is RUNNING only after this says true.
  virtual bool program_started(const std::string& id) {
    (void)id;
    return true;
  }
  // A client of the task's stdio, through its shim (stdio.hpp).
  virtual Result<std::unique_ptr<StdioStream>> attach(const std::string& id,
                                                      const AttachRequest& request) = 0;
  // Runs a process in the running sandbox and attaches to it before it starts: the stream has
  // all its output and ends with its exit. Closing the stream early ends the process.
  virtual Result<std::unique_ptr<StdioStream>> exec(const std::string& id,
                                                    const ExecRequest& request) = 0;
};

// Durable task records. Every state change is written here before it is acknowledged.
class TaskStore {
 public:
  virtual ~TaskStore() = default;
  virtual Result<> insert(const Task& task) = 0;
  virtual Result<> update(const Task& task) = 0;
  virtual Result<> remove(const std::string& id) = 0;
  virtual Result<std::vector<Task>> load_all() = 0;
};

// A task's output, as the sandbox's shim recorded it.
struct LogLine {
  TimePoint time{};
  bool is_stderr = false;
  std::string text;      // without the newline
  bool partial = false;  // no newline yet, or cut at the size cap
};

struct LogQuery {
  std::optional<TimePoint> since;
  int tail = 0;  // the last N lines; 0 = all
  bool follow = false;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // Emits the task's lines in order. With follow, keeps reading as lines arrive while
  // keep_following(wait) is true: it returns at once when the task has stopped (false) or the
  // client went away (false), else within `wait`, sooner when the task changes state (true).
  // emit returning false ends it.
  using KeepFollowing = std::function<bool(std::chrono::milliseconds wait)>;
  virtual Result<> read(const std::string& task_id, const LogQuery& query,
                        const std::function<bool(const LogLine&)>& emit,
                        const KeepFollowing& keep_following) = 0;
};

// Where the controller runs blocking work (pulls, launches) and timers. The real one is a
// thread pool with a timer thread; the fake runs work when told to, on a fake clock.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> work) = 0;
  // Runs fn at (steady) deadline unless cancelled; returns an id for cancel().
  virtual std::uint64_t schedule(std::chrono::steady_clock::time_point deadline,
                                 std::function<void()> fn) = 0;
  virtual void cancel(std::uint64_t timer_id) = 0;
};

}  // namespace svc::scheduler
