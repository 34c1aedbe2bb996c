#include "scheduler/ingress/metrics.hpp"

#include <fmt/format.h>

namespace svc::ingress {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Label values are service names (DNS labels), but escape as the format requires anyway.
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void help(std::string& out, std::string_view name, std::string_view type, std::string_view text) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
}

}  // namespace

void Histogram::observe(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  buckets_[i].fetch_add(1, kRelaxed);
  count_.fetch_add(1, kRelaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0), kRelaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += buckets_[i].load(kRelaxed);
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels,
                   kLatencyBuckets[i], cumulative);
  }
  cumulative += buckets_.back().load(kRelaxed);
  fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels,
                 cumulative);
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n", name, labels,
                 static_cast<double>(sum_ns_.load(kRelaxed)) / 1e9);
  fmt::format_to(std::back_inserter(out), "{}_count{{{}}} {}\n", name, labels, cumulative);
}

void ServiceMetrics::count_response(int status, std::chrono::nanoseconds took) {
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) responses[static_cast<std::size_t>(cls - 1)].fetch_add(1, kRelaxed);
  duration.observe(took);
}

std::string render_metrics(const std::vector<ServiceGauges>& services,
                           const ProxyCounters& counters) {
  std::string out;
  auto each = [&](auto fn) {
    for (const auto& s : services) fn(s, fmt::format("service=\"{}\"", label(s.metrics->service)));
  };
  help(out, "svc_ingress_requests_total", "counter",
       "Requests for a service answered, by the status class the client got.");
  each([&](const ServiceGauges& s, const std::string& l) {
    for (std::size_t c = 0; c < 5; ++c)
      fmt::format_to(std::back_inserter(out), "svc_ingress_requests_total{{{},code=\"{}xx\"}} {}\n",
                     l, c + 1, s.metrics->responses[c].load(kRelaxed));
  });
  help(out, "svc_ingress_request_duration_seconds", "histogram",
       "From a request's arrival at the proxy to the last byte of its response.");
  each([&](const ServiceGauges& s, const std::string& l) {
    s.metrics->duration.render(out, "svc_ingress_request_duration_seconds", l);
  });
  help(out, "svc_ingress_cold_starts_total", "counter",
       "Instance starts that requests waited for.");
  each([&](const ServiceGauges& s, const std::string& l) {
    fmt::format_to(std::back_inserter(out), "svc_ingress_cold_starts_total{{{}}} {}\n", l,
                   s.metrics->cold_starts.load(kRelaxed));
  });
  help(out, "svc_ingress_cold_start_phase_seconds", "histogram",
       "Phases of the cold starts requests waited for: queue, sandbox, readiness, first-byte.");
  each([&](const ServiceGauges& s, const std::string& l) {
    for (std::size_t p = 0; p < kPhaseNames.size(); ++p)
      s.metrics->cold_phases[p].render(out, "svc_ingress_cold_start_phase_seconds",
                                       fmt::format("{},phase=\"{}\"", l, kPhaseNames[p]));
  });
  struct Counter {
    const char* name;
    const char* text;
    const std::atomic<std::uint64_t> ServiceMetrics::*field;
  };
  static constexpr Counter kCounters[] = {
      {"svc_ingress_queue_rejections_total",
       "Requests answered 503 at once because the service's queue was full.",
       &ServiceMetrics::queue_rejections},
      {"svc_ingress_timeouts_total",
       "Requests answered 504: no response started within the request timeout.",
       &ServiceMetrics::timeouts},
      {"svc_ingress_upstream_errors_total",
       "Requests answered 502 (or cut) because the instance failed them.",
       &ServiceMetrics::upstream_errors},
      {"svc_ingress_client_aborts_total", "Requests whose client left before the response ended.",
       &ServiceMetrics::client_aborts},
  };
  for (const auto& c : kCounters) {
    help(out, c.name, "counter", c.text);
    each([&](const ServiceGauges& s, const std::string& l) {
      fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", c.name, l,
                     ((*s.metrics).*(c.field)).load(kRelaxed));
    });
  }
  help(out, "svc_ingress_requests_waiting", "gauge",
       "Requests held now until an instance has a free slot.");
  each([&](const ServiceGauges& s, const std::string& l) {
    fmt::format_to(std::back_inserter(out), "svc_ingress_requests_waiting{{{}}} {}\n", l,
                   s.waiting);
  });
  help(out, "svc_ingress_requests_in_flight", "gauge", "Requests being proxied now.");
  each([&](const ServiceGauges& s, const std::string& l) {
    fmt::format_to(std::back_inserter(out), "svc_ingress_requests_in_flight{{{}}} {}\n", l,
                   s.in_flight);
  });
  help(out, "svc_ingress_instances_ready", "gauge", "Instances taking requests now.");
  each([&](const ServiceGauges& s, const std::string& l) {
    fmt::format_to(std::back_inserter(out), "svc_ingress_instances_ready{{{}}} {}\n", l,
                   s.instances_ready);
  });
  help(out, "svc_ingress_unrouted_requests_total", "counter",
       "Requests answered 404 because their Host names no service.");
  fmt::format_to(std::back_inserter(out), "svc_ingress_unrouted_requests_total {}\n",
                 counters.unrouted.load(kRelaxed));
  help(out, "svc_ingress_bad_requests_total", "counter",
       "Malformed requests refused (400, 408, 413, 417, 431, 501, 505) and closed.");
  fmt::format_to(std::back_inserter(out), "svc_ingress_bad_requests_total {}\n",
                 counters.bad_requests.load(kRelaxed));
  help(out, "svc_ingress_connections_total", "counter", "Client connections accepted.");
  fmt::format_to(std::back_inserter(out), "svc_ingress_connections_total {}\n",
                 counters.connections_total.load(kRelaxed));
  help(out, "svc_ingress_connections_open", "gauge", "Client connections open now.");
  fmt::format_to(std::back_inserter(out), "svc_ingress_connections_open {}\n",
                 counters.connections_open.load(kRelaxed));
  return out;
}

}  // namespace svc::ingress
