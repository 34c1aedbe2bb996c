#include <csignal>

#include <catch2/catch.hpp>

#include "scheduler/tasks/controller.hpp"
#include "scheduler/tasks/launch.hpp"
#include "tests/unit/scheduler/harness.hpp"

using namespace svc;
using namespace svc::scheduler;
using namespace svc::scheduler::test;
using namespace std::chrono_literals;

TEST_CASE("a task runs: PENDING is stored - PULLING, STARTING, RUNNING", "[tasks]") {
  Harness h;
  auto events = h.tc->subscribe();
  Task t = h.tc->run(h.spec("hello")).value();
  CHECK(t.state == TaskState::kPending);
  CHECK(h.store.rows.at(t.id).state == TaskState::kPending);  // stored before the answer
  // Asked for nothing: the node's small defaults, stored with the task.
  CHECK(t.spec.cpu_millis == 0);
  CHECK(t.resources.cpu_request_millis == kDefaultCpuRequestMillis);
  CHECK(t.resources.cpu_limit_millis == 0);
  CHECK(t.resources.memory_request_bytes == kDefaultMemoryRequestBytes);
  CHECK(t.resources.memory_limit_bytes == kDefaultMemoryLimitBytes);
  CHECK(h.store.rows.at(t.id).resources == t.resources);
  h.executor.run_all();
  Task r = h.tc->get("hello").value();
  CHECK(r.state == TaskState::kRunning);
  CHECK(r.pid == 1000);
  CHECK(r.image_digest == "sha256:abc");
  CHECK(r.pulling_at.has_value());
  CHECK(r.starting_at.has_value());
  CHECK(r.running_at.has_value());
  CHECK(h.store.rows.at(t.id).state == TaskState::kRunning);
  CHECK(h.images.leases.at(t.id) == "sha256:abc");
  std::vector<TaskState> seen;
  while (auto e = events->next(0ms)) seen.push_back(e->state);
  CHECK(seen == std::vector<TaskState>{TaskState::kPending, TaskState::kPulling,
                                       TaskState::kStarting, TaskState::kRunning});
}

TEST_CASE("events: numbered in order, replayed after a sequence, a future one refused",
          "[tasks][events]") {
  Harness h;
  Task t = h.started(h.spec("numbered"));
  auto all = h.tc->subscribe_since({}, 0).value();
  std::vector<std::uint64_t> seqs;
  std::vector<TaskState> states;
  while (auto e = all->next(0ms)) {
    seqs.push_back(e->seq);
    states.push_back(e->state);
  }
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(states == std::vector<TaskState>{TaskState::kPending, TaskState::kPulling,
                                         TaskState::kStarting, TaskState::kRunning});
  auto after_two = h.tc->subscribe_since(t.id, 2).value();
  CHECK(after_two->next(0ms)->state == TaskState::kStarting);
  CHECK(after_two->next(0ms)->state == TaskState::kRunning);
  CHECK_FALSE(after_two->next(0ms));
  auto ahead = h.tc->subscribe_since({}, 5);
  REQUIRE_FALSE(ahead);
  CHECK(ahead.error().code() == Code::kInvalidArgument);
  CHECK(ahead.error().message().find("ahead of the newest event (4)") != std::string::npos);
}

TEST_CASE("exit codes and signals become the task's exit code and reason", "[tasks]") {
  Harness h;
  Task a = h.started(h.spec("zero"));
  Task b = h.started(h.spec("three"));
  Task c = h.started(h.spec("killed"));
  h.runtime.exit(a.id, exited(0));
  h.runtime.exit(b.id, exited(3));
  h.runtime.exit(c.id, killed(SIGKILL));
  Task ra = h.tc->get(a.id).value();
  CHECK(ra.state == TaskState::kStopped);
  CHECK(ra.exit_code == 0);
  CHECK(ra.stop_reason == "Exited");
  CHECK(ra.usage.cpu_seconds == Approx(0.25));
  CHECK(h.tc->get(b.id).value().exit_code == 3);
  Task rc = h.tc->get(c.id).value();
  CHECK(rc.exit_code == 137);
  CHECK(rc.signal == SIGKILL);
  CHECK(rc.stop_message.find("SIGKILL") != std::string::npos);
  CHECK(h.store.rows.at(b.id).exit_code == 3);
  CHECK(h.tc->running_count() == 0);
}

