// /metrics as Prometheus scrapes it from a real svcd: the text passes `promtool check metrics`
// (Debian's prometheus package) and carries the series the issue names, with values that follow
// what the test did — a pull, a running task, a finished one, API calls, a bill. Root only.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <set>

#include "common/fs.hpp"
#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The value of one sample ("name{labels}" exactly as rendered), or nullopt when absent.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  auto at = text.find(needle);
  if (at == std::string::npos) return std::nullopt;
  auto from = at + needle.size();
  return std::stod(text.substr(from, text.find('\n', from) - from));
}

std::string scrape(const DaemonFixture& d) {
  auto r = d.curl("GET", "/metrics");
  REQUIRE(r.exit_code == 200);
  return "\n" + r.out;  // so the first line matches "\n<series> " too
}

// promtool's verdict: "" when the text is clean, else what it says.
std::string promtool_problems(const std::string& text) {
  auto r = run({"promtool", "check", "metrics"}, 30s, {}, text.substr(1));
  if (r.exit_code == 0) return "";
  return fmt::format("promtool exit {}: {}{}", r.exit_code, r.out, r.err);
}

// Every PromQL expression of the Grafana dashboard, with Grafana's variables replaced by what
// Grafana would put there.
std::vector<std::string> dashboard_exprs() {
  std::ifstream in(SVC_DASHBOARD);
  REQUIRE(in);
  json dash = json::parse(in);
  std::vector<std::string> out;
  for (const auto& panel : dash.at("panels"))
    for (const auto& t : panel.value("targets", json::array())) {
      std::string e = t.at("expr");
      e = std::regex_replace(e, std::regex(R"(\$__rate_interval)"), "1m");
      e = std::regex_replace(e, std::regex(R"(\$instance)"), ".*");
      out.push_back(e);
    }
  return out;
}

}  // namespace

