#pragma once
// A task as the scheduler sees it: plain data, no protobuf, no SQL. The API translates it to and
// from svc.v1.Task; daemon/store persists it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scheduler/resources.hpp"

namespace svc::scheduler {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

enum class TaskState { kPending = 1, kPulling, kStarting, kRunning, kStopping, kStopped };
std::string_view state_name(TaskState s);  // "PENDING", ...

enum class NetworkMode { kPrivate = 1, kBridge, kNone };

// Why a task stopped: the words users and scripts act on (Task.stop_reason).
namespace reason {
inline constexpr std::string_view kExited = "Exited";
inline constexpr std::string_view kOomKilled = "OOMKilled";
inline constexpr std::string_view kStoppedByUser = "StoppedByUser";
inline constexpr std::string_view kTimedOut = "TimedOut";
inline constexpr std::string_view kImagePullFailed = "ImagePullFailed";
inline constexpr std::string_view kStartFailed = "StartFailed";
inline constexpr std::string_view kNodeShutdown = "NodeShutdown";
inline constexpr std::string_view kNodeDrained = "NodeDrained";  // svctl node drain stopped it
inline constexpr std::string_view kLost = "Lost";
}  // namespace reason

struct TaskSpec {
  std::string name;
  std::string image;
  std::vector<std::string> entrypoint;
  bool reset_entrypoint = false;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // in the order given
  std::map<std::string, std::string> labels;
  std::string workdir;
  std::string user;
  // What the user asked for (0 = not given), as given: --cpu and --memory are a hard limit and
  // the reservation at once; the API may also ask for a request apart from a limit. Task's
  // `resources` holds what the node resolved them to at admission.
  std::int64_t cpu_millis = 0;
  std::uint64_t memory_bytes = 0;
  std::int64_t pids = 0;
  std::int64_t cpu_request_millis = 0;
  std::int64_t cpu_limit_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;
  Millis timeout{0};  // 0 = none
  NetworkMode network = NetworkMode::kPrivate;
  bool auto_remove = false;
  bool queue = false;
  std::string stop_signal;  // "" = the image's, else SIGTERM
  Millis stop_grace{0};     // 0 = default (10 s)
  // Terminals and input (svctl run -t / -i): a pty in the task's own devpts (its output still
  // goes to the log, as stdout), and/or a stdin that attached clients write into.
  bool tty = false;
  bool open_stdin = false;
  // A launched task waits (at most TaskController::Options::attach_hold) for the first Attach
  // with start before its process runs: `svctl run -it` misses nothing it prints.
  bool hold_for_attach = false;
  // svc-init as PID 1 (docker run --init): forwards signals and reaps zombies, so a shell or
  // sleep ends on SIGTERM. It is bind-mounted from the host at /dev/init, outside the image.
  bool init = false;
};

ResourceAsk resource_ask(const TaskSpec& spec);

// The node's defaults for a task that asks for nothing ([node] default_* keys; DESIGN.md): a
// small CPU request (a weight under contention, no quota: idle CPU is free to use) and a small
// memory reservation, so 1,000 idle tasks fit a 2-core 24 GiB node, with a memory limit of its
// own. Applied at admission and stored with the task, so its record says what it reserved.
inline constexpr std::int64_t kDefaultCpuRequestMillis = 1;
inline constexpr std::uint64_t kDefaultMemoryRequestBytes = 16ULL << 20;
inline constexpr std::uint64_t kDefaultMemoryLimitBytes = 512ULL << 20;
inline constexpr std::int64_t kDefaultPids = 1024;
inline constexpr Millis kDefaultStopGrace{10'000};
inline ResourceDefaults default_resource_defaults() {
  return ResourceDefaults{kDefaultCpuRequestMillis, kDefaultMemoryRequestBytes,
                          kDefaultMemoryLimitBytes, kDefaultPids};
}

struct TaskUsage {
  double cpu_seconds = 0;
  std::uint64_t memory_peak_bytes = 0;
  std::uint64_t memory_now_bytes = 0;
  std::uint64_t pids = 0;
};

struct Task {
  std::string id;
  TaskSpec spec;
  Resources resources;  // resolved at admission: what it reserves and what its cgroup enforces
  TaskState state = TaskState::kPending;
  std::optional<int> exit_code;
  int signal = 0;
  std::string stop_reason;
  std::string stop_message;
  std::string image_digest;
  int pid = 0;
  std::string queued_reason;
  TimePoint created_at{};
  std::optional<TimePoint> pulling_at, starting_at, running_at, stopping_at, stopped_at;
  TaskUsage usage;
  bool stop_requested = false;  // set by Stop: the exit is StoppedByUser
  bool drained = false;         // ... by a node drain: NodeDrained (in memory only)
  bool timed_out = false;       // set when the timeout fired: the exit is TimedOut
};

struct TaskEvent {
  std::uint64_t seq = 0;  // increasing, also across restarts of svcd
  // A marker, not a change: this many events were lost before the next one (a subscriber that
  // fell behind, or a resume from a sequence no longer kept); seq is the last one lost.
  std::uint64_t dropped = 0;
  TimePoint time{};
  std::string task_id;
  std::string task_name;
  TaskState state = TaskState::kPending;
  std::optional<int> exit_code;
  std::string stop_reason;
  std::string message;
};

struct TaskFilter {
  std::vector<TaskState> states;  // empty: all but STOPPED, unless all
  bool all = false;
  std::string name;
  std::map<std::string, std::string> labels;
  int page_size = 100;
  std::string page_token;  // the id after which to continue (ids sort by creation)
};

// Validates what a user asked for: every error names the field as the API spells it
// ("spec.resources.memoryBytes: ...").
struct ValidationLimits {
  std::size_t max_env_bytes = 1 << 20;  // all keys and values together
  std::size_t max_args_bytes = 1 << 20;
  std::size_t max_labels = 64;
  std::uint64_t min_memory_bytes = 4ULL << 20;
};
std::optional<std::string> validate_spec(const TaskSpec& spec, const ValidationLimits& limits = {});
bool valid_task_name(std::string_view name);
// "SIGTERM", "TERM", "15" -> 15; 0 when unknown.
int parse_signal(std::string_view name);
std::string signal_name(int sig);

}  // namespace svc::scheduler
