#pragma once
// What the proxy counts, per service, for Prometheus (svc_ingress_* names, base units, by the
// conventions at prometheus.io/docs/practices/naming): responses by status class, a latency
// histogram, cold starts and their phases, queue rejections; and proxy-wide counters for what
// matched no service. Lock-free: io threads add with relaxed atomics, a scrape reads them.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace svc::ingress {

// Bucket upper bounds in seconds: 250 us (a warm proxied request) .. 60 s.
inline constexpr std::array<double, 16> kLatencyBuckets = {
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  60.0};

class Histogram {
 public:
  void observe(std::chrono::nanoseconds d);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Appends NAME_bucket{labels,le=".."} (cumulative), NAME_sum and NAME_count lines.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> buckets_{};  // per bucket
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

enum class ColdPhase { kQueue = 0, kSandbox, kReadiness, kFirstByte };
inline constexpr std::array<std::string_view, 4> kPhaseNames = {"queue", "sandbox", "readiness",
                                                                "first-byte"};

// One service's counters; shared by the routing table and the exchanges in flight for it, so
// a request that outlives a route change still counts.
struct ServiceMetrics {
  explicit ServiceMetrics(std::string name) : service(std::move(name)) {}
  const std::string service;
  std::array<std::atomic<std::uint64_t>, 5> responses{};  // 1xx .. 5xx, what clients got
  Histogram duration;                                     // arrival -> last byte of the response
  std::atomic<std::uint64_t> cold_starts{0};
  std::array<Histogram, 4> cold_phases;            // by Phase
  std::atomic<std::uint64_t> queue_rejections{0};  // 503: queue full
  std::atomic<std::uint64_t> timeouts{0};          // 504: request_timeout passed
  std::atomic<std::uint64_t> upstream_errors{0};   // 502: the instance failed the request
  std::atomic<std::uint64_t> client_aborts{0};     // the client left before the response ended

  void count_response(int status, std::chrono::nanoseconds took);
};

// Counters of the proxy as a whole.
struct ProxyCounters {
  std::atomic<std::uint64_t> unrouted{0};      // 404: Host names no service
  std::atomic<std::uint64_t> bad_requests{0};  // 4xx/5xx for malformed requests, closed
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> connections_open{0};
};

struct ServiceGauges {
  std::shared_ptr<const ServiceMetrics> metrics;
  std::size_t waiting = 0;
  int in_flight = 0;
  int instances_ready = 0;
};

// The Prometheus text exposition (version 0.0.4) of everything above.
std::string render_metrics(const std::vector<ServiceGauges>& services,
                           const ProxyCounters& counters);

}  // namespace svc::ingress
