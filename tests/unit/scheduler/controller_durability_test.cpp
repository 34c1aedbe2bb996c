// What the controller promises when the store fails, and that pulls never hold up a task whose
// image is local. The store's failures are injected with FakeStore::failing (a read-only or
// full disk); pulls run on an executor of their own that the test runs, or not.
#include <csignal>

#include <catch2/catch.hpp>

#include "tests/unit/scheduler/harness.hpp"

using namespace svc;
using namespace svc::scheduler;
using namespace svc::scheduler::test;
using namespace std::chrono_literals;

namespace {

std::vector<TaskState> states(EventHub::Subscription& sub) {
  std::vector<TaskState> out;
  while (auto e = sub.next(0ms)) out.push_back(e->state);
  return out;
}

}  // namespace

TEST_CASE("a stop the store cannot record fails, and nothing is signalled", "[tasks][store]") {
  Harness h;
  Task t = h.started(h.spec("kept"));
  REQUIRE(t.state == TaskState::kRunning);
  auto events = h.tc->subscribe();
  h.store.failing = true;
  auto stopped = h.tc->stop("kept", std::nullopt, std::nullopt);
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().message().find("record task " + t.id + " as STOPPING") !=
        std::string::npos);
  CHECK(stopped.error().message().find("readonly database") != std::string::npos);
  CHECK(h.runtime.stops.empty());
  CHECK(h.tc->get(t.id).value().state == TaskState::kRunning);
  CHECK_FALSE(h.tc->get(t.id).value().stop_requested);
  CHECK(states(*events).empty());
  // Once the store writes again, the same stop goes through.
  h.store.failing = false;
  REQUIRE(h.tc->stop("kept", std::nullopt, std::nullopt));
  CHECK(h.runtime.stops.size() == 1);
  CHECK(h.store.rows.at(t.id).state == TaskState::kStopping);
}

TEST_CASE("an exit the store cannot record is not published until a retry records it",
          "[tasks][store]") {
  Harness h;
  Task t = h.started(h.spec("exits"));
  auto events = h.tc->subscribe();
  h.store.failing = true;
  h.runtime.exit(t.id, exited(7));
  // Readers see what is recorded: a restart of svcd would find it RUNNING (and its exit
  // again, from the shim's record), so no one is told it stopped.
  Task seen = h.tc->get(t.id).value();
  CHECK(seen.state == TaskState::kRunning);
  CHECK_FALSE(seen.exit_code);
  CHECK(states(*events).empty());
  CHECK(h.store.rows.at(t.id).state == TaskState::kRunning);
  auto waited = h.tc->wait(t.id, std::chrono::steady_clock::now(), {});
  CHECK(waited.error().code() == Code::kDeadlineExceeded);
  // The room it took is free: the sandbox is gone whatever the record says.
  CHECK_FALSE(h.capacity->holds("task:" + t.id));

  h.executor.advance(600ms);  // the first retry: still failing
  CHECK(h.tc->get(t.id).value().state == TaskState::kRunning);
  h.store.failing = false;
  h.executor.advance(1s);  // the second, after the back-off doubled
  Task done = h.tc->get(t.id).value();
  CHECK(done.state == TaskState::kStopped);
  CHECK(done.exit_code == 7);
  CHECK(h.store.rows.at(t.id).state == TaskState::kStopped);
  CHECK(h.store.rows.at(t.id).exit_code == 7);
  CHECK(states(*events) == std::vector<TaskState>{TaskState::kStopped});
  CHECK(h.tc->wait(t.id, std::chrono::steady_clock::now(), {}).value().exit_code == 7);
}

TEST_CASE("a start whose first step cannot be recorded waits, then starts", "[tasks][store]") {
  Harness h;
  Task t = h.tc->run(h.spec("later")).value();  // the insert works
  h.store.failing = true;
  h.executor.run_all();
  CHECK(h.tc->get(t.id).value().state == TaskState::kPending);
  CHECK(h.runtime.launched.empty());
  CHECK(h.images.leases.count(t.id) == 0);
  h.store.failing = false;
  h.executor.advance(1s);
  CHECK(h.tc->get(t.id).value().state == TaskState::kRunning);
  CHECK(h.runtime.launched.count(t.id) == 1);
  CHECK(h.store.rows.at(t.id).state == TaskState::kRunning);
}

TEST_CASE("a task the store cannot record as STARTING is not launched", "[tasks][store]") {
  Harness h;
  h.separate_pulls();
  h.images.remote.insert("far:1");
  auto s = h.spec("far");
  s.image = "far:1";
  Task t = h.tc->run(s).value();
  h.executor.run_all();  // PULLING recorded, the pull posted
  CHECK(h.tc->get(t.id).value().state == TaskState::kPulling);
  h.store.failing = true;
  h.pulls.run_all();     // pulled and leased ...
  h.executor.run_all();  // ... but STARTING cannot be recorded: no sandbox, lease let go
  CHECK(h.runtime.launched.empty());
  CHECK(h.images.leases.count(t.id) == 0);
  CHECK(h.tc->get(t.id).value().state == TaskState::kPulling);
  h.store.failing = false;
  h.executor.advance(1s);  // the retry takes the image that is local now
  CHECK(h.tc->get(t.id).value().state == TaskState::kRunning);
  CHECK(h.runtime.launched.count(t.id) == 1);
}

TEST_CASE("eight slow pulls do not hold up a task whose image is local", "[tasks][pulls]") {
  Harness h;
  h.separate_pulls();
  for (int i = 0; i < 8; ++i) {
    std::string ref = fmt::format("slow-{}:1", i);
    h.images.remote.insert(ref);
    auto s = h.spec(fmt::format("slow-{}", i));
    s.image = ref;
    REQUIRE(h.tc->run(s));
  }
  h.executor.run_all();
  CHECK(h.pulls.pending_work() == 8);  // the registries have not answered (nothing runs them)
  Task local = h.started(h.spec("local"));
  CHECK(local.state == TaskState::kRunning);
  CHECK(h.images.pulled.empty());
  // The registries answer: the pulled tasks start on the main executor.
  h.pulls.run_all();
  CHECK(h.images.pulled.size() == 8);
  h.executor.run_all();
  CHECK(h.tc->running_count() == 9);
}

TEST_CASE("an image found and leased in one step: a stop during a pull lets the lease go",
          "[tasks][pulls]") {
  Harness h;
  h.separate_pulls();
  h.images.remote.insert("far:1");
  auto s = h.spec("far");
  s.image = "far:1";
  Task t = h.tc->run(s).value();
  h.executor.run_all();
  REQUIRE(h.tc->stop(t.id, std::nullopt, std::nullopt));
  h.pulls.run_all();  // the pull ends (as a cancelled one would) after the stop
  h.executor.run_all();
  CHECK(h.tc->get(t.id).value().state == TaskState::kStopped);
  CHECK(h.images.leases.count(t.id) == 0);
  CHECK(h.runtime.launched.empty());
}
