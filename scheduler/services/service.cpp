#include "scheduler/services/service.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/units.hpp"
#include "scheduler/services/process.hpp"

namespace svc::services {

std::string_view state_name(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "STARTING";
    case InstanceState::kReady:
      return "READY";
    case InstanceState::kDraining:
      return "DRAINING";
    case InstanceState::kPaused:
      return "PAUSED";
    case InstanceState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

bool valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (name.front() < 'a' || name.front() > 'z' || name.back() == '-') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string revision_lease(std::string_view revision) {
  return "revision-" + std::string(revision);
}

std::string revision_name(std::string_view service, int number) {
  return fmt::format("{}-{:05d}", service, number);
}

std::string revision_of_instance(std::string_view id) {
  auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return {};
  std::string_view rev = id.substr(0, dash);
  auto num = rev.rfind('-');
  if (num == std::string_view::npos || num + 6 > rev.size()) return {};
  for (char c : rev.substr(num + 1))
    if (c < '0' || c > '9') return {};
  if (!valid_service_name(rev.substr(0, num))) return {};
  return std::string(rev);
}

ServiceSpec normalized(ServiceSpec s) {
  if (s.port == 0) s.port = kDefaultPort;
  if (s.request_timeout.count() == 0) s.request_timeout = kDefaultRequestTimeout;
  if (s.readiness_timeout.count() == 0) s.readiness_timeout = kDefaultReadinessTimeout;
  if (s.stop_grace.count() == 0) s.stop_grace = kDefaultStopGrace;
  if (s.queue_limit == 0) s.queue_limit = kDefaultQueueLimit;
  ScalingSpec d;
  if (s.scaling.concurrency == 0) s.scaling.concurrency = d.concurrency;
  if (s.scaling.target_utilization_percent == 0)
    s.scaling.target_utilization_percent = d.target_utilization_percent;
  if (s.scaling.idle_timeout.count() == 0) s.scaling.idle_timeout = d.idle_timeout;
  if (s.scaling.stable_window.count() == 0) s.scaling.stable_window = d.stable_window;
  if (s.scaling.panic_window.count() == 0) s.scaling.panic_window = d.panic_window;
  if (s.scaling.panic_threshold_percent == 0)
    s.scaling.panic_threshold_percent = d.panic_threshold_percent;
  std::sort(s.env.begin(), s.env.end());
  return s;
}

std::optional<std::string> validate_service_spec(const ServiceSpec& s,
                                                 const scheduler::ValidationLimits& limits) {
  if (s.name.empty()) return "name: give the service a name, e.g. hello";
  if (!valid_service_name(s.name))
    return fmt::format(
        "name \"{}\": a service name is 1-{} lowercase letters, digits and '-', starting with a "
        "letter and not ending with '-' (it becomes the host name NAME.<domain>)",
        s.name.find('\0') != std::string::npos ? std::string("(contains NUL)")
                                               : s.name.substr(0, 80),
        kMaxNameLength);
  // The process part (image, command, env, labels, resources, stop signal) means what it means
  // for a task: one check for both.
  scheduler::TaskSpec process = process_spec(s, {});
  process.name.clear();
  if (auto err = scheduler::validate_spec(process, limits)) return err;
  const ScalingSpec& c = s.scaling;
  if (c.concurrency < 1 || c.concurrency > kMaxConcurrency)
    return fmt::format("concurrency {}: must be 1 to {} requests at once per instance",
                       c.concurrency, kMaxConcurrency);
  if (c.target_utilization_percent < 1 || c.target_utilization_percent > 100)
    return fmt::format("target utilization {}%: must be 1 to 100", c.target_utilization_percent);
  if (c.min_instances < 0 || c.min_instances > kMaxInstances)
    return fmt::format("min instances {}: must be 0 to {}", c.min_instances, kMaxInstances);
  if (c.max_instances < 0 || c.max_instances > kMaxInstances)
    return fmt::format("max instances {}: must be 0 (as many as fit) to {}", c.max_instances,
                       kMaxInstances);
  if (c.max_instances > 0 && c.min_instances > c.max_instances)
    return fmt::format("min instances {} is more than max instances {}", c.min_instances,
                       c.max_instances);
  if (c.idle_timeout < kMinIdleTimeout || c.idle_timeout > std::chrono::hours(24))
    return fmt::format("idle timeout {}: must be 1s to 24h", format_duration(c.idle_timeout));
  if (c.stable_window < std::chrono::seconds(6) || c.stable_window > std::chrono::hours(1))
    return fmt::format("stable window {}: must be 6s to 1h", format_duration(c.stable_window));
  if (c.panic_window < Millis(1000) || c.panic_window > c.stable_window)
    return fmt::format("panic window {}: must be 1s up to the stable window ({})",
                       format_duration(c.panic_window), format_duration(c.stable_window));
  if (c.panic_threshold_percent < 110 || c.panic_threshold_percent > 1000)
    return fmt::format("panic threshold {}%: must be 110 to 1000", c.panic_threshold_percent);
  if (s.request_timeout < Millis(1000) || s.request_timeout > std::chrono::hours(1))
    return fmt::format("request timeout {}: must be 1s to 1h", format_duration(s.request_timeout));
  if (s.readiness_timeout < Millis(100) || s.readiness_timeout > std::chrono::minutes(10))
    return fmt::format("readiness timeout {}: must be 100ms to 10m",
                       format_duration(s.readiness_timeout));
  if (!s.readiness_path.empty()) {
    bool ok = s.readiness_path.front() == '/' && s.readiness_path.size() <= 1024;
    for (char ch : s.readiness_path)
      ok = ok && static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
    if (!ok)
      return fmt::format(
          "readiness path \"{}\": must be an absolute URL path such as /healthz (no spaces or "
          "control characters)",
          s.readiness_path.substr(0, 80));
  }
  if (s.queue_limit > 100'000)
    return fmt::format("queue limit {}: at most 100000 held requests", s.queue_limit);
  if (!s.billing.empty() && s.billing != "instance" && s.billing != "request")
    return fmt::format(
        "billing \"{}\": give instance or request (or leave it out for the "
        "node's [billing] service_mode)",
        s.billing);
  if (s.network == scheduler::NetworkMode::kNone)
    return "network none: an instance needs at least its loopback to be reached";
  return std::nullopt;
}

}  // namespace svc::services