TEST_CASE("tasks are counted by state for the metrics", "[tasks][metrics]") {
  Harness h;
  Task a = h.started(h.spec("a"));
  h.started(h.spec("b"));
  h.tc->run(h.spec("c")).value();  // not run yet: PENDING
  h.runtime.exit(a.id, exited(0));
  auto counts = h.tc->count_by_state();
  CHECK(counts == std::map<TaskState, int>{{TaskState::kPending, 1},
                                           {TaskState::kRunning, 1},
                                           {TaskState::kStopped, 1}});
}

TEST_CASE("OOM kills are reported as OOMKilled", "[tasks]") {
  Harness h;
  auto s = h.spec("hog");
  s.memory_bytes = 64ULL << 20;
  Task t = h.started(s);
  ExitInfo i = killed(SIGKILL);
  i.oom_killed = true;
  h.runtime.exit(t.id, i);
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "OOMKilled");
  CHECK(r.stop_message.find("64Mi") != std::string::npos);
}

TEST_CASE("stop sends the stop signal with a grace period - the exit is StoppedByUser", "[tasks]") {
  Harness h;
  auto s = h.spec("srv");
  s.stop_signal = "SIGINT";
  Task t = h.started(s);
  Task st = h.tc->stop(t.id, std::nullopt, 3s).value();
  CHECK(st.state == TaskState::kStopping);
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.runtime.stops[0].sig == SIGINT);
  CHECK(h.runtime.stops[0].grace == 3s);
  h.runtime.exit(t.id, killed(SIGINT));
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "StoppedByUser");
  CHECK(r.exit_code == 130);
  // Stopping a stopped task is a no-op, not an error.
  CHECK(h.tc->stop(t.id, SIGKILL, 0ms));
  CHECK(h.runtime.stops.size() == 1);
}

TEST_CASE("a task stopped before it started never launches", "[tasks]") {
  Harness h;
  Task t = h.tc->run(h.spec("early")).value();
  CHECK(h.tc->stop(t.id, std::nullopt, std::nullopt).value().state == TaskState::kStopped);
  h.executor.run_all();
  CHECK(h.runtime.launched.empty());
  CHECK(h.tc->get(t.id).value().stop_reason == "StoppedByUser");
}

TEST_CASE("a node drain stops tasks with their own signal - the exit is NodeDrained - and a "
          "cordoned node refuses new tasks at once and queues --queue ones",
          "[tasks]") {
  Harness h;
  auto s = h.spec("srv");
  s.stop_signal = "SIGINT";
  Task t = h.started(s);
  Task pending = h.tc->run(h.spec("early")).value();  // not started yet
  h.capacity->cordon("the node is draining (test)");
  CHECK(h.tc->stop(t.id, std::nullopt, std::nullopt, true).value().state == TaskState::kStopping);
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.runtime.stops[0].sig == SIGINT);
  CHECK(h.tc->stop(pending.id, std::nullopt, std::nullopt, true).value().stop_reason ==
        "NodeDrained");
  h.runtime.exit(t.id, killed(SIGINT));
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "NodeDrained");
  CHECK(r.stop_message.find("node drain") != std::string::npos);

  auto refused = h.tc->run(h.spec("late"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kUnavailable);
  CHECK(refused.error().message().find("the node is draining (test)") != std::string::npos);
  auto q = h.spec("queued");
  q.queue = true;
  Task queued = h.tc->run(q).value();
  h.executor.run_all();
  CHECK(h.tc->get(queued.id).value().state == TaskState::kPending);
  h.capacity->uncordon();  // the queue starts
  h.executor.run_all();
  CHECK(h.tc->get(queued.id).value().state != TaskState::kPending);
}

