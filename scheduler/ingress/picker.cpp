#include "scheduler/ingress/picker.hpp"

namespace svc::ingress {

std::size_t pick_weighted(const std::vector<std::uint32_t>& weights,
                          std::vector<std::int64_t>& current) {
  if (current.size() != weights.size()) current.assign(weights.size(), 0);
  std::int64_t total = 0;
  std::size_t best = kNone;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    current[i] += weights[i];
    total += weights[i];
    if (best == kNone || current[i] > current[best]) best = i;
  }
  if (best != kNone) current[best] -= total;
  return best;
}

}  // namespace svc::ingress
