// Services billed as a user reads the bill: svc-test-httpd deployed as a service under a real
// svcd, driven through its ingress with curl, its usage read back with the real svctl. Billed
// seconds are compared with what the test itself saw of each instance (when it was there, when
// its requests ran), with a tolerance of whole seconds; never with a timer. Root only.
#include <cstdio>
#include <ctime>
#include <set>

#include <catch2/catch.hpp>

#include "tests/e2e/service_helpers.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-12-01T19:00:00.123Z" (protobuf's JSON Timestamp) as unix ms; 0 when absent.
std::int64_t ts_ms(const json& j) {
  if (!j.is_string()) return 0;
  std::string s = j.get<std::string>();
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  std::int64_t ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  if (auto dot = s.find('.'); dot != std::string::npos) {
    std::string frac = s.substr(dot + 1, 3);
    while (frac.size() < 3) frac += '0';
    ms += std::stoll(frac);
  }
  return ms;
}

std::int64_t num(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  return j[key].is_string() ? std::stoll(j[key].get<std::string>()) : j[key].get<std::int64_t>();
}
double dec(const json& j, const char* key) {
  return j.contains(key) ? std::stod(j[key].get<std::string>()) : 0.0;
}

// The usage records of one service's instances, through svctl.
json records_of(const DaemonFixture& d, const std::string& service) {
  auto r = d.svctl({"usage", "--records", "--service", service, "-o", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out).value("records", json::array());
}

std::unique_ptr<DaemonFixture> billing_daemon(const std::string& mode) {
  return start_daemon(
      fmt::format("[billing]\nservice_mode = \"{}\"\ncheckpoint_interval = \"1s\"\n", mode));
}

// What the test saw of an instance: the first and last time it was listed.
struct Seen {
  std::int64_t first_ms = 0, last_ms = 0, gone_ms = 0;
};

// Polls describe until the service has no instance; records when each one was seen.
void watch_until_gone(const DaemonFixture& d, const std::string& name,
                      std::map<std::string, Seen>& seen, std::chrono::seconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    json s = describe(d, name);
    std::int64_t t = now_ms();
    std::set<std::string> listed;
    if (s.is_object())
      for (const auto& i : s.value("instances", json::array())) listed.insert(i.value("id", ""));
    for (const auto& id : listed) {
      Seen& x = seen[id];
      if (!x.first_ms) x.first_ms = t;
      x.last_ms = t;
    }
    for (auto& [id, x] : seen)
      if (!listed.count(id) && !x.gone_ms) x.gone_ms = t;
    if (s.is_object() && listed.empty()) return;
    std::this_thread::sleep_for(100ms);  // a poll of svcd's state, not a synchronisation
  }
  FAIL("the instances of " << name << " did not stop within " << timeout.count() << " s");
}

// Waits for the service's instance to be READY and returns its id.
std::string ready_instance(const DaemonFixture& d, const std::string& name) {
  std::string id;
  REQUIRE(wait_service(d, name, [&](const json& s) {
    for (const auto& i : s.value("instances", json::array()))
      if (i.value("state", "") == "READY") {
        id = i.value("id", "");
        return true;
      }
    return false;
  }));
  return id;
}

}  // namespace

TEST_CASE("instance mode bills every second an instance existed", "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = billing_daemon("instance");
  DaemonFixture& d = *daemon;
  std::string url = deploy(d, {"inst", images().httpd, "--idle-timeout", "3s"});
  std::int64_t asked = now_ms();
  REQUIRE(get(url).status == 200);
  std::string id = ready_instance(d, "inst");
  for (int i = 0; i < 3; ++i) REQUIRE(get(url).status == 200);
  std::map<std::string, Seen> seen;
  watch_until_gone(d, "inst", seen);
  REQUIRE(seen.count(id));

  json recs = records_of(d, "inst");
  INFO(recs.dump(2) << d.log());
  REQUIRE(recs.size() == 1);
  const json& r = recs[0];
  CHECK(r["instance"] == id);
  CHECK(r["revision"] == "inst-00001");
  CHECK(r["mode"] == "instance");
  CHECK_FALSE(r.value("open", false));
  CHECK_FALSE(r.value("endEstimated", false));
  CHECK(r["endReason"] == "ScaledDown");
  std::int64_t start = ts_ms(r["start"]), end = ts_ms(r["end"]);
  // It ran from before the test first saw it until after it last saw it, and ended by the time
  // the test saw it gone (a second of slack for the clocks' rounding and the poll).
  CHECK(start >= asked - 1000);
  CHECK(start <= seen[id].first_ms);
  CHECK(end >= seen[id].last_ms - 1000);
  CHECK(end <= seen[id].gone_ms + 1000);
  std::int64_t run_ms = end - start;
  CHECK(num(r, "billedSeconds") == (run_ms + 999) / 1000);
  CHECK(num(r, "requests") == 4);
  // --by service and --by revision sum the same.
  auto by = d.svctl({"usage", "--by", "service", "-o", "json"});
  REQUIRE(by.exit_code == 0);
  json rows = json::parse(by.out)["rows"];
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["name"] == "inst");
  CHECK(num(rows[0], "billedSeconds") == num(r, "billedSeconds"));
  CHECK(num(rows[0], "requests") == 4);
  auto rev = d.svctl({"usage", "--by", "revision"});
  CHECK(rev.out.find("inst-00001") != std::string::npos);
  // The bill as a user reads it (docs/BENCHMARKS.md quotes it).
  std::printf("instance mode, svctl usage --by revision:\n%s", rev.out.c_str());
}