TEST_CASE("a timeout stops the task and the reason is TimedOut", "[tasks]") {
  Harness h;
  auto s = h.spec("slow");
  s.timeout = 10s;
  Task t = h.started(s);
  h.executor.advance(9s);
  CHECK(h.runtime.stops.empty());
  h.executor.advance(2s);
  REQUIRE(h.runtime.stops.size() == 1);
  CHECK(h.tc->get(t.id).value().state == TaskState::kStopping);
  h.runtime.exit(t.id, killed(SIGTERM));
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "TimedOut");
  CHECK(r.stop_message.find("10s") != std::string::npos);
}

TEST_CASE("pull and start failures are reported with their cause", "[tasks]") {
  Harness h;
  h.images.failing.insert("nope:1");
  auto s = h.spec("pullfail");
  s.image = "nope:1";
  Task t = h.started(s);
  CHECK(t.state == TaskState::kStopped);
  CHECK(t.stop_reason == "ImagePullFailed");
  CHECK(t.stop_message.find("manifest unknown") != std::string::npos);
  CHECK(h.runtime.launched.empty());

  h.runtime.fail_launch = true;
  Task u = h.started(h.spec("startfail"));
  CHECK(u.stop_reason == "StartFailed");
  CHECK(u.stop_message.find("pivot_root") != std::string::npos);
  CHECK(std::count(h.runtime.removed.begin(), h.runtime.removed.end(), u.id) == 1);
  CHECK(h.images.leases.count(u.id) == 0);
}

TEST_CASE("admission: refused when it does not fit, queued when asked", "[tasks]") {
  Harness h;
  h.node(Amount{2000, 4ULL << 30});
  auto one_cpu = [&](std::string name) {
    auto s = h.spec(std::move(name));
    s.cpu_millis = 1000;
    return s;
  };
  Task a = h.started(one_cpu("a"));
  Task b = h.started(one_cpu("b"));
  auto refused = h.tc->run(one_cpu("c"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kResourceExhausted);
  CHECK(refused.error().message().find("--queue") != std::string::npos);
  CHECK(h.store.rows.size() == 2);  // nothing stored for the refused one
  CHECK(h.capacity->holders() == 2);

  auto never = h.spec("huge");
  never.memory_bytes = 8ULL << 30;
  never.queue = true;
  CHECK(h.tc->run(never).error().message().find("more than this node can ever give") !=
        std::string::npos);

  auto q = one_cpu("queued");
  q.queue = true;
  Task c = h.tc->run(q).value();
  h.executor.run_all();
  CHECK(h.tc->get(c.id).value().state == TaskState::kPending);
  CHECK(h.tc->get(c.id).value().queued_reason.find("waiting for capacity") != std::string::npos);
  h.runtime.exit(a.id, exited(0));
  h.executor.run_all();
  CHECK(h.tc->get(c.id).value().state == TaskState::kRunning);
  (void)b;
}

TEST_CASE("bad specs are INVALID_ARGUMENT naming the field, and nothing is stored", "[tasks]") {
  Harness h;
  struct Case {
    std::function<void(TaskSpec&)> edit;
    const char* field;
  };
  std::vector<Case> cases = {
      {[](TaskSpec& s) { s.image.clear(); }, "spec.image"},
      {[](TaskSpec& s) { s.name = "a/b"; }, "spec.name"},
      {[](TaskSpec& s) { s.name = std::string("a\0b", 3); }, "spec.name"},
      {[](TaskSpec& s) { s.cpu_millis = -5; }, "spec.resources.cpuMillis"},
      {[](TaskSpec& s) { s.memory_bytes = 1; }, "spec.resources.memoryBytes"},
      {[](TaskSpec& s) { s.memory_bytes = 1ULL << 60; }, "spec.resources.memoryBytes"},
      {[](TaskSpec& s) { s.env.emplace_back("BIG", std::string(10 << 20, 'x')); }, "spec.env"},
      {[](TaskSpec& s) { s.env.emplace_back("A=B", "x"); }, "spec.env"},
      {[](TaskSpec& s) { s.workdir = "relative"; }, "spec.workdir"},
      {[](TaskSpec& s) { s.stop_signal = "SIGNOPE"; }, "spec.stopSignal"},
      {[](TaskSpec& s) { s.timeout = -1s; }, "spec.timeout"},
  };
  for (auto& c : cases) {
    TaskSpec s = h.spec();
    c.edit(s);
    auto r = h.tc->run(s);
    INFO(c.field);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK(r.error().message().find(c.field) != std::string::npos);
  }
  CHECK(h.store.rows.empty());
  CHECK(h.store.writes == 0);
}

TEST_CASE("names are unique - lookups by id, prefix or name", "[tasks]") {
  Harness h;
  Task t = h.started(h.spec("web"));
  CHECK(h.tc->run(h.spec("web")).error().code() == Code::kAlreadyExists);
  CHECK(h.tc->get("web").value().id == t.id);
  CHECK(h.tc->get(t.id.substr(0, 6)).value().id == t.id);
  CHECK(h.tc->get("zzzzzz").error().code() == Code::kNotFound);
  Task unnamed = h.tc->run(h.spec()).value();
  CHECK(unnamed.spec.name.starts_with("task-"));
}

TEST_CASE("a store failure refuses the task", "[tasks]") {
  Harness h;
  h.store.fail_next = true;
  auto r = h.tc->run(h.spec("x"));
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("disk full") != std::string::npos);
  TaskFilter all;
  all.all = true;
  CHECK(h.tc->list(all).value().first.empty());
}

