// The services' /metrics series in the Prometheus text format.
#include <catch2/catch.hpp>

#include "daemon/service_metrics.hpp"

using namespace svc;
using namespace svc::daemon;
using namespace std::chrono_literals;

TEST_CASE("service metrics: instances by state, requests by class, histograms", "[metrics]") {
  services::ServiceStatus s;
  s.service.name = "hello";
  services::RevisionStatus r;
  r.revision.name = "hello-00001";
  r.ready = 2;
  r.desired = 3;
  s.revisions.push_back(r);
  ingress::RequestRecord ok;
  ok.status = 200;
  ok.duration = 3ms;
  s.stats.add(ok);
  ingress::RequestRecord cold = ok;
  cold.duration = 12ms;
  cold.cold_start = ingress::ColdStart{1ms, 6ms, 1ms, 2ms};
  s.stats.add(cold);
  ingress::RequestRecord bad = ok;
  bad.status = 502;
  s.stats.add(bad);
  services::InstanceCounts counts;
  counts.by_revision[{"hello", "hello-00001"}][services::InstanceState::kReady] = 2;
  counts.by_revision[{"hello", "hello-00001"}][services::InstanceState::kStarting] = 1;
  std::string text = service_metrics_text({s}, counts);
  auto has = [&](const std::string& line) {
    INFO(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("# TYPE svc_service_instances gauge");
  has("svc_service_instances{service=\"hello\",revision=\"hello-00001\",state=\"ready\"} 2");
  has("svc_service_instances{service=\"hello\",revision=\"hello-00001\",state=\"starting\"} 1");
  has("svc_service_instances{service=\"hello\",revision=\"hello-00001\",state=\"draining\"} 0");
  has("svc_service_desired_instances{service=\"hello\",revision=\"hello-00001\"} 3");
  has("svc_service_requests_total{service=\"hello\",code=\"2xx\"} 2");
  has("svc_service_requests_total{service=\"hello\",code=\"5xx\"} 1");
  has("# TYPE svc_service_request_duration_seconds histogram");
  has("svc_service_request_duration_seconds_bucket{service=\"hello\",le=\"0.005\"} 2");
  has("svc_service_request_duration_seconds_bucket{service=\"hello\",le=\"+Inf\"} 3");
  has("svc_service_request_duration_seconds_count{service=\"hello\"} 3");
  has("svc_service_request_duration_seconds_sum{service=\"hello\"} 0.018000");
  has("svc_service_cold_starts_total{service=\"hello\"} 1");
  has("svc_service_cold_start_phase_seconds_bucket{service=\"hello\",phase=\"sandbox\","
      "le=\"0.01\"} 1");
  has("svc_service_cold_start_phase_seconds_count{service=\"hello\",phase=\"first_byte\"} 1");
}
