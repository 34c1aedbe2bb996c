#include "common/metrics.hpp"

#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

using namespace svc::metrics;

TEST_CASE("counters and gauges render in the Prometheus text format", "[metrics]") {
  Registry r;
  auto& calls = r.counter("svc_api_requests_total", "API calls.", {"method", "code"});
  calls.with({"svc.v1.Tasks/Run", "OK"}).inc();
  calls.with({"svc.v1.Tasks/Run", "OK"}).inc(2);
  calls.with({"svc.v1.Tasks/Get", "NOT_FOUND"}).inc();
  r.gauge("svc_node_allocatable_cpus", "vCPUs.").get().set(2);
  std::string text = r.render();
  CHECK(text ==
        "# HELP svc_api_requests_total API calls.\n"
        "# TYPE svc_api_requests_total counter\n"
        "svc_api_requests_total{method=\"svc.v1.Tasks/Get\",code=\"NOT_FOUND\"} 1\n"
        "svc_api_requests_total{method=\"svc.v1.Tasks/Run\",code=\"OK\"} 3\n"
        "# HELP svc_node_allocatable_cpus vCPUs.\n"
        "# TYPE svc_node_allocatable_cpus gauge\n"
        "svc_node_allocatable_cpus 2\n");
}

TEST_CASE("histograms are cumulative, with +Inf, sum and count", "[metrics]") {
  Registry r;
  auto& h = r.histogram("svc_pull_duration_seconds", "Pulls.", {"result"}, {0.1, 1, 10});
  auto& ok = h.with({"ok"});
  ok.observe(0.05);
  ok.observe(0.1);  // "le" is less than or equal
  ok.observe(0.5);
  ok.observe(60);
  std::string text = r.render();
  CHECK(text.find("svc_pull_duration_seconds_bucket{result=\"ok\",le=\"0.1\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("svc_pull_duration_seconds_bucket{result=\"ok\",le=\"1\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("svc_pull_duration_seconds_bucket{result=\"ok\",le=\"10\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("svc_pull_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"} 4\n") !=
        std::string::npos);
  CHECK(text.find("svc_pull_duration_seconds_sum{result=\"ok\"} 60.65\n") != std::string::npos);
  CHECK(text.find("svc_pull_duration_seconds_count{result=\"ok\"} 4\n") != std::string::npos);
}

TEST_CASE("collectors compute their samples at every scrape", "[metrics]") {
  Registry r;
  int running = 1;
  r.collect("svc_tasks", "Tasks by state.", Type::kGauge, {"state"}, [&] {
    return std::vector<Sample>{{{"STOPPED"}, 4}, {{"RUNNING"}, static_cast<double>(running)}};
  });
  CHECK(r.render().find("svc_tasks{state=\"RUNNING\"} 1\n") != std::string::npos);
  running = 7;
  std::string text = r.render();
  CHECK(text.find("svc_tasks{state=\"RUNNING\"} 7\n") != std::string::npos);
  // Sorted by label values, whatever order the collector returned.
  CHECK(text.find("RUNNING") < text.find("STOPPED"));
}

TEST_CASE("label values and help are escaped, values print exactly", "[metrics]") {
  CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(escape_help("line\\one\ntwo") == "line\\\\one\\ntwo");
  CHECK(format_value(3) == "3");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(1e20) == "1e+20");
  CHECK(format_value(12345678901234.0) == "12345678901234");
  CHECK(format_value(1.0 / 0.0) == "+Inf");
  CHECK(format_value(0.0 / 0.0) == "NaN");
  Registry r;
  r.counter("svc_x_total", "x").with(std::vector<std::string>{}).inc();
  auto& f = r.gauge("svc_label_gauge", "g", {"name"});
  f.with({"we\"ird"}).set(1);
  CHECK(r.render().find("svc_label_gauge{name=\"we\\\"ird\"} 1\n") != std::string::npos);
}

TEST_CASE("names and labels that break the conventions are refused", "[metrics]") {
  Registry r;
  CHECK_THROWS_AS(r.counter("svc_requests", "no _total"), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_open_total", "a gauge ending in _total"), std::logic_error);
  CHECK_THROWS_AS(r.gauge("tasks", "no svc_ prefix"), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_bad-name", "dash"), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_no_help", ""), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_g", "g", {"__reserved"}), std::logic_error);
  CHECK_THROWS_AS(r.histogram("svc_h_seconds", "h", {"le"}), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_x_count", "reserved suffix"), std::logic_error);
  // The same family twice is the same family; differently, an error.
  auto& a = r.counter("svc_ok_total", "ok", {"code"});
  auto& b = r.counter("svc_ok_total", "ok", {"code"});
  CHECK(&a == &b);
  CHECK_THROWS_AS(r.counter("svc_ok_total", "ok", {"other"}), std::logic_error);
  CHECK_THROWS_AS(r.gauge("svc_ok_total", "ok", {"code"}), std::logic_error);
  // A wrong number of label values is a bug, not a silent new series.
  CHECK_THROWS_AS(a.with({"OK", "extra"}), std::logic_error);
}

TEST_CASE("children are shared across threads and nothing is lost", "[metrics]") {
  Registry r;
  auto& f = r.counter("svc_hits_total", "hits", {"who"});
  auto& h = r.histogram("svc_lat_seconds", "lat", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        f.with({"same"}).inc();
        h.get().observe(0.5);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(f.with({"same"}).value() == 40'000);
  CHECK(h.get().snapshot().cumulative.back() == 40'000);
  CHECK(h.get().snapshot().sum == 20'000);
}
