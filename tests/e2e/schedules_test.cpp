// Schedules as a user drives them: a real svcd (with [schedules] allow_seconds, so a seconds
// field makes runs come within seconds), a real registry, real sandboxes, the real svctl. Runs
// are tasks: `svctl ps -a --label svc.schedule=NAME` lists them, `schedule describe` shows their
// results; pause stops runs, rm removes the schedule; and a due time missed while svcd was down
// runs exactly once when it starts again. Root only.
//
// Everything synchronises on state svctl reports (a task listed, a run's result recorded); "no
// run happened" is shown against a second schedule on the same cadence that did run meanwhile.
#include <ctime>

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

std::unique_ptr<DaemonFixture> start_daemon() {
  DaemonFixture::Options o;
  o.extra_config =
      insecure_registry_toml(busybox_registry().registry) + "[schedules]\nallow_seconds = true\n";
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  return d;
}

// Removes every schedule before the daemon fixture removes every task, so no run can start
// after that cleanup (its sandbox would outlive the test). Declared after the daemon.
struct RemoveSchedules {
  DaemonFixture& d;
  ~RemoveSchedules() {
    if (!d.running()) d.start();
    auto names = d.svctl({"schedule", "ls", "-q"});
    std::istringstream in(names.out);
    for (std::string n; std::getline(in, n);)
      if (!n.empty()) d.svctl({"schedule", "rm", n});
  }
};

std::vector<std::string> runs_of(const DaemonFixture& d, const std::string& schedule) {
  auto r = d.svctl({"ps", "-a", "-q", "--label", "svc.schedule=" + schedule});
  std::vector<std::string> ids;
  std::istringstream in(r.out);
  for (std::string id; std::getline(in, id);)
    if (!id.empty()) ids.push_back(id);
  return ids;
}

json describe(const DaemonFixture& d, const std::string& schedule) {
  auto r = d.svctl({"schedule", "describe", schedule, "-o", "json"});
  if (r.exit_code != 0) return json();
  return json::parse(r.out);
}

// The number of runs of `schedule` that reached STARTED.
std::size_t started(const json& s) {
  std::size_t n = 0;
  for (const auto& r : s.value("lastRuns", json::array()))
    if (r.value("outcome", "") == "STARTED") ++n;
  return n;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

#define REQUIRE_ROOT() \
  if (!is_root()) SVC_SKIP("needs root (real sandboxes and cgroups)")

}  // namespace

TEST_CASE("a seconds schedule runs real tasks: describe, pause, resume, run-now, rm",
          "[e2e][schedules]") {
  REQUIRE_ROOT();
  auto d = start_daemon();
  RemoveSchedules cleanup{*d};

  // Bad input changes nothing and says what is wrong.
  auto bad = d->svctl({"schedule", "create", "bad", "--cron", "61 * * * *", busybox_registry().image});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("minute: 61 is out of range 0-59") != std::string::npos);
  auto bad_tz = d->svctl(
      {"schedule", "create", "bad", "--cron", "@daily", "--timezone", "Mars/Base", busybox_registry().image});
  CHECK(bad_tz.exit_code == 5);
  CHECK(bad_tz.err.find("Mars/Base") != std::string::npos);
  CHECK(d->svctl({"schedule", "ls", "-q"}).out.empty());

  auto created = d->svctl({"schedule", "create", "tick", "--cron", "*/2 * * * * *", "--overlap",
                           "forbid", "--cpu", "100m", "-e", "GREETING=hi", busybox_registry().image, "--",
                           "sh", "-c", "echo $GREETING; exit 3"});
  REQUIRE(created.exit_code == 0);
  CHECK(created.out.find("schedule tick created; next run") != std::string::npos);
  auto listed = d->svctl({"schedule", "ls"});
  CHECK(listed.out.find("tick") != std::string::npos);
  CHECK(listed.out.find("*/2 * * * * *") != std::string::npos);

  // Real runs: tasks labelled with the schedule, their results in describe.
  REQUIRE(wait_for([&] { return runs_of(*d, "tick").size() >= 2; }, 120s));
  REQUIRE(wait_for(
      [&] {
        for (const auto& r : describe(*d, "tick").value("lastRuns", json::array()))
          if (r.value("taskState", "") == "STOPPED" && r.value("exitCode", -1) == 3) return true;
        return false;
      },
      60s));
  json s = describe(*d, "tick");
  const json& first = s["lastRuns"][0];
  CHECK(first["taskName"].get<std::string>().rfind("tick-", 0) == 0);
  auto inspected = json::parse(d->svctl({"inspect", first["taskId"], "-o", "json"}).out);
  CHECK(inspected["spec"]["labels"]["svc.schedule"] == "tick");
  CHECK(d->svctl({"logs", first["taskId"]}).out.find("hi") != std::string::npos);
  auto text = d->svctl({"schedule", "describe", "tick"});
  CHECK(text.out.find("STOPPED (exit 3)") != std::string::npos);
  CHECK(text.out.find("Last runs:") != std::string::npos);

  // Paused: no run starts, while another schedule on the same cadence runs twice.
  REQUIRE(d->svctl({"schedule", "pause", "tick"}).exit_code == 0);
  auto before = runs_of(*d, "tick").size();
  REQUIRE(d->svctl({"schedule", "create", "witness", "--cron", "*/2 * * * * *", "--cpu", "100m",
                    busybox_registry().image, "--", "true"})
              .exit_code == 0);
  REQUIRE(wait_for([&] { return runs_of(*d, "witness").size() >= 2; }, 60s));
  CHECK(runs_of(*d, "tick").size() == before);
  CHECK(describe(*d, "tick")["paused"] == true);
  CHECK_FALSE(describe(*d, "tick").contains("nextRunAt"));

  // Resumed: runs again. run-now starts one at once.
  REQUIRE(d->svctl({"schedule", "resume", "tick"}).exit_code == 0);
  REQUIRE(wait_for([&] { return runs_of(*d, "tick").size() > before; }, 60s));
  auto now = d->svctl({"schedule", "run-now", "tick"});
  INFO(now.err);
  REQUIRE(now.exit_code == 0);
  std::string manual_id = now.out.substr(0, now.out.find('\n'));
  auto manual = json::parse(d->svctl({"inspect", manual_id, "-o", "json"}).out);
  CHECK(manual["name"].get<std::string>().find("-now") != std::string::npos);

  // rm: gone, and no run of it starts any more while the witness goes on running.
  REQUIRE(d->svctl({"schedule", "rm", "tick"}).exit_code == 0);
  auto after_rm = runs_of(*d, "tick").size();
  auto gone = d->svctl({"schedule", "describe", "tick"});
  CHECK(gone.exit_code == 5);
  CHECK(gone.err.find("no such schedule") != std::string::npos);
  auto witness_runs = runs_of(*d, "witness").size();
  REQUIRE(wait_for([&] { return runs_of(*d, "witness").size() >= witness_runs + 2; }, 60s));
  CHECK(runs_of(*d, "tick").size() == after_rm);
}

