#pragma once
// What a service's requests looked like, from the data plane's request records: counts by
// status class, a latency histogram, and its cold starts split into phases (queue, sandbox,
// readiness, first byte). Fixed buckets, as Prometheus histograms, so percentiles cost nothing
// to keep and /metrics exports the same numbers `svctl service describe` shows.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "scheduler/ingress/ports.hpp"

namespace svc::services {

// Bucket upper bounds in milliseconds; the last bucket is +Inf.
inline constexpr std::array<double, 16> kLatencyBucketsMs = {
    0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

class Histogram {
 public:
  void add(double ms);
  std::uint64_t count() const { return count_; }
  double sum_ms() const { return sum_ms_; }
  // Counts per bucket (not cumulative); index kLatencyBucketsMs.size() is +Inf.
  const std::array<std::uint64_t, kLatencyBucketsMs.size() + 1>& buckets() const {
    return buckets_;
  }
  // The q-quantile (0..1), interpolated inside its bucket as Prometheus' histogram_quantile.
  double quantile(double q) const;

 private:
  std::array<std::uint64_t, kLatencyBucketsMs.size() + 1> buckets_{};
  std::uint64_t count_ = 0;
  double sum_ms_ = 0;
};

struct ColdStartPhases {
  Histogram queue, sandbox, readiness, first_byte, total;
};

struct LastColdStart {
  std::chrono::system_clock::time_point time{};
  std::string instance;
  ingress::ColdStart phases;
  std::chrono::milliseconds total{0};  // the request's whole duration
};

struct ServiceStats {
  std::uint64_t requests_total = 0;
  // By status class: [1] 1xx ... [5] 5xx; [0] anything else (a connection that closed early).
  std::array<std::uint64_t, 6> by_class{};
  Histogram latency;
  std::uint64_t cold_starts = 0;
  ColdStartPhases cold_start_phases;
  std::optional<LastColdStart> last_cold_start;

  void add(const ingress::RequestRecord& record);
};

}  // namespace svc::services