TEST_CASE("request mode bills start-up, the seconds with a request in flight and shut-down",
          "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = billing_daemon("request");
  DaemonFixture& d = *daemon;
  // The idle timeout outlasts the gaps: one instance serves all the requests.
  std::string url = deploy(d, {"req", images().httpd, "--idle-timeout", "6s"});
  const std::string slow = d.service_url("req", "/sleep?ms=1200");
  constexpr int kRequests = 3;
  std::int64_t asked = now_ms();
  REQUIRE(get(slow).status == 200);  // the cold start and the first request
  std::int64_t first_answered = now_ms();
  std::string id = ready_instance(d, "req");
  for (int i = 1; i < kRequests; ++i) {
    // Idle between requests: the gaps are what request mode does not bill.
    std::this_thread::sleep_for(4s);
    REQUIRE(get(slow).status == 200);
  }
  std::map<std::string, Seen> seen;
  watch_until_gone(d, "req", seen);

  json recs = records_of(d, "req");
  INFO(recs.dump(2) << d.log());
  REQUIRE(recs.size() == 1);
  const json& r = recs[0];
  CHECK(r["instance"] == id);
  CHECK(r["mode"] == "request");
  CHECK_FALSE(r.value("open", false));
  std::int64_t run_ms = ts_ms(r["end"]) - ts_ms(r["start"]);
  std::int64_t billed = num(r, "billedSeconds");
  // Start-up lasted at most from the ask to the first answer (which includes its 1.2 s): at
  // most that many seconds plus one; each request of 1.2 s touches 2 or 3 seconds; shut-down
  // (SIGTERM to exit) one or two.
  std::int64_t startup_max = (first_answered - asked) / 1000 + 1;
  INFO("billed " << billed << " s of a life of " << run_ms << " ms; start-up at most "
                 << startup_max << " s");
  CHECK(billed >= 2 * kRequests);
  CHECK(billed <= startup_max + 3 * kRequests + 2);
  // Far less than its life: the 4 s gaps (at least 2 whole idle seconds each) and the idle
  // timeout are not billed.
  CHECK(billed <= (run_ms + 999) / 1000 - 2 * (kRequests - 1));
  CHECK(num(r, "requests") == kRequests);
  CHECK(num(r, "busyMs") >= 1200 * kRequests);
  auto table = d.svctl({"usage", "--by", "service"});
  CHECK(table.out.find("req") != std::string::npos);
  std::printf("request mode, svctl usage --by service:\n%s", table.out.c_str());
  std::printf("request mode: %lld billed s of a %.3f s life (%d requests of 1.2 s, 4 s apart)\n",
              static_cast<long long>(billed), run_ms / 1000.0, kRequests);
}

TEST_CASE("svctl deploy --billing picks a service mode over the node one, and refuses a bad one",
          "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = billing_daemon("instance");
  DaemonFixture& d = *daemon;
  auto bad = d.svctl({"deploy", "typo", images().httpd, "--billing", "hourly"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("instance or request") != std::string::npos);
  CHECK(d.svctl({"services", "-q"}).out.empty());  // nothing was made

  std::string url = deploy(d, {"own", images().httpd, "--billing", "request"});
  auto text = d.svctl({"service", "describe", "own"});
  CHECK(text.out.find("request") != std::string::npos);
  REQUIRE(get(url).status == 200);
  json recs = records_of(d, "own");
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["mode"] == "request");
  CHECK(recs[0].value("open", false));
  REQUIRE(d.svctl({"service", "rm", "own"}).exit_code == 0);
}

TEST_CASE("request mode throttles an instance's CPU outside requests, measured",
          "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  // The same app (spinning one CPU all its life) in both modes: instance mode lets it spin,
  // request mode throttles it to 0.01 vCPU once it has been idle for 500 ms.
  std::map<std::string, double> idle_rate;
  for (const std::string mode : {"instance", "request"}) {
    auto daemon = billing_daemon(mode);
    DaemonFixture& d = *daemon;
    std::string url = deploy(d, {"spin", images().httpd, "--idle-timeout", "60s", "--", "--spin"});
    REQUIRE(get(url).status == 200);
    ready_instance(d, "spin");
    // Two checkpoints of its open record, several idle seconds apart (the first after the
    // throttle's hold): the CPU it used in between, over the time between them.
    auto checkpoint = [&](std::int64_t after_ms) {
      json rec;
      REQUIRE(wait_for(
          [&] {
            json recs = records_of(d, "spin");
            if (recs.size() != 1) return false;
            rec = recs[0];
            return ts_ms(rec["checkpoint"]) >= after_ms;
          },
          30s));
      return std::make_pair(ts_ms(rec["checkpoint"]), dec(rec, "cpuSeconds"));
    };
    auto a = checkpoint(now_ms() + 1500);
    auto b = checkpoint(a.first + 5000);
    double rate = (b.second - a.second) / ((b.first - a.first) / 1000.0);
    INFO(mode << " mode: " << b.second - a.second << " CPU-s in " << b.first - a.first << " ms");
    idle_rate[mode] = rate;
    // A request gets the full CPU back at once: it is answered.
    REQUIRE(get(url).status == 200);
    REQUIRE(d.svctl({"service", "rm", "spin"}).exit_code == 0);
  }
  INFO("idle CPU: instance mode " << idle_rate["instance"] << " vCPU, request mode "
                                  << idle_rate["request"] << " vCPU");
  // Wide tolerances (the machine is shared): spinning it gets a good part of a CPU; throttled,
  // next to nothing (0.01 vCPU, plus the period's rounding).
  std::printf(
      "idle CPU of an app spinning one CPU: instance mode %.3f vCPU, request mode %.4f vCPU\n",
      idle_rate["instance"], idle_rate["request"]);
  CHECK(idle_rate["instance"] >= 0.3);
  CHECK(idle_rate["request"] <= 0.05);
}

