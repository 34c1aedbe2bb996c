#pragma once
// A TaskController over the fakes (store, images, runtime, a manual executor and clock), for
// the controller's unit tests.
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "scheduler/capacity.hpp"
#include "scheduler/tasks/controller.hpp"
#include "tests/unit/scheduler/fakes.hpp"

namespace svc::scheduler::test {

struct Harness {
  FakeClock clock;
  FakeStore store;
  FakeImages images;
  FakeRuntime runtime;
  ManualExecutor executor{clock};
  ManualExecutor pulls{clock};  // used once separate_pulls() is called
  std::unique_ptr<Capacity> capacity = std::make_unique<Capacity>(Amount{100'000, 64ULL << 30});
  TaskController::Options options;
  std::unique_ptr<TaskController> tc =
      std::make_unique<TaskController>(store, images, runtime, executor, clock, *capacity, options);

  // A node of this size, with a fresh controller (and ledger).
  void node(Amount total) {
    tc.reset();
    capacity = std::make_unique<Capacity>(total);
    tc = std::make_unique<TaskController>(store, images, runtime, executor, clock, *capacity,
                                          options);
  }

  // Pulls run on `pulls` from now on (as svcd runs them on a pool of their own).
  void separate_pulls() {
    options.pulls = &pulls;
    node(capacity->total());
  }

  TaskSpec spec(std::string name = {}) {
    TaskSpec s;
    s.name = std::move(name);
    s.image = "busybox:1";
    return s;
  }
  Task started(TaskSpec s) {
    Task t = tc->run(std::move(s)).value();
    executor.run_all();
    return tc->get(t.id).value();
  }
  // A new controller over the same store and runtime, as after svcd restarts.
  void restart(bool rebooted = false) {
    tc->shutdown();
    tc.reset();
    capacity = std::make_unique<Capacity>(capacity->total());
    tc = std::make_unique<TaskController>(store, images, runtime, executor, clock, *capacity,
                                          options);
    REQUIRE(tc->recover(rebooted));
    executor.run_all();
  }
};

inline ExitInfo exited(int code) {
  ExitInfo i;
  i.exit_code = code;
  i.cpu_seconds = 0.25;
  i.memory_peak_bytes = 4096;
  return i;
}

inline ExitInfo killed(int sig) {
  ExitInfo i;
  i.exit_code = 128 + sig;
  i.signal = sig;
  return i;
}

}  // namespace svc::scheduler::test