TEST_CASE("remove: refused while running unless forced - forced kills and cleans up", "[tasks]") {
  Harness h;
  Task t = h.started(h.spec("victim"));
  auto r = h.tc->remove(t.id, false);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  REQUIRE(h.tc->remove(t.id, true));
  CHECK(h.tc->get(t.id).error().code() == Code::kNotFound);
  CHECK(h.store.rows.count(t.id) == 0);
  REQUIRE_FALSE(h.runtime.signals.empty());
  CHECK(h.runtime.signals.back() == std::make_pair(t.id, SIGKILL));
  CHECK(h.runtime.removed.back() == t.id);
  CHECK(h.images.leases.count(t.id) == 0);
  // The late exit of a removed task changes nothing.
  h.runtime.exit(t.id, exited(0));
  CHECK(h.tc->get(t.id).error().code() == Code::kNotFound);
}

TEST_CASE("auto-remove: gone once its exit code was read, or after the linger", "[tasks]") {
  Harness h;
  auto s = h.spec("rm1");
  s.auto_remove = true;
  Task a = h.started(s);
  h.runtime.exit(a.id, exited(4));
  Task w = h.tc->wait(a.id, std::chrono::steady_clock::now() + 1s, {}).value();
  CHECK(w.exit_code == 4);
  h.executor.run_all();
  CHECK(h.tc->get(a.id).error().code() == Code::kNotFound);

  auto s2 = h.spec("rm2");
  s2.auto_remove = true;
  Task b = h.started(s2);
  h.runtime.exit(b.id, exited(0));
  CHECK(h.tc->get(b.id).value().state == TaskState::kStopped);
  h.executor.advance(61s);
  CHECK(h.tc->get(b.id).error().code() == Code::kNotFound);
}

TEST_CASE("wait ends at the deadline or when cancelled", "[tasks]") {
  Harness h;
  Task t = h.started(h.spec("long"));
  auto d = h.tc->wait(t.id, std::chrono::steady_clock::now() + 10ms, {});
  CHECK(d.error().code() == Code::kDeadlineExceeded);
  auto c = h.tc->wait(t.id, std::chrono::steady_clock::time_point::max(), [] { return true; });
  CHECK(c.error().code() == Code::kCancelled);
}

