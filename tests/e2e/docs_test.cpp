// The docs as a newcomer follows them: docs/getting-started.md's ```sh blocks, run in order by
// sh -eu from the checkout (tests/docs/doc_commands.py prints them), with the test's svctl on
// PATH and SVC_HOST at a fresh svcd. The liberties taken: the page's ingress address
// (localhost:8080, svcd's default) becomes the test daemon's own port, and SVC_HELLO names this
// build's svc-hello (the page's make-demo-image.sh would look in ./build). Root only.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "tests/e2e/service_helpers.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

TEST_CASE("docs: getting-started runs as written", "[e2e][docs]") {
  SERVICES_REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.ingress_port() > 0);
  const std::string src = SVC_SOURCE_DIR;
  auto script = run({"python3", src + "/tests/docs/doc_commands.py", "run",
                     src + "/docs/getting-started.md"});
  REQUIRE(script.exit_code == 0);
  std::string body = script.out;
  const std::string from = "localhost:8080", to = "localhost:" + std::to_string(d.ingress_port());
  for (auto at = body.find(from); at != std::string::npos; at = body.find(from, at + to.size()))
    body.replace(at, from.size(), to);

  const char* path = std::getenv("PATH");
  std::string bin = std::filesystem::path(svctl_path()).parent_path().string();
  auto ran = run({"sh", "-euc", "cd \"$1\" && sh -eu", "sh", src}, 300s,
                 {{"PATH", bin + ":" + (path ? path : "/usr/bin:/bin")},
                  {"SVC_HOST", d.host()},
                  {"SVC_HELLO", SVC_HELLO}},
                 body);
  INFO(ran.out << ran.err << d.log());
  REQUIRE(ran.exit_code == 0);
  // What the page promises the reader sees.
  CHECK(ran.out.find("hello from a sandbox") != std::string::npos);
  CHECK(ran.out.find("exit code 3") != std::string::npos);
  CHECK(ran.out.find("\"state\": \"RUNNING\"") != std::string::npos);
  CHECK(ran.out.find("hello from svc") != std::string::npos);
  CHECK(ran.out.find("Server-Timing:") != std::string::npos);
  CHECK(ran.out.find("again (instance ") != std::string::npos);
  CHECK(ran.out.find("BILLED-S") != std::string::npos);
  CHECK(d.svctl({"services"}).out.find("hello") == std::string::npos);  // cleaned up
}
