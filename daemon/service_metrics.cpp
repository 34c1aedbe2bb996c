#include "daemon/service_metrics.hpp"

#include <fmt/format.h>

namespace svc::daemon {

namespace svs = svc::services;

namespace {

// Label values are service and revision names (DNS labels): nothing to escape.
void histogram(std::string& out, std::string_view name, const std::string& labels,
               const svs::Histogram& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < svs::kLatencyBucketsMs.size(); ++i) {
    cumulative += h.buckets()[i];
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels,
                       svs::kLatencyBucketsMs[i] / 1000.0, cumulative);
  }
  cumulative += h.buckets().back();
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  out += fmt::format("{}_sum{{{}}} {:.6f}\n", name, labels, h.sum_ms() / 1000.0);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, h.count());
}

}  // namespace

std::string service_metrics_text(const std::vector<svs::ServiceStatus>& services,
                                 const svs::InstanceCounts& counts) {
  std::string out;
  out +=
      "# HELP svc_service_instances Instances of a service's revision that exist, by state.\n"
      "# TYPE svc_service_instances gauge\n";
  for (const auto& s : services) {
    for (const auto& r : s.revisions) {
      if (r.retired && r.ready + r.starting + r.draining == 0) continue;
      for (svs::InstanceState st : {svs::InstanceState::kStarting, svs::InstanceState::kReady,
                                    svs::InstanceState::kDraining}) {
        int n = 0;
        if (auto it = counts.by_revision.find({s.service.name, r.revision.name});
            it != counts.by_revision.end())
          if (auto c = it->second.find(st); c != it->second.end()) n = c->second;
        std::string state(svs::state_name(st));
        for (auto& ch : state) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        out +=
            fmt::format("svc_service_instances{{service=\"{}\",revision=\"{}\",state=\"{}\"}} {}\n",
                        s.service.name, r.revision.name, state, n);
      }
    }
  }
  out +=
      "# HELP svc_service_desired_instances What the autoscaler wants for a revision.\n"
      "# TYPE svc_service_desired_instances gauge\n";
  for (const auto& s : services)
    for (const auto& r : s.revisions)
      if (!r.retired)
        out += fmt::format("svc_service_desired_instances{{service=\"{}\",revision=\"{}\"}} {}\n",
                           s.service.name, r.revision.name, r.desired);
  out +=
      "# HELP svc_service_requests_total Requests the ingress proxied to a service, by status "
      "class.\n"
      "# TYPE svc_service_requests_total counter\n";
  static constexpr const char* kClasses[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const auto& s : services)
    for (std::size_t i = 0; i < s.stats.by_class.size(); ++i)
      out += fmt::format("svc_service_requests_total{{service=\"{}\",code=\"{}\"}} {}\n",
                         s.service.name, kClasses[i], s.stats.by_class[i]);
  out +=
      "# HELP svc_service_request_duration_seconds From a request's arrival to the end of its "
      "response.\n"
      "# TYPE svc_service_request_duration_seconds histogram\n";
  for (const auto& s : services)
    histogram(out, "svc_service_request_duration_seconds",
              fmt::format("service=\"{}\"", s.service.name), s.stats.latency);
  out +=
      "# HELP svc_service_cold_starts_total Requests that waited for an instance to start.\n"
      "# TYPE svc_service_cold_starts_total counter\n";
  for (const auto& s : services)
    out += fmt::format("svc_service_cold_starts_total{{service=\"{}\"}} {}\n", s.service.name,
                       s.stats.cold_starts);
  out +=
      "# HELP svc_service_cold_start_phase_seconds A cold start's phases: queue (arrival to "
      "sandbox asked for), sandbox (to its process running), readiness (to the port "
      "answering), first_byte (request sent to first byte back).\n"
      "# TYPE svc_service_cold_start_phase_seconds histogram\n";
  for (const auto& s : services) {
    const auto& p = s.stats.cold_start_phases;
    std::pair<const char*, const svs::Histogram*> phases[] = {{"queue", &p.queue},
                                                              {"sandbox", &p.sandbox},
                                                              {"readiness", &p.readiness},
                                                              {"first_byte", &p.first_byte}};
    for (const auto& [phase, h] : phases)
      histogram(out, "svc_service_cold_start_phase_seconds",
                fmt::format("service=\"{}\",phase=\"{}\"", s.service.name, phase), *h);
  }
  return out;
}

}  // namespace svc::daemon
