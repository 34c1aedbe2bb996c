#pragma once
// The contract between the data plane and the control plane of services.
//
//   scheduler/ingress/   the data plane: the proxy. It moves bytes, holds requests while an
//                        instance starts (the activator), counts what is in flight, probes
//                        readiness and drains. It decides nothing about how many instances exist.
//   scheduler/services/  the control plane: services, revisions, instances, the autoscaler. It
//                        decides, and knows nothing of sockets or HTTP.
//
// Neither links the other. The ingress implements DataPlane; the services controller implements
// ControlPlane; daemon/ wires one to the other. Only plain data and std types cross: no Asio, no
// Beast, no protobuf. Both sides are unit-tested against a fake of the other.
//
// Names: a service "hello" has revisions "hello-00001", "hello-00002", ...; an instance id is
// unique on the node (it is also its sandbox's id). Times are on the steady clock of the
// injected svc::Clock.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::ingress {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// What the instance's port speaks. An HTTP/1.1 Upgrade (WebSocket) always goes to it as
// HTTP/1.1, whatever this says.
enum class UpstreamProtocol { kHttp1, kH2c };

// How the data plane reaches one instance.
struct InstanceEndpoint {
  std::string id;             // instance id (= its sandbox id)
  std::string service;        // "hello"
  std::string revision;       // "hello-00001"
  std::uint16_t port = 8080;  // on the instance's own loopback
  int concurrency = 80;       // most requests (h2 streams, upgraded connections) at once
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  // A new unconnected, non-blocking, close-on-exec TCP socket (AF_INET, SOCK_STREAM) made inside
  // the instance's network namespace, so nothing else on the host can reach the instance.
  // Thread-safe; called on io threads when no pooled connection is free, so it must be cheap
  // (the real one asks a thread that already sits in the namespace).
  std::function<Result<UniqueFd>()> make_socket;
  // For the Server-Timing of the cold start this instance serves: when the control plane asked
  // for the sandbox and when the sandbox's process was running. Unset for re-adopted instances.
  std::optional<SteadyTime> start_requested;
  std::optional<SteadyTime> sandbox_started;
};

struct Readiness {
  std::string http_path;  // "": a TCP connect is enough; else GET path must answer 2xx or 3xx
  // Probed fast at first (every ~100 us), backing off to a few ms; past timeout the data plane
  // gives up and calls ControlPlane::on_not_ready.
  Millis timeout{60'000};
};

// One revision's share of a service's traffic.
struct TrafficTarget {
  std::string revision;
  std::uint32_t percent = 100;  // the shares of a route sum to 100
  std::string tag;              // also reachable at <tag>-<service>.<domain> (issue 10)
};

struct ServiceRoute {
  std::string service;
  std::vector<TrafficTarget> traffic;  // chosen per request by percent; empty: 503
  // Requests held (for all revisions together) while no instance has a free slot; one more is
  // answered 503 with Retry-After at once.
  std::size_t queue_limit = 1000;
  // From the request's arrival to the start of its response (held time included): past it the
  // client gets 504. Does not apply to a response that has started or an upgraded connection.
  Millis request_timeout{300'000};
};

// Load as the data plane sees it, read by the autoscaler at each tick.
struct InstanceLoad {
  std::string id;
  int in_flight = 0;  // requests (streams, upgraded connections) on it now
  bool ready = false;
  bool draining = false;
  std::uint64_t requests_total = 0;  // finished requests
  std::uint64_t busy_ms_total = 0;   // milliseconds with at least one request in flight
};

struct RevisionLoad {
  std::string service;
  std::string revision;
  std::size_t waiting = 0;  // held now, waiting for a free slot
  int in_flight = 0;        // proxied now, over all its instances
  // The integral of (in_flight + waiting) over time since the data plane started, in
  // request-milliseconds. The average concurrency over an interval is the difference of two
  // readings divided by the interval's length: exact, with no sampling gaps.
  double concurrency_ms_total = 0;
  std::uint64_t requests_total = 0;
  std::vector<InstanceLoad> instances;
};

// Phases of a cold start, as the response that paid for it reports them in Server-Timing.
struct ColdStart {
  Millis queue{0};       // arrival -> the sandbox was asked for (or the request joined a start)
  Millis sandbox{0};     // sandbox asked for -> its process runs
  Millis readiness{0};   // process runs -> the port answers the readiness probe
  Millis first_byte{0};  // request sent to the instance -> first byte of its response
};

// One proxied request, for the request log and metrics.
struct RequestRecord {
  std::chrono::system_clock::time_point time{};  // arrival, wall clock
  std::string service;
  std::string revision;
  std::string instance;  // "" when it never reached one
  std::string method;
  std::string path;  // without the query string
  int status = 0;    // what the client got (502/503/504 from the proxy itself included)
  Millis duration{0};
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;
  std::string client;  // peer address
  std::optional<ColdStart> cold_start;
};

// Implemented by the control plane (scheduler/services). Called on the data plane's io threads:
// every method must return at once (post the work, never block, never call back into the data
// plane synchronously).
class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  // Requests are held for revision with no free slot (waiting = how many now): wake the
  // autoscaler now, not at its next tick.
  virtual void on_demand(const std::string& revision, std::size_t waiting) = 0;
  // The readiness probe passed: the data plane routes to the instance from now on.
  virtual void on_ready(const std::string& instance_id, SteadyTime at) = 0;
  // The probe gave up (Readiness::timeout) for this instance.
  virtual void on_not_ready(const std::string& instance_id, std::string why) = 0;
  // A draining instance holds no request, stream or upgraded connection any more.
  virtual void on_drained(const std::string& instance_id) = 0;
  // Busy/idle edges (0 -> 1 request in flight: busy; 1 -> 0: idle), for request-mode billing
  // and CPU throttling outside requests. Called on every edge: keep it cheap.
  virtual void on_busy(const std::string& instance_id, bool busy, SteadyTime at) = 0;
  // A request could not be carried to the instance (refused, reset before the response):
  // the instance may have crashed.
  virtual void on_upstream_error(const std::string& instance_id, std::string why) = 0;
  // Every finished request (batched by the caller if it likes).
  virtual void on_request(const RequestRecord& record) = 0;
};

// Implemented by the data plane (scheduler/ingress). Thread-safe; none of these blocks on I/O.
class DataPlane {
 public:
  virtual ~DataPlane() = default;
  // Creates or replaces a service's route (NAME.<domain> starts answering).
  virtual void set_route(ServiceRoute route) = 0;
  // New requests for it get 404; held ones 503.
  virtual void remove_route(const std::string& service) = 0;
  // A started instance: probe it, then route to it (on_ready) or give up (on_not_ready).
  virtual void add_instance(InstanceEndpoint endpoint, Readiness readiness) = 0;
  // No new requests go to it; on_drained once nothing is in flight on it (at once if idle).
  virtual void drain_instance(const std::string& instance_id) = 0;
  // It is gone (exited, killed): what is in flight on it ends (502 if no response started).
  virtual void remove_instance(const std::string& instance_id, std::string why) = 0;
  // A start for revision failed: requests held for it that no instance can take now answer
  // status with why (the control plane calls it when it has no start in progress for that
  // revision): 502 when a start failed, 503 (with Retry-After) when none could begin, the node
  // being full or drained.
  virtual void fail_waiting(const std::string& revision, std::string why, int status = 502) = 0;
  virtual std::vector<RevisionLoad> load() const = 0;
};

}  // namespace svc::ingress
