// Service specs (names, defaults, validation), revision and instance names, the launch of an
// instance, and request statistics.
#include <catch2/catch.hpp>

#include "scheduler/services/process.hpp"
#include "scheduler/services/service.hpp"
#include "scheduler/services/stats.hpp"

using namespace svc;
using namespace svc::services;
using namespace std::chrono_literals;

namespace {
ServiceSpec valid() {
  ServiceSpec s;
  s.name = "hello";
  s.image = "busybox:1";
  return normalized(s);
}
std::string error_of(ServiceSpec s) { return validate_service_spec(s).value_or(""); }
}  // namespace

TEST_CASE("service names are DNS labels short enough for revision and instance ids", "[services]") {
  CHECK(valid_service_name("hello"));
  CHECK(valid_service_name("a"));
  CHECK(valid_service_name("my-api-2"));
  CHECK(valid_service_name(std::string(49, 'a')));
  CHECK_FALSE(valid_service_name(std::string(50, 'a')));
  CHECK_FALSE(valid_service_name(""));
  CHECK_FALSE(valid_service_name("Hello"));
  CHECK_FALSE(valid_service_name("2fast"));
  CHECK_FALSE(valid_service_name("-x"));
  CHECK_FALSE(valid_service_name("x-"));
  CHECK_FALSE(valid_service_name("a_b"));
  CHECK_FALSE(valid_service_name("a.b"));
  CHECK_FALSE(valid_service_name(std::string("a\0b", 3)));

  CHECK(revision_name("hello", 1) == "hello-00001");
  CHECK(revision_name("hello", 123456) == "hello-123456");
  CHECK(revision_of_instance("hello-00002-3fa9c210") == "hello-00002");
  CHECK(revision_of_instance("my-api-00010-00ff00ff") == "my-api-00010");
  CHECK(revision_of_instance("hello-3fa9c210").empty());
  CHECK(revision_of_instance("task1234").empty());
  CHECK(revision_of_instance("Hello-00001-aa").empty());
}

TEST_CASE("service specs: defaults filled in, one form per intent", "[services]") {
  ServiceSpec s;
  s.name = "hello";
  s.image = "busybox:1";
  s.env = {{"B", "2"}, {"A", "1"}};
  ServiceSpec n = normalized(s);
  CHECK(n.port == 8080);
  CHECK(n.scaling.concurrency == 80);
  CHECK(n.scaling.target_utilization_percent == 70);
  CHECK(n.scaling.idle_timeout == 60s);
  CHECK(n.scaling.stable_window == 60s);
  CHECK(n.scaling.panic_window == 6s);
  CHECK(n.scaling.panic_threshold_percent == 200);
  CHECK(n.request_timeout == 5min);
  CHECK(n.readiness_timeout == 60s);
  CHECK(n.stop_grace == 10s);
  CHECK(n.queue_limit == 1000);
  CHECK(n.env.front().first == "A");
  CHECK(normalized(n) == n);
  CHECK_FALSE(validate_service_spec(n));
}

TEST_CASE("service specs: bad input is refused with the field and what to do", "[services]") {
  ServiceSpec s = valid();
  s.name = "Hello_World";
  CHECK(error_of(s).find("name \"Hello_World\"") != std::string::npos);
  CHECK(error_of(s).find("lowercase") != std::string::npos);
  s = valid();
  s.name = "";
  CHECK(error_of(s).find("name") != std::string::npos);
  s = valid();
  s.image = "";
  CHECK(error_of(s).find("spec.image") != std::string::npos);
  s = valid();
  s.scaling.concurrency = 0;
  CHECK(error_of(s).find("concurrency 0") != std::string::npos);
  s = valid();
  s.billing = "hourly";
  CHECK(error_of(s).find("billing \"hourly\": give instance or request") != std::string::npos);
  for (const char* ok : {"", "instance", "request"}) {
    s.billing = ok;
    CHECK_FALSE(validate_service_spec(s));
  }
  s = valid();
  s.scaling.idle_timeout = 500ms;
  CHECK(error_of(s).find("idle timeout 500ms") != std::string::npos);
  s.scaling.idle_timeout = 1s;  // the shortest accepted
  CHECK(error_of(s).empty());
  s = valid();
  s.scaling.min_instances = 3;
  s.scaling.max_instances = 2;
  CHECK(error_of(s).find("min instances 3 is more than max instances 2") != std::string::npos);
  s = valid();
  s.scaling.max_instances = -1;
  CHECK(error_of(s).find("max instances -1") != std::string::npos);
  s = valid();
  s.request_timeout = 2h;
  CHECK(error_of(s).find("request timeout 2h") != std::string::npos);
  s = valid();
  s.readiness_path = "healthz";
  CHECK(error_of(s).find("readiness path") != std::string::npos);
  s.readiness_path = "/a b";
  CHECK(error_of(s).find("readiness path") != std::string::npos);
  s.readiness_path = "/healthz?x=1";
  CHECK(error_of(s).empty());
  s = valid();
  s.env = {{"A=B", "1"}};
  CHECK(error_of(s).find("spec.env") != std::string::npos);
  s = valid();
  s.stop_grace = 2h;
  CHECK(error_of(s).find("spec.stopGracePeriod") != std::string::npos);
  s = valid();
  s.network = scheduler::NetworkMode::kNone;
  CHECK(error_of(s).find("network none") != std::string::npos);
}