TEST_CASE("list filters by state, name and labels, and pages", "[tasks]") {
  Harness h;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto s = h.spec(fmt::format("t{}", i));
    s.labels["team"] = i % 2 ? "odd" : "even";
    ids.push_back(h.started(s).id);
    h.clock.offset += 1s;
  }
  h.runtime.exit(ids[0], exited(0));
  CHECK(h.tc->list(TaskFilter{}).value().first.size() == 4);  // not STOPPED by default
  TaskFilter all;
  all.all = true;
  CHECK(h.tc->list(all).value().first.size() == 5);
  TaskFilter stopped;
  stopped.states = {TaskState::kStopped};
  CHECK(h.tc->list(stopped).value().first.at(0).id == ids[0]);
  TaskFilter odd;
  odd.labels["team"] = "odd";
  CHECK(h.tc->list(odd).value().first.size() == 2);
  TaskFilter page;
  page.all = true;
  page.page_size = 2;
  auto [p1, next] = h.tc->list(page).value();
  CHECK(p1.size() == 2);
  CHECK(p1[0].id == ids[0]);
  page.page_token = next;
  auto [p2, next2] = h.tc->list(page).value();
  CHECK(p2[0].id == ids[2]);
  page.page_token = next2;
  auto [p3, next3] = h.tc->list(page).value();
  CHECK(p3.size() == 1);
  CHECK(next3.empty());
}

TEST_CASE("restart: running tasks re-adopted, exits while down kept, lost ones marked", "[tasks]") {
  Harness h;
  Task running = h.started(h.spec("running"));
  Task finished = h.started(h.spec("finished"));
  Task lost = h.started(h.spec("lost"));
  auto ts = h.spec("timed");
  ts.timeout = 30s;
  Task timed = h.started(ts);
  Task pending = h.tc->run(h.spec("pending")).value();  // svcd dies before it starts

  ExitInfo while_down = exited(7);
  while_down.exited_at = h.clock.now() + 5s;
  h.runtime.sandboxes = {
      {running.id, SandboxInfo::Status::kRunning, 1000, std::nullopt},
      {finished.id, SandboxInfo::Status::kExited, 1001, while_down},
      {timed.id, SandboxInfo::Status::kRunning, 1003, std::nullopt},
  };
  h.clock.offset += 20s;
  h.restart();

  CHECK(h.tc->get(running.id).value().state == TaskState::kRunning);
  Task f = h.tc->get(finished.id).value();
  CHECK(f.state == TaskState::kStopped);
  CHECK(f.exit_code == 7);
  CHECK(f.stopped_at == while_down.exited_at);
  Task l = h.tc->get(lost.id).value();
  CHECK(l.state == TaskState::kStopped);
  CHECK(l.stop_reason == "Lost");
  CHECK_FALSE(l.exit_code.has_value());                               // no exit code is invented
  CHECK(h.tc->get(pending.id).value().state == TaskState::kRunning);  // started again
  // The re-adopted running task is still controllable and its exit is seen.
  REQUIRE(h.tc->stop(running.id, SIGTERM, 1s));
  h.runtime.exit(running.id, killed(SIGTERM));
  CHECK(h.tc->get(running.id).value().stop_reason == "StoppedByUser");
  // The timeout keeps counting from when the task started, not from the restart.
  h.executor.advance(11s);
  CHECK(h.tc->get(timed.id).value().state == TaskState::kStopping);
}

TEST_CASE("a sandbox whose supervisor died is Lost, with no exit code invented", "[tasks]") {
  Harness h;
  Task t = h.started(h.spec("orphan"));
  ExitInfo lost;
  lost.lost = true;
  lost.error = "the shim died without writing exit.json";
  h.runtime.exit(t.id, lost);
  Task r = h.tc->get(t.id).value();
  CHECK(r.state == TaskState::kStopped);
  CHECK(r.stop_reason == "Lost");
  CHECK(r.stop_message.find("exit.json") != std::string::npos);
  CHECK_FALSE(r.exit_code.has_value());
}