TEST_CASE("/metrics passes promtool and shows pulls, tasks, capacity, API calls and usage",
          "[e2e][metrics]") {
  SVC_SKIP_UNLESS_ROOT();
  if (run({"sh", "-c", "command -v promtool"}).exit_code != 0)
    SVC_SKIP("promtool not installed (Debian package prometheus)");
  RegistryFixture registry;
  registry.start();
  std::string image = registry.push(busybox_image(), "e2e/busybox:1");
  DaemonFixture::Options o;
  o.extra_config =
      // A flagless task requests 1 vCPU and 512Mi here (the node's own defaults are 1m and
      // 16Mi), so the bill below is a round number.
      fmt::format("[registries]\ninsecure = [\"{}\"]\n[node]\ncpus = 2\n"
                  "default_cpu_request = \"1\"\ndefault_memory_request = \"512Mi\"\n",
                  registry.host());
  DaemonFixture d(o);
  d.start();

  // Before anything ran: clean, every family present, zeros where nothing happened.
  std::string idle = scrape(d);
  INFO(idle);
  CHECK(promtool_problems(idle) == "");
  CHECK(sample(idle, "svc_node_allocatable_cpus") == 2);
  CHECK(sample(idle, "svc_node_requested_cpus") == 0);
  CHECK(sample(idle, "svc_tasks{state=\"RUNNING\"}") == 0);
  CHECK(sample(idle, "svc_usage_runs_total{kind=\"task\"}") == 0);
  CHECK(idle.find("\nsvc_build_info{version=\"") != std::string::npos);
  CHECK(sample(idle, "svc_uptime_seconds") >= 0);

  // A task that keeps running, and one that has finished.
  REQUIRE(d.svctl({"run", "-d", "--name", "runs", "--cpu", "0.5", "--memory", "64Mi", image, "--",
                   "sleep", "60"})
              .exit_code == 0);
  REQUIRE(wait_for(
      [&] {
        auto r = d.svctl({"inspect", "runs", "-o", "json"});
        return r.exit_code == 0 && json::parse(r.out).value("state", "") == "RUNNING";
      },
      60s));
  auto done = d.svctl({"run", "--name", "done", image, "--", "true"});
  REQUIRE(done.exit_code == 0);
  REQUIRE(d.svctl({"usage"}).exit_code == 0);

  std::string busy = scrape(d);
  INFO(busy);
  CHECK(promtool_problems(busy) == "");
  CHECK(sample(busy, "svc_tasks{state=\"RUNNING\"}") == 1);
  CHECK(sample(busy, "svc_tasks{state=\"STOPPED\"}") == 1);
  CHECK(sample(busy, "svc_node_requested_cpus") == 0.5);
  CHECK(sample(busy, "svc_node_requested_memory_bytes") == 64 << 20);
  // One pull (the first run's), which fetched the image's layer; the second run found it.
  CHECK(sample(busy, "svc_image_pulls_total{result=\"ok\"}") >= 1);
  CHECK(sample(busy, "svc_image_pull_bytes_total") > 0);
  CHECK(sample(busy, "svc_image_pull_duration_seconds_count{result=\"ok\"}") >= 1);
  // API calls by method and code, and their durations.
  CHECK(sample(busy, "svc_api_requests_total{method=\"svc.v1.Tasks/Run\",code=\"OK\"}") == 2);
  CHECK(sample(busy, "svc_api_requests_total{method=\"svc.v1.Usage/Query\",code=\"OK\"}") == 1);
  CHECK(sample(busy, "svc_api_request_duration_seconds_count{method=\"svc.v1.Tasks/Run\"}") == 2);
  // Usage: the finished run is billed (60 s minimum at 1 vCPU), the running one is open.
  CHECK(sample(busy, "svc_usage_runs_total{kind=\"task\"}") == 1);
  CHECK(sample(busy, "svc_usage_billed_seconds_total{kind=\"task\"}") == 60);
  CHECK(sample(busy, "svc_usage_billed_vcpu_seconds_total{kind=\"task\"}") == 60);
  CHECK(sample(busy, "svc_usage_open_runs{kind=\"task\"}") == 1);
  CHECK(sample(busy, "svc_usage_cost_total{kind=\"task\",currency=\"USD\"}") == Approx(0.000714));

  // The same text on the ingress port, for a Prometheus that scrapes over TCP; a Host that
  // names a service keeps its own /metrics path (no such service here: 404, not svcd's text).
  REQUIRE(d.ingress_port() > 0);
  auto url = fmt::format("http://127.0.0.1:{}/metrics", d.ingress_port());
  auto ingress = run({"curl", "-sS", "-w", "\n%{http_code}", url}, 30s);
  REQUIRE(ingress.exit_code == 0);
  INFO(ingress.out);
  REQUIRE(ingress.out.ends_with("\n200"));
  std::string via_ingress = "\n" + ingress.out.substr(0, ingress.out.size() - 4);
  CHECK(promtool_problems(via_ingress) == "");
  CHECK(sample(via_ingress, "svc_tasks{state=\"RUNNING\"}") == 1);
  CHECK(via_ingress.find("\nsvc_ingress_") != std::string::npos);
  auto app = run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                  "Host: app.localhost", url},
                 30s);
  CHECK(app.out == "404");

  // The counters come from svcd.db: a restart keeps them (no reset a dashboard must guess).
  d.stop();
  d.start();
  std::string again = scrape(d);
  CHECK(sample(again, "svc_usage_billed_seconds_total{kind=\"task\"}") == 60);

  // The dashboard (packaging/grafana) charts only series that exist, in PromQL that parses:
  // promtool checks each expression as a recording rule.
  auto exprs = dashboard_exprs();
  REQUIRE(exprs.size() >= 15);
  std::set<std::string> names;
  std::regex name_re(R"(\bsvc_[a-z_]+)");
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    for (std::sregex_iterator m(exprs[i].begin(), exprs[i].end(), name_re), end; m != end; ++m)
      names.insert(m->str());
    rules += fmt::format("      - record: svc:dashboard_{}\n        expr: '{}'\n", i,
                         std::regex_replace(exprs[i], std::regex("'"), "''"));
  }
  for (const auto& n : names) {
    INFO("the dashboard charts " << n);
    CHECK(busy.find("\n" + n) != std::string::npos);
  }
  TempDir tmp;
  REQUIRE(write_file_atomic(tmp.path() / "dashboard.rules.yml", rules));
  auto check = run({"promtool", "check", "rules", (tmp.path() / "dashboard.rules.yml").string()});
  INFO(rules << check.out << check.err);
  CHECK(check.exit_code == 0);
}
