#include "cli/service_format.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

namespace svc::cli {

using google::protobuf::util::TimeUtil;

namespace {

const v1::Condition* condition(const v1::Service& s, const std::string& type) {
  for (const auto& c : s.conditions())
    if (c.type() == type) return &c;
  return nullptr;
}

const v1::Revision* serving(const v1::Service& s) {
  for (const auto& r : s.revisions())
    if (r.name() == s.serving_revision()) return &r;
  return nullptr;
}

}  // namespace

std::string service_status(const v1::Service& s) {
  const v1::Condition* ready = condition(s, "Ready");
  const v1::Condition* rollout = condition(s, "Rollout");
  std::string out;
  if (!ready) {
    out = "Unknown";
  } else if (!ready->status()) {
    out = "Failing: " + ready->reason();
  } else if (ready->reason() == "ScaledToZero") {
    out = "Scaled to zero";
  } else if (ready->reason() == "Serving") {
    out = "Ready";
  } else {
    out = ready->reason();
  }
  if (rollout && !rollout->status()) out += ", rolling out " + s.latest_revision();
  return out;
}

std::string ready_of_desired(const v1::Service& s) {
  const v1::Revision* r = serving(s);
  int ready = r ? r->ready_instances() : 0;
  return fmt::format("{}/{}", ready, s.desired_instances());
}

std::string instance_state(v1::Instance::State s) {
  switch (s) {
    case v1::Instance::STARTING:
      return "starting";
    case v1::Instance::READY:
      return "ready";
    case v1::Instance::DRAINING:
      return "draining";
    case v1::Instance::PAUSED:
      return "paused";
    case v1::Instance::STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

std::string millis(double ms) {
  if (ms < 10) return fmt::format("{:.1f}ms", ms);
  if (ms < 1000) return fmt::format("{:.0f}ms", ms);
  return fmt::format("{:.2f}s", ms / 1000);
}

std::string duration_text(const google::protobuf::Duration& d) {
  return millis(static_cast<double>(TimeUtil::DurationToMicroseconds(d)) / 1000.0);
}

std::string latency_text(const v1::LatencySummary& l) {
  if (l.count() == 0) return "-";
  return fmt::format("p50 {}, p90 {}, p99 {} (mean {}, {} request{})", millis(l.p50_ms()),
                     millis(l.p90_ms()), millis(l.p99_ms()), millis(l.mean_ms()), l.count(),
                     l.count() == 1 ? "" : "s");
}

std::string last_cold_start_text(const v1::ColdStartStats& c) {
  return fmt::format("{} = queue {} + sandbox {} + readiness {} + first byte {}",
                     duration_text(c.last_total()), duration_text(c.last_queue()),
                     duration_text(c.last_sandbox()), duration_text(c.last_readiness()),
                     duration_text(c.last_first_byte()));
}

std::string requests_text(const v1::ServiceStats& s) {
  std::string classes;
  for (const char* k : {"1xx", "2xx", "3xx", "4xx", "5xx", "other"}) {
    auto it = s.requests_by_class().find(k);
    if (it == s.requests_by_class().end() || it->second == 0) continue;
    classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", k, it->second);
  }
  if (classes.empty()) return std::to_string(s.requests_total());
  return fmt::format("{} ({})", s.requests_total(), classes);
}

}  // namespace svc::cli