TEST_CASE("a program that cannot be executed is StartFailed with the runtime's error", "[tasks]") {
  Harness h;
  Task t = h.tc->run(h.spec("noexec")).value();
  h.runtime.fail_exec.insert(t.id);
  auto events = h.tc->subscribe(t.id);
  h.executor.run_all();
  // Never RUNNING: `svctl run -d` waits for RUNNING and must not take this for a start.
  CHECK(h.tc->get(t.id).value().state == TaskState::kStarting);
  ExitInfo i = exited(127);
  i.error = "exec /nonexistent: No such file or directory";
  h.runtime.exit(t.id, i);
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "StartFailed");
  CHECK(r.exit_code == 127);
  CHECK(r.stop_message.find("/nonexistent") != std::string::npos);
  int seen = 0;
  while (auto ev = events->next(std::chrono::milliseconds(0))) {
    CHECK(ev->state != TaskState::kRunning);
    ++seen;
  }
  CHECK(seen >= 2);  // its way to STARTING, and STOPPED
}

TEST_CASE("restart after a reboot marks vanished tasks NodeShutdown", "[tasks]") {
  Harness h;
  Task t = h.started(h.spec("gone"));
  h.restart(true);
  Task r = h.tc->get(t.id).value();
  CHECK(r.stop_reason == "NodeShutdown");
}

TEST_CASE("docker-run semantics for entrypoint, args and env", "[tasks]") {
  ResolvedImage img;
  img.reference = "x";
  img.entrypoint = {"/entry"};
  img.cmd = {"default"};
  img.env = {"PATH=/custom", "A=1"};
  img.workdir = "/app";
  img.stop_signal = "SIGQUIT";
  Task t;
  t.id = "0123456789abcdef";
  t.spec.image = "x";
  auto l = make_launch_spec(t, img).value();
  CHECK(l.args == std::vector<std::string>{"/entry", "default"});
  CHECK(l.workdir == "/app");
  CHECK(l.stop_signal == SIGQUIT);
  t.spec.args = {"override"};
  t.spec.env = {{"A", "2"}, {"B", "3"}};
  l = make_launch_spec(t, img).value();
  CHECK(l.args == std::vector<std::string>{"/entry", "override"});
  CHECK(l.env == std::vector<std::string>{"PATH=/custom", "A=2", "B=3"});
  t.spec.entrypoint = {"/bin/sh"};
  t.spec.args.clear();
  CHECK(make_launch_spec(t, img).value().args == std::vector<std::string>{"/bin/sh"});
  t.spec.entrypoint.clear();
  t.spec.reset_entrypoint = true;
  t.spec.args = {"/bin/echo", "hi"};
  CHECK(make_launch_spec(t, img).value().args == std::vector<std::string>{"/bin/echo", "hi"});
  ResolvedImage bare;
  Task u;
  u.spec.image = "scratch";
  auto none = make_launch_spec(u, bare);
  CHECK(none.error().message().find("no entrypoint or command") != std::string::npos);
  CHECK(make_launch_spec(t, bare).value().env.at(0).starts_with("PATH="));
}

TEST_CASE("signal names", "[tasks]") {
  CHECK(parse_signal("SIGTERM") == SIGTERM);
  CHECK(parse_signal("term") == SIGTERM);
  CHECK(parse_signal("9") == SIGKILL);
  CHECK(parse_signal("SIGNOPE") == 0);
  CHECK(parse_signal("99") == 0);
  CHECK(signal_name(SIGKILL) == "SIGKILL");
}

