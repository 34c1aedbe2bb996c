// Load through repeated 0 -> N -> 0 cycles with wrk (Debian's), on the loopback, bounded in
// time: scaling up from zero under a crowd and back down to zero must cost no request a 5xx
// and no connection an error. Short in CI (3 cycles of 3 s); the benchmark runs it longer
// (SVC_LOAD_CYCLES, SVC_LOAD_SECONDS, SVC_LOAD_CONNECTIONS). Root only.
#include <catch2/catch.hpp>

#include <regex>

#include "tests/e2e/service_helpers.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

struct WrkResult {
  long requests = 0;
  long non_2xx = 0;
  long socket_errors = 0;  // connect + read + write + timeout
  std::string text;
};

WrkResult wrk(int port, const std::string& host, int connections, int seconds) {
  WrkResult out;
  auto r =
      run({"wrk", "-t", "2", "-c", std::to_string(connections), "-d", std::to_string(seconds) + "s",
           "--timeout", "10s", "-H", "Host: " + host, fmt::format("http://127.0.0.1:{}/", port)},
          std::chrono::seconds(seconds + 30));
  out.text = r.out + r.err;
  std::smatch m;
  if (std::regex_search(out.text, m, std::regex(R"((\d+) requests in)")))
    out.requests = std::stol(m[1]);
  if (std::regex_search(out.text, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    out.non_2xx = std::stol(m[1]);
  if (std::regex_search(out.text, m,
                        std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), )"
                                   R"(timeout (\d+))")))
    out.socket_errors = std::stol(m[1]) + std::stol(m[2]) + std::stol(m[3]) + std::stol(m[4]);
  return out;
}

}  // namespace

TEST_CASE("load: repeated 0 -> N -> 0 cycles under wrk answer no 5xx and drop no connection",
          "[e2e][services][load]") {
  SERVICES_REQUIRE_ROOT();
  if (run({"sh", "-c", "command -v wrk"}).exit_code != 0)
    SVC_SKIP("wrk is not installed (packaging/install-deps.sh)");
  const int cycles = env_int("SVC_LOAD_CYCLES", 3);
  const int seconds = env_int("SVC_LOAD_SECONDS", 3);
  const int connections = env_int("SVC_LOAD_CONNECTIONS", 64);
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  // Small concurrency so the crowd needs several instances; a short idle timeout so every
  // cycle ends at zero.
  deploy(d, {"load", images().httpd, "--concurrency", "8", "--idle-timeout", "1s"});
  long total = 0;
  for (int c = 1; c <= cycles; ++c) {
    REQUIRE(wait_service(
        d, "load", [](const json& s) { return instance_count(s) == 0; }, 30s));
    WrkResult w = wrk(d.ingress_port(), "load.localhost", connections, seconds);
    INFO("cycle " << c << ":\n" << w.text);
    REQUIRE(w.requests > 0);
    CHECK(w.non_2xx == 0);
    CHECK(w.socket_errors == 0);
    json s = describe(d, "load");
    int peak = 0;
    for (const auto& r : s["revisions"]) peak = std::max(peak, r["desiredInstances"].get<int>());
    WARN(fmt::format(
        "cycle {}: {} requests in {} s over {} connections, {} instance(s) at the "
        "end, {} non-2xx, {} socket errors",
        c, w.requests, seconds, connections, instance_count(s), w.non_2xx, w.socket_errors));
    total += w.requests;
  }
  // svcd's own count agrees: every request it proxied was a 2xx.
  json s = describe(d, "load");
  CHECK(count_of(s["stats"]["requestsByClass"]["5xx"]) == 0);
  CHECK(count_of(s["stats"]["requestsTotal"]) >= total);
  CHECK(count_of(s["stats"]["coldStarts"]["count"]) >= cycles);
}
