// Bills as a user reads them: real tasks in real sandboxes under a real svcd, their usage read
// back with the real svctl (and REST), including across `kill -9` of svcd. Root only.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<DaemonFixture> start_daemon(const std::string& billing = "") {
  DaemonFixture::Options o;
  // A task without --cpu/--memory requests the [node] defaults, and requests are what is billed:
  // 1 vCPU and 512Mi here, so the bills below are round numbers (the node's own defaults are
  // small requests: 1m and 16Mi).
  o.extra_config = insecure_registry_toml(busybox_registry().registry) +
                   fmt::format(
                       "[node]\ndefault_cpu_request = \"1\"\ndefault_memory_request = "
                       "\"512Mi\"\n[billing]\n{}\n",
                       billing);
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  return d;
}

// The usage records of one task, through svctl.
json records_of(const DaemonFixture& d, const std::string& task) {
  auto r = d.svctl({"usage", "--records", "--task", task, "-o", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  return j.value("records", json::array());
}

std::int64_t num(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  return j[key].is_string() ? std::stoll(j[key].get<std::string>()) : j[key].get<std::int64_t>();
}

// A record's run time in ms, from its exact decimal seconds.
std::int64_t run_ms_of(const json& record) {
  return std::llround(std::stod(record.at("runSeconds").get<std::string>()) * 1000);
}

std::string state_of(const DaemonFixture& d, const std::string& task) {
  auto r = d.svctl({"inspect", task, "-o", "json"});
  if (r.exit_code != 0) return "";
  return json::parse(r.out).value("state", "");
}

#define REQUIRE_ROOT() \
  if (!is_root()) SVC_SKIP("needs root (real sandboxes and cgroups)")

}  // namespace

TEST_CASE("a task of sleep 3 bills 60 s by default, its run time rounded up with minimum 0",
          "[e2e][usage]") {
  REQUIRE_ROOT();
  const std::string& img = busybox_registry().image;
  {
    auto daemon = start_daemon();
    DaemonFixture& d = *daemon;
    auto run = d.svctl({"run", "--name", "three", img, "--", "sleep", "3"});
    INFO(run.err << d.log());
    REQUIRE(run.exit_code == 0);
    json recs = records_of(d, "three");
    REQUIRE(recs.size() == 1);
    const json& r = recs[0];
    CHECK_FALSE(r.value("open", false));
    CHECK(r["endReason"] == "Exited");
    CHECK(run_ms_of(r) >= 3000);
    CHECK(num(r, "billedSeconds") == 60);  // Fargate's minimum
    CHECK(r["billedResources"] == "requests");
    CHECK(num(r, "billedVcpuMillis") == 1000);
    CHECK(num(r, "billedMemoryMib") == 512);
    // 1 vCPU x 60 s x 0.0000113 + 0.5 GiB x 60 s x 0.0000012, in integers.
    CHECK(num(r, "costNanos") == 678'000 + 36'000);
    CHECK(r["cost"] == "0.000714");
    CHECK(r["currency"] == "USD");
    // The summary says the same, with the minimum visible beside the run time.
    auto table = d.svctl({"usage"});
    INFO(table.out);
    CHECK(table.out.find("three") != std::string::npos);
    CHECK(table.out.find("60") != std::string::npos);
    CHECK(table.out.find("0.000714") != std::string::npos);
    auto csv = d.svctl({"usage", "-o", "csv"});
    CHECK(csv.out.find("three,1,0,") != std::string::npos);
    CHECK(csv.out.find(",60,60,30,0,") != std::string::npos);  // billed s, vCPU-s, GiB-s, requests
    // REST, the same message.
    auto rest = d.curl("GET", "/v1/usage?groupBy=TASK");
    CHECK(rest.exit_code == 200);
    json q = json::parse(rest.out);
    CHECK(q["rows"][0]["name"] == "three");
    CHECK(q["total"]["billedSeconds"] == "60");
    CHECK(q["pricing"]["vcpuSecond"] == "0.0000113");
    CHECK(q["pricing"]["billedResources"] == "requests");
  }
  {
    auto daemon = start_daemon("task_minimum = \"0s\"");
    DaemonFixture& d = *daemon;
    auto run = d.svctl({"run", "--name", "three", img, "--", "sleep", "3"});
    REQUIRE(run.exit_code == 0);
    json r = records_of(d, "three").at(0);
    std::int64_t run_ms = run_ms_of(r);
    INFO("run " << run_ms << " ms");
    CHECK(run_ms >= 3000);
    // Rounded up to the second: 4 s for a run of 3.0x s.
    CHECK(num(r, "billedSeconds") == (run_ms + 999) / 1000);
    if (run_ms < 4000) CHECK(num(r, "billedSeconds") == 4);
  }
}

TEST_CASE("kill -9 of svcd during runs: each run's bill is complete and single", "[e2e][usage]") {
  REQUIRE_ROOT();
  const std::string& img = busybox_registry().image;
  auto daemon = start_daemon("task_minimum = \"0s\"\ncheckpoint_interval = \"1s\"");
  DaemonFixture& d = *daemon;
  // One run ends while svcd is down, one outlives the restart.
  REQUIRE(d.svctl({"run", "-d", "--name", "ends-while-down", img, "--", "sleep", "3"}).exit_code ==
          0);
  REQUIRE(d.svctl({"run", "-d", "--name", "outlives", img, "--", "sleep", "8"}).exit_code == 0);
  REQUIRE(wait_for([&] { return state_of(d, "ends-while-down") == "RUNNING"; }, 30s));
  REQUIRE(wait_for([&] { return state_of(d, "outlives") == "RUNNING"; }, 30s));
  // Wait for a checkpoint of the first (its measured detail is on disk), then kill svcd.
  REQUIRE(wait_for(
      [&] {
        json r = records_of(d, "ends-while-down").at(0);
        return r["checkpoint"] != r["start"];
      },
      20s));
  std::string first_id =
      json::parse(d.svctl({"inspect", "ends-while-down", "-o", "json"}).out)["id"];
  d.kill9();
  // The shim records the exit while svcd is down.
  REQUIRE(wait_for(
      [&] { return std::filesystem::exists(d.state_dir() / "tasks" / first_id / "exit.json"); },
      20s));
  d.start();
  json a = records_of(d, "ends-while-down");
  REQUIRE(a.size() == 1);
  CHECK_FALSE(a[0].value("open", false));
  CHECK_FALSE(a[0].value("endEstimated", false));
  CHECK(a[0]["endReason"] == "Exited");
  std::int64_t a_ms = run_ms_of(a[0]);
  CHECK(a_ms >= 3000);
  CHECK(a_ms < 8000);
  CHECK(num(a[0], "billedSeconds") == (a_ms + 999) / 1000);
  // The other is still running, re-adopted, its record still open and billed so far.
  json b = records_of(d, "outlives");
  REQUIRE(b.size() == 1);
  CHECK(b[0].value("open", false));
  auto wait = d.svctl({"wait", "outlives"}, 30s);
  REQUIRE(wait.exit_code == 0);
  b = records_of(d, "outlives");
  REQUIRE(b.size() == 1);
  CHECK_FALSE(b[0].value("open", false));
  std::int64_t b_ms = run_ms_of(b[0]);
  CHECK(b_ms >= 8000);
  CHECK(num(b[0], "billedSeconds") == (b_ms + 999) / 1000);
  // A second restart bills nothing twice.
  d.kill9();
  d.start();
  json total = json::parse(d.curl("GET", "/v1/usage").out)["total"];
  CHECK(total["runs"] == "2");
  CHECK(num(total, "billedSeconds") == num(a[0], "billedSeconds") + num(b[0], "billedSeconds"));
}

TEST_CASE("measured beside billed: a CPU-bound task limited to 0.5 vCPU", "[e2e][usage]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon("task_minimum = \"0s\"");
  DaemonFixture& d = *daemon;
  auto run = d.svctl({"run", "--name", "burn", "--cpu", "0.5", busybox_registry().image, "--", "sh", "-c",
                      "timeout 4 sh -c 'while :; do :; done'; true"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  json r = records_of(d, "burn").at(0);
  double run_s = std::stod(r["runSeconds"].get<std::string>());
  double cpu_s = std::stod(r["cpuSeconds"].get<std::string>());
  INFO("ran " << run_s << " s, used " << cpu_s << " CPU-s");
  CHECK(num(r, "billedVcpuMillis") == 500);
  CHECK(r["vcpuSeconds"] == fmt::format("{}", num(r, "billedSeconds") / 2.0));
  // The quota holds it at half a CPU: never more (with slack for the period edges), and it did
  // run (wide: the machine is shared, so it may get less).
  CHECK(cpu_s <= 0.6 * run_s);
  CHECK(cpu_s >= 0.15 * run_s);
  CHECK(num(r, "memoryPeakBytes") > 0);
}

TEST_CASE("usage: bad input is refused and says what to try", "[e2e][usage]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  auto by = d.svctl({"usage", "--by", "colour"});
  CHECK(by.exit_code != 0);
  CHECK(by.err.find("label:KEY") != std::string::npos);
  auto since = d.svctl({"usage", "--since", "yesterday-ish"});
  CHECK(since.exit_code != 0);
  CHECK(since.err.find("--since") != std::string::npos);
  auto order = d.svctl({"usage", "--since", "2026-02-01", "--until", "2026-01-01"});
  CHECK(order.exit_code != 0);
  CHECK(order.err.find("before") != std::string::npos);
  auto rest = d.curl("GET", "/v1/usage?groupBy=LABEL");
  CHECK(rest.exit_code == 400);
  CHECK(rest.out.find("labelKey") != std::string::npos);
  auto page = d.curl("GET", "/v1/usage?pageToken=nonsense");
  CHECK(page.exit_code == 400);
  // An empty node answers with zeros, not an error.
  auto empty = d.svctl({"usage", "-o", "json"});
  CHECK(empty.exit_code == 0);
  CHECK(json::parse(empty.out)["total"]["runs"] == "0");
}
