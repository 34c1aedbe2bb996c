#include "scheduler/services/stats.hpp"

#include <algorithm>

namespace svc::services {

void Histogram::add(double ms) {
  std::size_t i = 0;
  while (i < kLatencyBucketsMs.size() && ms > kLatencyBucketsMs[i]) ++i;
  ++buckets_[i];
  ++count_;
  sum_ms_ += ms;
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  double rank = q * static_cast<double>(count_);
  double seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    double n = static_cast<double>(buckets_[i]);
    if (n > 0 && seen + n >= rank) {
      // The +Inf bucket has no upper bound: report its lower one, as Prometheus does.
      if (i == kLatencyBucketsMs.size()) return kLatencyBucketsMs.back();
      double lo = i == 0 ? 0 : kLatencyBucketsMs[i - 1];
      double hi = kLatencyBucketsMs[i];
      return lo + (hi - lo) * ((rank - seen) / n);
    }
    seen += n;
  }
  return kLatencyBucketsMs.back();
}

void ServiceStats::add(const ingress::RequestRecord& r) {
  ++requests_total;
  int cls = r.status / 100;
  ++by_class[cls >= 1 && cls <= 5 ? static_cast<std::size_t>(cls) : 0];
  latency.add(static_cast<double>(r.duration.count()));
  if (r.cold_start) {
    ++cold_starts;
    const ingress::ColdStart& c = *r.cold_start;
    cold_start_phases.queue.add(static_cast<double>(c.queue.count()));
    cold_start_phases.sandbox.add(static_cast<double>(c.sandbox.count()));
    cold_start_phases.readiness.add(static_cast<double>(c.readiness.count()));
    cold_start_phases.first_byte.add(static_cast<double>(c.first_byte.count()));
    cold_start_phases.total.add(static_cast<double>(r.duration.count()));
    last_cold_start = LastColdStart{r.time, r.instance, c, r.duration};
  }
}

}  // namespace svc::services