TEST_CASE("overlap: forbid skips while a run runs, replace stops it", "[e2e][schedules]") {
  REQUIRE_ROOT();
  auto d = start_daemon();
  RemoveSchedules cleanup{*d};
  for (const char* policy : {"forbid", "replace"}) {
    INFO(policy);
    REQUIRE(d->svctl({"schedule", "create", policy, "--cron", "*/2 * * * * *", "--overlap", policy,
                      "--cpu", "100m", "--init", "--stop-timeout", "1s", busybox_registry().image, "--",
                      "sleep", "1000"})
                .exit_code == 0);
  }
  // forbid: while its first run sleeps, the next due times are SKIPPED, no second task.
  REQUIRE(wait_for(
      [&] {
        for (const auto& r : describe(*d, "forbid").value("lastRuns", json::array()))
          if (r.value("outcome", "") == "SKIPPED") return true;
        return false;
      },
      60s));
  CHECK(runs_of(*d, "forbid").size() == 1);
  // replace: a second run starts and the first is stopped (StoppedByUser).
  REQUIRE(wait_for([&] { return runs_of(*d, "replace").size() >= 2; }, 60s));
  json s = describe(*d, "replace");
  std::string first = s["lastRuns"][0]["taskId"];
  REQUIRE(wait_for(
      [&] {
        auto j = json::parse(d->svctl({"inspect", first, "-o", "json"}).out);
        return j.value("state", "") == "STOPPED";
      },
      60s));
  auto j = json::parse(d->svctl({"inspect", first, "-o", "json"}).out);
  CHECK(j["stopReason"] == "StoppedByUser");
  bool replaced = false;
  json after = describe(*d, "replace");
  for (const auto& r : after["lastRuns"])
    replaced = replaced || r.value("message", "").find("replaced " + first) != std::string::npos;
  INFO(after.dump());
  CHECK(replaced);
  REQUIRE(d->svctl({"schedule", "rm", "forbid", "replace"}).exit_code == 0);
}

TEST_CASE("a due time missed while svcd was down runs exactly once at start", "[e2e][schedules]") {
  REQUIRE_ROOT();
  auto d = start_daemon();
  RemoveSchedules cleanup{*d};

  // One due time, a few seconds from now (UTC): "S M H DOM MON *".
  std::int64_t due = unix_now() + 4;
  std::time_t t = static_cast<std::time_t>(due);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string cron =
      fmt::format("{} {} {} {} {} *", tm.tm_sec, tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1);
  REQUIRE(d->svctl({"schedule", "create", "once", "--cron", cron, "--cpu", "100m", busybox_registry().image,
                    "--", "true"})
              .exit_code == 0);
  REQUIRE(d->stop().value_or(-1) == 0);
  // svcd is down while the due time passes.
  REQUIRE(wait_for([&] { return unix_now() > due + 1; }, 30s));
  d->start();
  // The first tick happens before svcd answers: the run is there already, once.
  auto ids = runs_of(*d, "once");
  REQUIRE(ids.size() == 1);
  json s = describe(*d, "once");
  REQUIRE(s["lastRuns"].size() == 1);
  CHECK(s["lastRuns"][0]["outcome"] == "STARTED");
  CHECK(s["lastRuns"][0]["taskName"] == fmt::format("once-{}", due));

  // The same over REST.
  auto rest = d->curl("GET", "/v1/schedules/once");
  CHECK(rest.exit_code == 200);
  CHECK(json::parse(rest.out)["lastRuns"].size() == 1);
  CHECK(d->curl("POST", "/v1/schedules/once:pause").exit_code == 200);
  CHECK(json::parse(d->curl("GET", "/v1/schedules").out)["schedules"][0]["paused"] == true);
  auto bad = d->curl("POST", "/v1/schedules",
                     R"({"schedule":{"name":"x","cron":"* * *","task":{"image":"busybox"}}})");
  CHECK(bad.exit_code == 400);
  CHECK(json::parse(bad.out)["message"].get<std::string>().find("3 fields") != std::string::npos);
  CHECK(d->curl("GET", "/v1/schedules/x").exit_code == 404);

  // Another restart (and a kill -9 one) does not run it again.
  REQUIRE(d->stop().value_or(-1) == 0);
  d->start();
  CHECK(runs_of(*d, "once").size() == 1);
  d->kill9();
  d->start();
  CHECK(runs_of(*d, "once").size() == 1);
  CHECK(started(describe(*d, "once")) == 1);
}
