#pragma once
// The routing decisions of one request as plain functions, tested without sockets:
// which revision of a service (its traffic split) and which instance of that revision.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace svc::ingress {

inline constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

// The least loaded instance that can take one more request: among those get(i) says are
// routable with in_flight < concurrency, the one with the fewest in flight; ties go to the first
// at or after start (callers rotate start so equal instances share the load). kNone if none.
// Get: (index) -> struct { bool routable; int in_flight; int concurrency; }.
template <class Get>
std::size_t pick_least_loaded(std::size_t count, std::size_t start, Get&& get) {
  std::size_t best = kNone;
  int best_load = std::numeric_limits<int>::max();
  for (std::size_t k = 0; k < count; ++k) {
    std::size_t i = (start + k) % count;
    auto c = get(i);
    if (!c.routable || c.in_flight >= c.concurrency) continue;
    if (c.in_flight < best_load) {
      best = i;
      best_load = c.in_flight;
      if (best_load == 0) break;  // cannot do better
    }
  }
  return best;
}

// Smooth weighted round-robin (nginx's upstream algorithm): over any window of sum(weights)
// picks, target i is picked weights[i] times, interleaved rather than in runs. current holds
// the running state (one entry per target; resized and zeroed when the targets change).
std::size_t pick_weighted(const std::vector<std::uint32_t>& weights,
                          std::vector<std::int64_t>& current);

}  // namespace svc::ingress