TEST_CASE("an instance runs with docker-run semantics plus PORT, K_SERVICE and K_REVISION",
          "[services]") {
  Revision rev;
  rev.name = "hello-00003";
  rev.service = "hello";
  rev.spec = valid();
  rev.spec.port = 9090;
  rev.spec.env = {{"MODE", "fast"}, {"K_SERVICE", "mine"}};
  scheduler::ResolvedImage image;
  image.reference = "busybox:1";
  image.entrypoint = {"/bin/httpd"};
  image.cmd = {"-f"};
  image.env = {"PATH=/bin"};
  image.lower_dirs = {"/snap/1"};
  image.stop_signal = "SIGINT";
  scheduler::Resources res{250, 500, 32ULL << 20, 128ULL << 20, 64};
  auto l = make_instance_launch(rev, "hello-00003-0011aabb", image, res);
  REQUIRE(l);
  CHECK(l->id == "hello-00003-0011aabb");
  CHECK(l->args == std::vector<std::string>{"/bin/httpd", "-f"});
  CHECK(std::find(l->env.begin(), l->env.end(), "PORT=9090") != l->env.end());
  CHECK(std::find(l->env.begin(), l->env.end(), "K_SERVICE=mine") != l->env.end());  // its own
  CHECK(std::find(l->env.begin(), l->env.end(), "K_REVISION=hello-00003") != l->env.end());
  CHECK(std::find(l->env.begin(), l->env.end(), "MODE=fast") != l->env.end());
  CHECK(l->cpu_millis == 500);  // the limit, not the request
  CHECK(l->memory_bytes == 128ULL << 20);
  CHECK(l->pids == 64);
  CHECK(l->stop_signal == 2);  // the image's SIGINT
  CHECK(l->stop_grace == 10s);
  CHECK(l->lower_dirs == std::vector<std::string>{"/snap/1"});

  rev.spec.args = {"-p", "9090"};
  l = make_instance_launch(rev, "hello-00003-0011aabb", image, res);
  CHECK(l->args == std::vector<std::string>{"/bin/httpd", "-p", "9090"});
  image.entrypoint.clear();
  image.cmd.clear();
  rev.spec.args.clear();
  CHECK_FALSE(make_instance_launch(rev, "x", image, res));
}

TEST_CASE("request statistics: classes, latency percentiles, cold starts", "[services]") {
  ServiceStats st;
  for (int i = 0; i < 90; ++i) {
    ingress::RequestRecord r;
    r.service = "hello";
    r.status = 200;
    r.duration = 3ms;
    st.add(r);
  }
  for (int i = 0; i < 10; ++i) {
    ingress::RequestRecord r;
    r.status = i < 5 ? 502 : 404;
    r.duration = 40ms;
    st.add(r);
  }
  ingress::RequestRecord cold;
  cold.status = 200;
  cold.duration = 8ms;
  cold.instance = "hello-00001-aa";
  cold.cold_start = ingress::ColdStart{1ms, 5ms, 1ms, 1ms};
  st.add(cold);
  CHECK(st.requests_total == 101);
  CHECK(st.by_class[2] == 91);
  CHECK(st.by_class[4] == 5);
  CHECK(st.by_class[5] == 5);
  CHECK(st.latency.count() == 101);
  CHECK(st.latency.quantile(0.5) > 2.5);
  CHECK(st.latency.quantile(0.5) <= 5);
  CHECK(st.latency.quantile(0.99) > 25);
  CHECK(st.latency.quantile(0.99) <= 50);
  CHECK(st.cold_starts == 1);
  CHECK(st.cold_start_phases.sandbox.count() == 1);
  REQUIRE(st.last_cold_start);
  CHECK(st.last_cold_start->instance == "hello-00001-aa");
  CHECK(st.last_cold_start->total == 8ms);
  Histogram empty;
  CHECK(empty.quantile(0.99) == 0);
}
