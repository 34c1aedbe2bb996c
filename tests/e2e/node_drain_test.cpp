// svctl node drain and resume, as an operator uses them before maintenance (and the package's
// prerm before it stops svcd): everything that runs stops, nothing new starts and says why,
// services and queued work are kept, and resume brings the services' minimum back.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdio>
#include <thread>

#include "tests/e2e/service_helpers.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

namespace {

json node_info(const DaemonFixture& d) {
  auto r = d.svctl({"node", "info", "-o", "json"});
  return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json();
}

bool alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  // A zombie (ended, not yet reaped) does not run.
  std::string stat;
  if (FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r")) {
    char buf[512] = {};
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    stat.assign(buf, n);
  }
  auto close = stat.rfind(')');
  return close == std::string::npos || stat.compare(close + 2, 1, "Z") != 0;
}

int ready_pid(const DaemonFixture& d, const std::string& service) {
  auto r = d.svctl({"service", "instances", service, "-o", "json"});
  if (r.exit_code != 0) return 0;
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_object()) return 0;
  for (const auto& i : j.value("instances", json::array()))
    if (i.value("state", "") == "READY") return i.value("pid", 0);
  return 0;
}

}  // namespace

TEST_CASE("node drain: tasks and instances stop, nothing starts until resume, services are kept",
          "[e2e][node]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.ingress_port() > 0);

  deploy(d, {"warm", images().httpd, "--min-instances", "1"});
  deploy(d, {"cold", images().httpd});
  REQUIRE(get(d.service_url("cold")).status == 200);
  REQUIRE(d.svctl({"run", "-d", "--name", "sleeper", images().busybox, "--", "sleep", "3600"}, 120s)
              .exit_code == 0);
  int task_pid = json::parse(d.svctl({"inspect", "sleeper", "-o", "json"}).out).value("pid", 0);
  int warm_pid = ready_pid(d, "warm");
  REQUIRE(alive(task_pid));
  REQUIRE(alive(warm_pid));
  CHECK(node_info(d).value("draining", "") == "");
  CHECK(d.svctl({"node", "info"}).out.find("Admission:") != std::string::npos);

  SECTION("a bad timeout is refused and changes nothing") {
    auto bad = d.svctl({"node", "drain", "--timeout", "soon"});
    CHECK(bad.exit_code == 1);  // as every bad flag value svctl checks itself
    CHECK(bad.err.find("--timeout") != std::string::npos);
    CHECK(node_info(d).value("draining", "") == "");
    CHECK(alive(task_pid));
  }

  SECTION("drain, then resume") {
    auto drained = d.svctl({"node", "drain", "--timeout", "60s"}, 90s);
    INFO(drained.out << drained.err << d.log());
    REQUIRE(drained.exit_code == 0);
    CHECK(drained.out.find("1 task(s) stopped, 2 instance(s) drained; nothing runs") !=
          std::string::npos);
    // It answered once they ended: nothing of them runs now.
    CHECK_FALSE(alive(task_pid));
    CHECK_FALSE(alive(warm_pid));
    json task = json::parse(d.svctl({"inspect", "sleeper", "-o", "json"}).out);
    CHECK(task.value("state", "") == "STOPPED");
    CHECK(task.value("stopReason", "") == "NodeDrained");
    json info = node_info(d);
    CHECK(info.value("draining", "").find("the node is draining") != std::string::npos);
    CHECK(info.value("runningTasks", -1) <= 0);
    CHECK(info.value("runningInstances", -1) <= 0);
    CHECK(d.svctl({"node", "info"}).out.find("closed: the node is draining") !=
          std::string::npos);

    // Nothing starts, and each refusal says why at once.
    auto run = d.svctl({"run", "--rm", images().busybox, "--", "true"}, 60s);
    CHECK(run.exit_code != 0);
    CHECK(run.err.find("the node is draining") != std::string::npos);
    Response refused = get(d.service_url("cold"), 20s);
    // Nothing failed: the start could not begin, so 503 with Retry-After, and the body says why.
    CHECK(refused.status == 503);
    CHECK(refused.headers["retry-after"] == "1");
    CHECK(refused.body.find("the node is draining") != std::string::npos);
    // A task queued for room waits for the resume.
    REQUIRE(d.svctl({"run", "-d", "--queue", "--name", "later", images().busybox, "--", "sleep",
                     "3600"},
                    60s)
                .exit_code == 0);
    CHECK(json::parse(d.svctl({"inspect", "later", "-o", "json"}).out).value("state", "") ==
          "PENDING");
    // The services are kept; the warm one says why it has no instance.
    json warm = describe(d, "warm");
    CHECK(instance_count(warm) == 0);
    CHECK(warm.dump().find("the node is draining") != std::string::npos);
    // Draining again is harmless.
    auto again = d.svctl({"node", "drain", "--timeout", "5s"}, 30s);
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("0 task(s) stopped, 0 instance(s) drained; nothing runs") !=
          std::string::npos);

    auto resumed = d.svctl({"node", "resume"});
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.out == "node resumed: admission open\n");
    CHECK(node_info(d).value("draining", "x") == "");
    CHECK(wait_service(d, "warm", [](const json& s) { return instances_in(s, "READY") == 1; },
                       60s));
    CHECK(get(d.service_url("cold")).status == 200);
    // The queued task starts on the resume (svctl wait would wait for its end).
    std::string state;
    for (int i = 0; i < 600 && state != "RUNNING"; ++i) {
      state = json::parse(d.svctl({"inspect", "later", "-o", "json"}).out).value("state", "");
      if (state != "RUNNING") std::this_thread::sleep_for(50ms);
    }
    CHECK(state == "RUNNING");
    CHECK(d.svctl({"stop", "-t", "1s", "later"}, 30s).exit_code == 0);
    // The audit log has both calls.
    auto audit = d.svctl({"audit"});
    CHECK(audit.out.find("Node/Drain") != std::string::npos);
    CHECK(audit.out.find("Node/Resume") != std::string::npos);
  }
  d.svctl({"stop", "-t", "1s", "sleeper"}, 30s);
}