TEST_CASE("resources: 1,000 flagless tasks fit a 2-core 24 GiB node, and --cpu is a hard limit",
          "[tasks][resources]") {
  Harness h;
  h.node(Amount{2000, 21'600ULL << 20});  // 2 vCPU, 90 % of 24 GiB
  for (int i = 0; i < 1000; ++i) {
    auto t = h.tc->run(h.spec(fmt::format("idle-{}", i)));
    INFO(i << ": " << (t ? "" : t.error().message()));
    REQUIRE(t);
  }
  h.executor.run_all();
  CHECK(h.tc->running_count() == 1000);
  CHECK(h.capacity->reserved() == Amount{1000, 1000 * (16ULL << 20)});
  const LaunchSpec& idle = h.runtime.launched.begin()->second;
  CHECK(idle.cpu_millis == 0);  // no CFS quota: it may use idle CPU
  CHECK(idle.cpu_request_millis == 1);
  CHECK(idle.memory_bytes == 512ULL << 20);
  CHECK(idle.memory_request_bytes == 16ULL << 20);

  // --cpu 1 fits (1 vCPU of requests is taken); then 1 vCPU... minus the idle ones' 1m each.
  auto one = h.spec("one");
  one.cpu_millis = 999;
  REQUIRE(h.tc->run(one));
  h.executor.run_all();
  CHECK(h.runtime.launched.at(h.tc->get("one").value().id).cpu_millis == 999);
  auto big = h.spec("big");
  big.cpu_millis = 1500;
  auto refused = h.tc->run(big);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kResourceExhausted);
  CHECK(refused.error().message().find("not enough capacity: the task requests 1.5 vCPU") !=
        std::string::npos);
  CHECK(refused.error().message().find("the node has 0.001 vCPU") != std::string::npos);
}

TEST_CASE("resources: the API's request and limit apart, Kubernetes-style", "[tasks][resources]") {
  Harness h;
  auto s = h.spec("burst");
  s.cpu_request_millis = 100;
  s.cpu_limit_millis = 500;
  s.memory_limit_bytes = 256ULL << 20;  // a limit alone requests it
  Task t = h.started(s);
  CHECK(t.resources.cpu_request_millis == 100);
  CHECK(t.resources.cpu_limit_millis == 500);
  CHECK(t.resources.memory_request_bytes == 256ULL << 20);
  CHECK(t.resources.memory_limit_bytes == 256ULL << 20);
  CHECK(h.capacity->reserved() == Amount{100, 256ULL << 20});
  auto r = h.spec("req-only");
  r.memory_request_bytes = 1ULL << 30;  // more than the default limit: the limit follows
  Task u = h.started(r);
  CHECK(u.resources.memory_limit_bytes == 1ULL << 30);
  CHECK(u.resources.cpu_limit_millis == 0);
  auto both = h.spec("both");
  both.cpu_millis = 100;
  both.cpu_limit_millis = 200;
  CHECK(h.tc->run(both).error().message().find("spec.resources.cpuMillis") != std::string::npos);
  auto inverted = h.spec("inverted");
  inverted.cpu_request_millis = 600;
  inverted.cpu_limit_millis = 500;
  CHECK(h.tc->run(inverted).error().message().find("cpuRequestMillis") != std::string::npos);
}

TEST_CASE("resources: the ledger is shared - room an instance frees starts a queued task",
          "[tasks][resources]") {
  Harness h;
  h.node(Amount{1000, 1ULL << 30});
  REQUIRE(h.capacity->try_reserve("instance:web-1", Amount{1000, 0}));
  auto q = h.spec("waits");
  q.cpu_millis = 500;
  q.queue = true;
  Task t = h.tc->run(q).value();
  h.executor.run_all();
  CHECK(h.tc->get(t.id).value().state == TaskState::kPending);
  h.capacity->release("instance:web-1");  // the services controller scaled down
  h.executor.run_all();
  CHECK(h.tc->get(t.id).value().state == TaskState::kRunning);
  CHECK(h.capacity->holds("task:" + t.id));
  h.runtime.exit(t.id, exited(0));
  CHECK_FALSE(h.capacity->holds("task:" + t.id));
}

TEST_CASE("resources: re-adopted tasks hold their reservation again after a restart",
          "[tasks][resources]") {
  Harness h;
  auto s = h.spec("kept");
  s.memory_bytes = 64ULL << 20;
  Task t = h.started(s);
  h.runtime.sandboxes.push_back(SandboxInfo{t.id, SandboxInfo::Status::kRunning, 1000, {}});
  h.restart();
  CHECK(h.capacity->holds("task:" + t.id));
  CHECK(h.capacity->reserved() == Amount{kDefaultCpuRequestMillis, 64ULL << 20});
}
