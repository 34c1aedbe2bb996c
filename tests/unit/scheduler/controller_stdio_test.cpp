// The task controller's attach, exec and hold-for-attach over fake ports: when a task can be
// attached to, what reaches the runtime, and that a held task runs even when nobody attaches.
#include <thread>

#include <catch2/catch.hpp>

#include "scheduler/capacity.hpp"
#include "scheduler/tasks/controller.hpp"
#include "scheduler/tasks/launch.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::scheduler;
using namespace svc::scheduler::test;
using namespace std::chrono_literals;

namespace {

struct Harness {
  FakeClock clock;
  FakeStore store;
  FakeImages images;
  FakeRuntime runtime;
  ManualExecutor executor{clock};
  Capacity capacity{Amount{100'000, 64ULL << 30}};
  TaskController::Options options = [] {
    TaskController::Options o;
    o.attach_hold = 10s;
    return o;
  }();
  TaskController tc{store, images, runtime, executor, clock, capacity, options};

  TaskSpec spec(std::string name) {
    TaskSpec s;
    s.name = std::move(name);
    s.image = "busybox:1";
    return s;
  }
  std::chrono::steady_clock::time_point soon() { return std::chrono::steady_clock::now() + 5s; }
};

}  // namespace

TEST_CASE("a terminal task's launch asks for a tty, stdin and init", "[tasks][stdio]") {
  Harness h;
  TaskSpec s = h.spec("shell");
  s.tty = true;
  s.open_stdin = true;
  s.init = true;
  s.hold_for_attach = true;
  Task t = h.tc.run(s).value();
  h.executor.run_all();
  const LaunchSpec& l = h.runtime.launched.at(t.id);
  CHECK(l.tty);
  CHECK(l.open_stdin);
  CHECK(l.init);
  CHECK(l.hold);
  CHECK(h.tc.get("shell")->state == TaskState::kRunning);
}

TEST_CASE("a held task is released by its first attach, or after the hold anyway",
          "[tasks][stdio]") {
  Harness h;
  TaskSpec s = h.spec("held");
  s.tty = true;
  s.hold_for_attach = true;
  Task t = h.tc.run(s).value();
  h.executor.run_all();
  CHECK(h.runtime.released.empty());
  AttachRequest a;
  a.stdin = true;
  a.start = true;
  auto stream = h.tc.attach("held", a, h.soon(), nullptr);
  REQUIRE(stream);
  REQUIRE(h.runtime.attaches.size() == 1);
  CHECK(h.runtime.attaches[0].first == t.id);
  CHECK(h.runtime.attaches[0].second.start);
  CHECK(h.runtime.released == std::vector<std::string>{t.id});

  // Nobody attaches to the second: it is started when the hold ends.
  TaskSpec s2 = h.spec("alone");
  s2.open_stdin = true;
  s2.hold_for_attach = true;
  Task t2 = h.tc.run(s2).value();
  h.executor.run_all();
  h.executor.advance(9s);
  CHECK(h.runtime.released.size() == 1);
  h.executor.advance(2s);
  CHECK(h.runtime.released == std::vector<std::string>{t.id, t2.id});
}

TEST_CASE("attach waits for a starting task and refuses a stopped one", "[tasks][stdio]") {
  Harness h;
  Task t = h.tc.run(h.spec("later")).value();
  // Still PENDING: the attach waits until the executor (on another thread) has started it;
  // whichever comes first, the attach must answer with the running task's stream.
  std::thread starter([&] { h.executor.run_all(); });
  auto stream = h.tc.attach("later", AttachRequest{}, h.soon(), nullptr);
  starter.join();
  REQUIRE(stream);
  CHECK(h.tc.get(t.id)->state == TaskState::kRunning);

  // Without stdin a task can be watched, not typed into.
  AttachRequest with_stdin;
  with_stdin.stdin = true;
  auto refused = h.tc.attach("later", with_stdin, h.soon(), nullptr);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kFailedPrecondition);
  CHECK_THAT(refused.error().message(), Catch::Contains("-i or -t"));

  ExitInfo e;
  e.exit_code = 3;
  h.runtime.exit(t.id, e);
  auto stopped = h.tc.attach("later", AttachRequest{}, h.soon(), nullptr);
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code() == Code::kFailedPrecondition);
  CHECK_THAT(stopped.error().message(), Catch::Contains("svctl logs later"));

  auto missing = h.tc.attach("nope", AttachRequest{}, h.soon(), nullptr);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::kNotFound);
}

TEST_CASE("attach gives up at its deadline or when cancelled", "[tasks][stdio]") {
  Harness h;
  h.tc.run(h.spec("stuck")).value();  // never started: the executor does not run
  auto late =
      h.tc.attach("stuck", AttachRequest{}, std::chrono::steady_clock::now() + 50ms, nullptr);
  REQUIRE_FALSE(late);
  CHECK(late.error().code() == Code::kDeadlineExceeded);
  auto cancelled = h.tc.attach("stuck", AttachRequest{}, h.soon(), [] { return true; });
  REQUIRE_FALSE(cancelled);
  CHECK(cancelled.error().code() == Code::kCancelled);
}

TEST_CASE("exec runs only in a running task and checks its request", "[tasks][stdio]") {
  Harness h;
  Task t = h.tc.run(h.spec("box")).value();
  ExecRequest r;
  r.args = {"sh", "-c", "echo hi"};
  auto early = h.tc.exec("box", r);
  REQUIRE_FALSE(early);
  CHECK(early.error().code() == Code::kFailedPrecondition);
  CHECK(h.runtime.execs.empty());

  h.executor.run_all();
  r.env = {{"A", "1"}};
  r.tty = true;
  auto ok = h.tc.exec("box", r);
  REQUIRE(ok);
  REQUIRE(h.runtime.execs.size() == 1);
  CHECK(h.runtime.execs[0].first == t.id);
  CHECK(h.runtime.execs[0].second.args == r.args);
  CHECK(h.runtime.execs[0].second.tty);

  ExecRequest empty;
  auto bad = h.tc.exec("box", empty);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.error().message(), Catch::StartsWith("args:"));
  ExecRequest bad_env;
  bad_env.args = {"true"};
  bad_env.env = {{"A=B", "1"}};
  CHECK_THAT(h.tc.exec("box", bad_env).error().message(), Catch::StartsWith("env:"));
  ExecRequest bad_dir;
  bad_dir.args = {"true"};
  bad_dir.workdir = "relative";
  CHECK_THAT(h.tc.exec("box", bad_dir).error().message(), Catch::StartsWith("workdir:"));
  CHECK(h.runtime.execs.size() == 1);  // nothing bad reached the runtime
}
