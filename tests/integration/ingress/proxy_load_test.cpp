// Load through the real proxy (wrk from Debian, loopback, bounded in time) while instances come
// and go under it — replaced one by one, and scaled to zero and back — as the control plane
// does it: start the new one, drain the old one, remove it once drained. Zero 5xx from scaling:
// every request gets a 2xx, none is lost or refused.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/ingress/proxy_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;
using namespace std::chrono_literals;

namespace {

bool have(const std::string& tool) {
  return run({"sh", "-c", "command -v " + tool}).exit_code == 0;
}

// The first instance reported ready at or after events[from], or "".
std::string ready_since(TestControlPlane& cp, std::size_t from) {
  auto events = cp.events();
  for (std::size_t i = from; i < events.size(); ++i)
    if (events[i].rfind("ready ", 0) == 0) return events[i].substr(6);
  return "";
}

}  // namespace

TEST_CASE("load: zero 5xx while instances are replaced and scaled to zero under wrk",
          "[ingress][proxy][load]") {
  if (!have("wrk")) SVC_SKIP("wrk is not installed (packaging/install-deps.sh installs it)");
  ProxyFixture f;
  f.route("hello", "hello-00001");
  StartPolicy policy;
  policy.auto_start = true;  // a request at zero instances starts one
  policy.concurrency = 100;  // more than wrk's connections: demand only at zero
  f.cp.set_policy("hello-00001", policy);
  std::string current = f.warm("hello-00001", 100);

  std::atomic<bool> done{false};
  int cycles = 0;
  std::string scaler_error;
  std::thread scaler([&] {
    while (!done) {
      // Replace: the new instance is ready before the old one leaves routing.
      std::string next = f.cp.start_instance("hello-00001", 100);
      f.proxy->drain_instance(current);
      if (!f.cp.wait_event("drained " + current)) {
        scaler_error = "never drained: " + current;
        return;
      }
      f.proxy->remove_instance(current, "scaled down");
      f.cp.process(current).stop(SIGTERM);
      current = next;
      ++cycles;
      if (done) break;
      // To zero and back: the last instance drains and goes; requests then wait for the start
      // the control plane makes on demand.
      std::size_t mark = f.cp.events().size();
      f.proxy->drain_instance(current);
      if (!f.cp.wait_event("drained " + current)) {
        scaler_error = "never drained: " + current;
        return;
      }
      f.proxy->remove_instance(current, "idle");
      f.cp.process(current).stop(SIGTERM);
      // Only requests bring it back: once wrk has ended there may be none left to.
      auto back = [&] { return !(current = ready_since(f.cp, mark)).empty(); };
      if (!wait_for([&] { return back() || done; }, 10s)) {
        scaler_error = "no instance came back after scaling to zero";
        return;
      }
      if (current.empty()) break;
      ++cycles;
    }
  });
  auto r = run({"wrk", "-t1", "-c16", "-d3s", "--timeout", "5s", "-H", "Host: hello.localhost",
                "http://127.0.0.1:" + std::to_string(f.port()) + "/"},
               30s);
  done = true;
  scaler.join();
  INFO(r.out << r.err << scaler_error);
  REQUIRE(r.exit_code == 0);
  CHECK(scaler_error.empty());
  CHECK(cycles >= 2);
  CHECK(r.out.find("Non-2xx") == std::string::npos);
  CHECK(r.out.find("Socket errors") == std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("(\\d+) requests in")));
  std::size_t requests = std::stoul(m[1]);
  CHECK(requests > 100);
  // The proxy's own records agree: every request it finished was a 2xx.
  std::size_t bad = 0;
  for (const auto& rec : f.cp.records())
    if (rec.status >= 300) ++bad;
  CHECK(bad == 0);
  CHECK(f.cp.records().size() >= requests);
}
