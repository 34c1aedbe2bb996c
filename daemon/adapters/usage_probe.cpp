#include "daemon/adapters/usage_probe.hpp"

namespace svc::daemon {

std::optional<billing::Sample> RuntimeUsageProbe::sample(const std::string& sandbox_id) {
  // A sandbox that exited or vanished has no cgroup to read: its exit record carries the final
  // figures, which the run's close writes.
  auto stats = runtime_.stats(sandbox_id);
  if (!stats)
    if (isolation::Runtime* instances = instances_.load()) stats = instances->stats(sandbox_id);
  if (!stats) return std::nullopt;
  billing::Sample s;
  s.cpu_seconds = stats->cpu_seconds;
  s.memory_bytes = stats->memory_bytes;
  s.memory_peak_bytes = stats->memory_peak_bytes;
  return s;
}

}  // namespace svc::daemon
