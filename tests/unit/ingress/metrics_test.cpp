#include <cstring>

#include <catch2/catch.hpp>

#include "scheduler/ingress/metrics.hpp"

using namespace svc::ingress;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("metrics: Prometheus text for each service", "[ingress][metrics]") {
  auto m = std::make_shared<ServiceMetrics>("hello");
  m->count_response(200, microseconds(300));
  m->count_response(204, milliseconds(3));
  m->count_response(503, microseconds(10));
  m->cold_starts = 1;
  m->cold_phases[static_cast<int>(ColdPhase::kSandbox)].observe(milliseconds(5));
  m->queue_rejections = 2;
  ProxyCounters counters;
  counters.unrouted = 4;
  counters.connections_open = 3;
  std::string text = render_metrics({{m, 7, 2, 1}}, counters);
  CHECK(text.find("# TYPE svc_ingress_requests_total counter\n") != std::string::npos);
  CHECK(text.find("svc_ingress_requests_total{service=\"hello\",code=\"2xx\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("svc_ingress_requests_total{service=\"hello\",code=\"5xx\"} 1\n") !=
        std::string::npos);
  // Cumulative buckets: 10 us and 300 us are <= 0.0005 s; 3 ms is not.
  CHECK(text.find(
            "svc_ingress_request_duration_seconds_bucket{service=\"hello\",le=\"0.00025\"} 1\n") !=
        std::string::npos);
  CHECK(text.find(
            "svc_ingress_request_duration_seconds_bucket{service=\"hello\",le=\"0.0005\"} 2\n") !=
        std::string::npos);
  CHECK(
      text.find("svc_ingress_request_duration_seconds_bucket{service=\"hello\",le=\"+Inf\"} 3\n") !=
      std::string::npos);
  CHECK(text.find("svc_ingress_request_duration_seconds_count{service=\"hello\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("svc_ingress_request_duration_seconds_sum{service=\"hello\"} 0.00331\n") !=
        std::string::npos);
  CHECK(text.find("svc_ingress_cold_starts_total{service=\"hello\"} 1\n") != std::string::npos);
  CHECK(
      text.find(
          "svc_ingress_cold_start_phase_seconds_count{service=\"hello\",phase=\"sandbox\"} 1\n") !=
      std::string::npos);
  CHECK(text.find("svc_ingress_queue_rejections_total{service=\"hello\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("svc_ingress_requests_waiting{service=\"hello\"} 7\n") != std::string::npos);
  CHECK(text.find("svc_ingress_requests_in_flight{service=\"hello\"} 2\n") != std::string::npos);
  CHECK(text.find("svc_ingress_instances_ready{service=\"hello\"} 1\n") != std::string::npos);
  CHECK(text.find("svc_ingress_unrouted_requests_total 4\n") != std::string::npos);
  CHECK(text.find("svc_ingress_connections_open 3\n") != std::string::npos);
  // Every sample line belongs to a declared family.
  std::size_t pos = 0;
  while ((pos = text.find('\n', pos)) != std::string::npos && pos + 1 < text.size()) {
    ++pos;
    if (text[pos] == '#') continue;
    auto name = text.substr(pos, text.find_first_of("{ ", pos) - pos);
    for (auto suffix : {"_bucket", "_sum", "_count"})
      if (name.size() > std::strlen(suffix) &&
          name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0 &&
          text.find("# TYPE " + name + " ") == std::string::npos)
        name.resize(name.size() - std::strlen(suffix));
    INFO(name);
    CHECK(text.find("# TYPE " + name + " ") != std::string::npos);
  }
}
