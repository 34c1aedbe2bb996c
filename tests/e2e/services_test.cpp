// Services as a user drives them: svctl deploy, curl at the URL it prints, svctl services /
// service describe|instances|logs|rm, /metrics. A real registry, a real svcd with its ingress
// on a port of its own, real sandboxes. Root only.
#include <catch2/catch.hpp>

#include "tests/e2e/service_helpers.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

TEST_CASE("deploy: the URL answers from zero, then scales back to zero after its idle timeout",
          "[e2e][services]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.ingress_port() > 0);

  auto deployed = d.svctl({"deploy", "hello", images().httpd, "--idle-timeout", "1s"}, 120s);
  INFO(deployed.err << d.log());
  REQUIRE(deployed.exit_code == 0);
  CHECK(deployed.out == d.service_url("hello") + "\n");
  CHECK(deployed.err.find("Service hello created: revision hello-00001") != std::string::npos);

  // Deployed, nothing runs: it costs nothing until the first request.
  json s = describe(d, "hello");
  REQUIRE(s.is_object());
  CHECK(s["servingRevision"] == "hello-00001");
  CHECK(instance_count(s) == 0);
  CHECK(s["conditions"][0]["type"] == "Ready");
  CHECK(s["conditions"][0]["reason"] == "ScaledToZero");
  auto list = d.svctl({"services"});
  CHECK(list.out.find("hello") != std::string::npos);
  CHECK(list.out.find("Scaled to zero") != std::string::npos);

  // The first request starts an instance and is answered by it; the response that paid for
  // the cold start says so in Server-Timing.
  Response first = get(d.service_url("hello"));
  // On failure, what the instances printed says why far better than svcd's log alone.
  std::string instance_output = first.status == 200 ? "" : archived_output(d, "hello");
  INFO(first.error << first.body << "\ninstances' output:\n" << instance_output << d.log());
  REQUIRE(first.status == 200);
  CHECK(first.body.find("hello from hello-00001-") != std::string::npos);
  REQUIRE(first.headers.count("server-timing"));
  CHECK(first.headers["server-timing"].find("sandbox") != std::string::npos);
  Response warm = get(d.service_url("hello"));
  CHECK(warm.status == 200);
  CHECK(warm.headers.count("server-timing") == 0);

  s = describe(d, "hello");
  CHECK(instances_in(s, "READY") == 1);
  CHECK(count_of(s["stats"]["requestsTotal"]) == 2);
  CHECK(count_of(s["stats"]["requestsByClass"]["2xx"]) == 2);
  CHECK(count_of(s["stats"]["coldStarts"]["count"]) == 1);
  auto inst = d.svctl({"service", "instances", "hello"});
  CHECK(inst.out.find("ready") != std::string::npos);

  // No request for its idle timeout: zero instances, and Ready says so.
  CHECK(wait_service(
      d, "hello", [](const json& j) { return instance_count(j) == 0; }, 20s));
  s = describe(d, "hello");
  CHECK(s["conditions"][0]["reason"] == "ScaledToZero");

  // From zero again: another cold start, answered.
  Response again = get(d.service_url("hello"));
  CHECK(again.status == 200);
  CHECK(again.headers.count("server-timing") == 1);
  CHECK(count_of(describe(d, "hello")["stats"]["coldStarts"]["count"]) == 2);

  // The human view shows revisions, instances, conditions and the cold start's phases.
  auto text = d.svctl({"service", "describe", "hello"});
  CHECK(text.exit_code == 0);
  for (const char* want : {"hello-00001", "Conditions:", "Revisions:", "Instances:", "Cold starts",
                           "sandbox", "Requests"})
    CHECK(text.out.find(want) != std::string::npos);

  // The logs: the instances' own output (also of the instance that stopped) beside the
  // request log.
  auto logs = d.svctl({"service", "logs", "hello"});
  INFO(logs.out << logs.err);
  CHECK(logs.exit_code == 0);
  CHECK(logs.out.find("listening on 127.0.0.1:8080") != std::string::npos);
  CHECK(logs.out.find("[request] GET / 200") != std::string::npos);
  auto no_req = d.svctl({"service", "logs", "hello", "--no-requests"});
  CHECK(no_req.out.find("[request]") == std::string::npos);

  // /metrics has the service's requests, latency and instances.
  auto metrics = d.curl("GET", "/metrics");
  CHECK(metrics.out.find("svc_service_requests_total{service=\"hello\",code=\"2xx\"} 3") !=
        std::string::npos);
  CHECK(metrics.out.find("svc_service_instances{service=\"hello\",revision=\"hello-00001\"") !=
        std::string::npos);
  CHECK(metrics.out.find("svc_service_cold_starts_total{service=\"hello\"} 2") !=
        std::string::npos);

  // Removed: its URL answers 404 at once and it is no longer listed.
  auto rm = d.svctl({"service", "rm", "hello"});
  CHECK(rm.exit_code == 0);
  Response gone = get(d.service_url("hello"));
  CHECK(gone.status == 404);
  CHECK(d.svctl({"services", "-q"}).out.empty());
  auto missing = d.svctl({"service", "describe", "hello"});
  CHECK(missing.exit_code == 5);
  CHECK(missing.err.find("no service \"hello\"") != std::string::npos);
}