namespace {

// kill -9 of svcd while two clients keep a service busy, svcd started again, the traffic goes
// on, then the service scales to zero: every instance has one record, closed once, covering
// what the test saw of it; a second restart changes no sum.
void kill9_under_traffic(const std::string& mode) {
  auto daemon = billing_daemon(mode);
  DaemonFixture& d = *daemon;
  const std::string name = "crashy-" + mode;
  std::string url = deploy(d, {name, images().httpd, "--idle-timeout", "2s"});
  REQUIRE(get(url).status == 200);
  std::string id = ready_instance(d, name);
  std::map<std::string, Seen> seen;
  seen[id].first_ms = now_ms();
  std::int64_t down_ms = 0;  // from the kill until the instance serves again
  {
    Traffic traffic([&] { return d.ingress_port(); }, name + ".localhost", "/", 2);
    REQUIRE(traffic.wait_more(20));
    // A checkpoint of the record is on disk, then svcd dies mid-traffic.
    REQUIRE(wait_for(
        [&] {
          json recs = records_of(d, name);
          return recs.size() == 1 && ts_ms(recs[0]["checkpoint"]) > ts_ms(recs[0]["start"]);
        },
        20s));
    std::int64_t killed = now_ms();
    d.kill9();
    d.start();
    // The instance is re-adopted and serves again.
    REQUIRE(wait_service(d, name, [](const json& s) { return instances_in(s, "READY") >= 1; }));
    REQUIRE(traffic.wait_more(20));
    down_ms = now_ms() - killed;
    traffic.stop();
  }
  watch_until_gone(d, name, seen);

  json recs = records_of(d, name);
  INFO(recs.dump(2) << d.log());
  std::set<std::string> ids;
  std::int64_t billed = 0;
  for (const auto& r : recs) {
    ids.insert(r["instance"].get<std::string>());
    CHECK(r["mode"] == mode);
    CHECK_FALSE(r.value("open", false));
    CHECK_FALSE(r.value("endEstimated", false));
    std::int64_t run_ms = ts_ms(r["end"]) - ts_ms(r["start"]);
    std::int64_t b = num(r, "billedSeconds");
    billed += b;
    if (mode == "instance") {
      CHECK(b == (run_ms + 999) / 1000);
    } else {
      // Busy nearly all its life: everything but the idle timeout at the end and the seconds
      // svcd was down (no proxy, no request) is billed, and never more than its life.
      INFO("billed " << b << " s of " << run_ms << " ms; svcd down for about " << down_ms << " ms");
      CHECK(b <= (run_ms + 999) / 1000);
      CHECK(b >= run_ms / 1000 - 2 - down_ms / 1000 - 2);
    }
    const Seen& x = seen[r["instance"].get<std::string>()];
    if (x.first_ms) CHECK(ts_ms(r["start"]) <= x.first_ms);
    if (x.last_ms) CHECK(ts_ms(r["end"]) >= x.last_ms - 1000);
    if (x.gone_ms) CHECK(ts_ms(r["end"]) <= x.gone_ms + 1000);
  }
  CHECK(ids.size() == recs.size());
  CHECK(ids.count(id) == 1);
  // Another restart bills nothing twice.
  d.kill9();
  d.start();
  auto by = d.svctl({"usage", "--by", "service", "-o", "json"});
  REQUIRE(by.exit_code == 0);
  json rows = json::parse(by.out)["rows"];
  REQUIRE(rows.size() == 1);
  CHECK(num(rows[0], "billedSeconds") == billed);
  CHECK(num(rows[0], "runs") == static_cast<std::int64_t>(recs.size()));
}

}  // namespace

TEST_CASE("kill -9 of svcd during a service's traffic: each instance billed once, completely",
          "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  kill9_under_traffic("instance");
}

TEST_CASE("kill -9 of svcd during traffic in request mode: busy seconds carry on, billed once",
          "[e2e][services][billing]") {
  SERVICES_REQUIRE_ROOT();
  kill9_under_traffic("request");
}
