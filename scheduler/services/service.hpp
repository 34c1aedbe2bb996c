#pragma once
// Services as the control plane sees them: plain data, no protobuf, no SQL, no sockets. A
// service is a name (it answers at NAME.<domain>) and a spec; every deploy that changes the spec
// makes an immutable revision NAME-00001, NAME-00002, ... (as Knative names them); instances are
// sandboxes of one revision, started and stopped by the autoscaler. The API translates these to
// and from svc.v1; daemon/store persists them.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scheduler/tasks/task.hpp"

namespace svc::services {

using TimePoint = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// How many instances a revision gets: the knobs of the autoscaler (autoscaler.hpp), named as
// Knative's KPA names them where they mean the same.
struct ScalingSpec {
  int concurrency = 80;  // hard limit: requests one instance takes at once (the rest queue)
  int target_utilization_percent = 70;  // the autoscaler aims at concurrency x this
  int min_instances = 0;                // kept warm even when idle
  int max_instances = 0;                // 0: as many as the node's capacity holds
  Millis idle_timeout{60'000};          // no request for this long: min_instances (0) instances
  Millis stable_window{60'000};
  Millis panic_window{6'000};
  int panic_threshold_percent = 200;
  bool operator==(const ScalingSpec&) const = default;
};

struct ServiceSpec {
  std::string name;
  std::string image;
  std::uint16_t port = 0;  // the port the app listens on inside its sandbox; 0 = 8080
  std::vector<std::string> entrypoint;
  bool reset_entrypoint = false;  // as `docker run --entrypoint ""`: the image's is cleared
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name (one revision, one form)
  std::map<std::string, std::string> labels;
  std::string workdir;
  std::string user;
  std::int64_t cpu_millis = 0;     // 0: the node's default request, no CPU limit
  std::uint64_t memory_bytes = 0;  // 0: the node's default request and limit
  std::int64_t pids = 0;           // 0: the node's default
  scheduler::NetworkMode network = scheduler::NetworkMode::kPrivate;
  ScalingSpec scaling;
  Millis request_timeout{0};    // 0 = 5 minutes, as Cloud Run
  std::string readiness_path;   // "": a TCP connect to the port is enough
  Millis readiness_timeout{0};  // 0 = 60 s
  Millis stop_grace{0};         // 0 = 10 s
  std::string stop_signal;      // "": the image's, else SIGTERM
  std::size_t queue_limit = 0;  // 0 = 1000 held requests
  // "instance" or "request" (daemon/billing: how its instances are billed); "": the node's
  // [billing] service_mode. A change makes a new revision, as Cloud Run's CPU allocation does.
  std::string billing;
  bool operator==(const ServiceSpec&) const = default;
};

inline constexpr std::uint16_t kDefaultPort = 8080;
inline constexpr Millis kDefaultRequestTimeout{300'000};
inline constexpr Millis kDefaultReadinessTimeout{60'000};
inline constexpr Millis kDefaultStopGrace{10'000};
inline constexpr std::size_t kDefaultQueueLimit = 1000;
// Bounds on what a user may ask for (an absurd value is a typo).
inline constexpr int kMaxConcurrency = 10'000;
inline constexpr int kMaxInstances = 1'000;
inline constexpr Millis kMinIdleTimeout{1'000};
inline constexpr std::size_t kMaxNameLength = 49;  // NAME-00001-<8 hex> stays a short sandbox id

// Fills the defaults above into fields left 0, so the stored spec says what runs and two deploys
// of the same intent compare equal.
ServiceSpec normalized(ServiceSpec spec);
// What is wrong with a spec, naming the field as svctl and the API spell it; nullopt when fine.
std::optional<std::string> validate_service_spec(const ServiceSpec& spec,
                                                 const scheduler::ValidationLimits& limits = {});
// A DNS label of at most kMaxNameLength: lowercase letters, digits and '-', starting with a
// letter and not ending with '-' (NAME.<domain> must be a host name).
bool valid_service_name(std::string_view name);

struct Revision {
  std::string name;  // "hello-00002"
  std::string service;
  int number = 0;
  ServiceSpec spec;          // immutable once made
  std::string image_digest;  // the manifest the revision runs, pinned when it was made
  TimePoint created_at{};
};

std::string revision_name(std::string_view service, int number);  // "hello-00002"
// The holder of a revision's image lease: "revision-hello-00002". Lease holders are file names
// in images/leases/ ([A-Za-z0-9._-]); a task's holder is its hex id, so the two never meet.
std::string revision_lease(std::string_view revision);
// The revision an instance id belongs to ("hello-00002-3fa9c210" -> "hello-00002"), or "".
std::string revision_of_instance(std::string_view instance_id);

struct Service {
  std::string name;
  ServiceSpec spec;  // the latest revision's
  int latest_revision = 0;
  // Where new requests go: the latest revision once it is ready (or at once when the old one had
  // no instances), until then the one before it.
  std::string serving_revision;
  TimePoint created_at{};
  TimePoint updated_at{};
};

enum class InstanceState { kStarting = 1, kReady, kDraining, kPaused, kStopped };
std::string_view state_name(InstanceState s);  // "STARTING", ...

// Why an instance stopped: the words users and scripts act on (Instance.stop_reason).
namespace reason {
inline constexpr std::string_view kScaledDown = "ScaledDown";    // idle, or fewer needed
inline constexpr std::string_view kReplaced = "Replaced";        // its revision was rolled out
inline constexpr std::string_view kDeleted = "Deleted";          // its service was removed
inline constexpr std::string_view kNodeDrained = "NodeDrained";  // svctl node drain
inline constexpr std::string_view kCrashed = "Crashed";          // exited while serving
inline constexpr std::string_view kStartFailed = "StartFailed";  // launch failed or exited early
inline constexpr std::string_view kNotReady = "NotReady";        // never passed its readiness
inline constexpr std::string_view kStoppedListening = "StoppedListening";  // refused, serving
inline constexpr std::string_view kOomKilled = "OOMKilled";
inline constexpr std::string_view kLost = "Lost";  // its sandbox vanished
}  // namespace reason

// How an instance ended, as its sandbox's exit record says (or that nothing does).
struct InstanceEnd {
  TimePoint at{};
  double cpu_seconds = 0;
  std::uint64_t memory_peak_bytes = 0;
  // Its sandbox vanished without an exit record (seen so after a restart): it ends when it was
  // last seen alive.
  bool lost = false;
  // When its first process started, as the exit record says (the shim's clock at the start): the
  // run's start for its bill, a few ms before svcd noted started_at.
  std::optional<TimePoint> process_started_at;
};

struct Instance {
  std::string id;  // also its sandbox's id
  std::string service;
  std::string revision;
  InstanceState state = InstanceState::kStarting;
  int pid = 0;
  TimePoint created_at{};
  std::optional<TimePoint> ready_at, draining_at, stopped_at;
  std::string stop_reason;
  std::string stop_message;
  std::optional<int> exit_code;
  bool adopted = false;  // found running when svcd started (re-adopted)
  // From the data plane at the last tick.
  int in_flight = 0;
  std::uint64_t requests_total = 0;
  // For its usage record (daemon/billing), not kept in its row (the record keeps them): set on
  // the write that records its sandbox's start, and on the one that records its end.
  std::optional<TimePoint> started_at;  // its sandbox's first process started
  scheduler::Resources resources;       // what it reserves and is limited to
  std::map<std::string, std::string> labels;
  std::string billing;  // its revision's ServiceSpec::billing
  std::optional<InstanceEnd> end;
};

// A fact about a service a user acts on, as Knative's conditions: "Ready" true or false with
// the reason and a sentence.
struct Condition {
  std::string type;  // "Ready", "ColdStart", "Capacity", "Rollout"
  bool status = true;
  std::string reason;   // CamelCase: "StartFailed", "CapacityExhausted", ...
  std::string message;  // "last cold start failed: exited with code 1 before it was ready"
  TimePoint last_transition{};
};

}  // namespace svc::services