TEST_CASE("deploy: the same spec changes nothing, a new spec makes the next revision",
          "[e2e][services]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  deploy(d, {"web", images().httpd, "-e", "VERSION=1"});
  auto same = d.svctl({"deploy", "web", images().httpd, "-e", "VERSION=1"});
  CHECK(same.exit_code == 0);
  CHECK(same.err.find("unchanged") != std::string::npos);
  json s = describe(d, "web");
  CHECK(s["revisions"].size() == 1);

  auto next = d.svctl({"deploy", "web", images().httpd, "-e", "VERSION=2", "-o", "json"});
  REQUIRE(next.exit_code == 0);
  json j = json::parse(next.out);
  CHECK(j["deployOutcome"] == "UPDATED");
  CHECK(j["latestRevision"] == "web-00002");
  // Nothing ran, so the new revision takes the traffic at once.
  CHECK(j["servingRevision"] == "web-00002");
  CHECK(j["spec"]["env"]["VERSION"] == "");  // values are never shown
  CHECK(get(d.service_url("web")).body.find("hello from web-00002-") != std::string::npos);
  s = describe(d, "web");
  CHECK(s["revisions"].size() == 2);
  CHECK(s["revisions"][0]["name"] == "web-00002");
  CHECK(s["revisions"][0]["trafficPercent"] == 100);
}

TEST_CASE("deploy: bad input gets a clear error and stores nothing", "[e2e][services]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string img = images().httpd;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"Hello_World", img}, "name \"Hello_World\": a service name is"},
      {{"9lives", img}, "name \"9lives\": a service name is"},
      {{"trailing-", img}, "name \"trailing-\": a service name is"},
      {{std::string(60, 'a'), img}, "a service name is 1-49"},
      {{"ok", img, "--port", "0"}, "--port 0"},
      {{"ok", img, "--port", "70000"}, "--port 70000"},
      {{"ok", img, "--idle-timeout", "500ms"}, "idle timeout 500ms: must be 1s to 24h"},
      {{"ok", img, "--idle-timeout", "soon"}, "--idle-timeout"},
      {{"ok", img, "--request-timeout=-5s"}, "--request-timeout"},
      {{"ok", img, "--stop-timeout", "10 parsecs"}, "--stop-timeout"},
      {{"ok", img, "--concurrency", "0"}, "--concurrency"},
      {{"ok", img, "--min-instances", "3", "--max-instances", "2"},
       "min instances 3 is more than max instances 2"},
      {{"ok", img, "--readiness-path", "healthz"}, "readiness path \"healthz\""},
      {{"ok", img, "--cpu", "lots"}, "--cpu"},
      {{"ok", img, "-e", "=x"}, "--env =x: the name is empty"},
      {{"ok", images().registry.host() + "/e2e/no-such-image:1"}, "no-such-image"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {"deploy"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = d.svctl(argv);
    INFO("svctl deploy " << fmt::format("{}", fmt::join(c.args, " ")) << "\n" << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.out.empty());
  }
  CHECK(d.svctl({"services", "-q"}).out.empty());
  // Unknown names to the other verbs: exit 5, as for tasks.
  CHECK(d.svctl({"service", "rm", "nope"}).exit_code == 5);
  CHECK(d.svctl({"service", "logs", "nope"}).exit_code == 5);
  CHECK(d.svctl({"service", "instances", "nope"}).exit_code == 5);
  // An unknown host at the ingress: 404 saying so.
  Response unknown = get(d.service_url("nope"));
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find("nope") != std::string::npos);
}

TEST_CASE("busybox httpd as a service: the image's command, port 8080", "[e2e][services]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  std::string url = deploy(d, {"bb", images().busybox});
  Response r = get(url + "index.html");
  INFO(r.error << d.log());
  CHECK(r.status == 200);
  CHECK(r.body == "hello from busybox httpd\n");
}

TEST_CASE("min-instances keeps warm instances without traffic, max-instances caps a burst",
          "[e2e][services]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  deploy(d, {"warm", images().httpd, "--min-instances", "2", "--idle-timeout", "1s"});
  CHECK(wait_service(d, "warm", [](const json& s) { return instances_in(s, "READY") == 2; }));
  // Well past the idle timeout, with no request at all: still two, the same two.
  json before = describe(d, "warm");
  std::this_thread::sleep_for(2500ms);  // the idle timeout must pass for this to mean anything
  json after = describe(d, "warm");
  CHECK(instances_in(after, "READY") == 2);
  CHECK(before["instances"][0]["id"] == after["instances"][0]["id"]);
  Response r = get(d.service_url("warm"));
  CHECK(r.status == 200);
  CHECK(r.headers.count("server-timing") == 0);  // a warm instance answered: no cold start

  // max 2, one request at a time each: 12 slow requests at once get two instances, the rest
  // wait their turn (no overload, no error).
  deploy(d, {"capped", images().httpd, "--max-instances", "2", "--concurrency", "1",
             "--idle-timeout", "1s"});
  std::atomic<int> most{0};
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      int n = instance_count(describe(d, "capped"));
      if (n > most) most = n;
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i)
    clients.emplace_back([&] {
      if (get(d.service_url("capped", "/sleep?ms=300")).status == 200) ++ok;
    });
  for (auto& c : clients) c.join();
  done = true;
  watcher.join();
  CHECK(ok == 12);
  CHECK(most <= 2);
  CHECK(most >= 1);
  json capped = describe(d, "capped");
  CHECK(capped["revisions"][0]["desiredInstances"].get<int>() <= 2);
}
