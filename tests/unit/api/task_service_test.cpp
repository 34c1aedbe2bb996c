// svc.v1.Tasks handlers over a fake TaskBackend: what each message becomes, and what comes back.
#include <catch2/catch.hpp>

#include "api/server/services/task_service.hpp"
#include "svc/v1/tasks.pb.h"
#include "tests/unit/api/fake_backends.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;
namespace sch = svc::scheduler;

namespace {

struct Fixture {
  Dispatcher d;
  FakeTaskBackend tasks;
  Fixture() { register_task_service(d, tasks); }

  sch::Task& add(const std::string& id, const std::string& name,
                 sch::TaskState state = sch::TaskState::kRunning) {
    sch::Task t;
    t.id = id;
    t.spec.name = name;
    t.spec.image = "busybox";
    t.state = state;
    return tasks.tasks[id] = t;
  }
};

}  // namespace

TEST_CASE("Run: the spec reaches the controller as the scheduler's TaskSpec", "[api][tasks]") {
  Fixture f;
  v1::RunTaskRequest req;
  auto* s = req.mutable_spec();
  s->set_name("web");
  s->set_image("127.0.0.1:5000/app:1");
  s->add_entrypoint("/bin/sh");
  s->add_args("-c");
  s->add_args("echo hi");
  (*s->mutable_env())["B"] = "2";
  (*s->mutable_env())["A"] = "secret";
  (*s->mutable_labels())["team"] = "core";
  s->set_workdir("/srv");
  s->set_user("1000:1000");
  s->mutable_resources()->set_cpu_millis(250);
  s->mutable_resources()->set_memory_bytes(64 << 20);
  s->mutable_timeout()->set_seconds(90);
  s->set_network(v1::BRIDGE);
  s->set_auto_remove(true);
  s->set_queue(true);
  s->set_stop_signal("SIGINT");
  s->mutable_stop_grace_period()->set_seconds(3);

  auto out = call<v1::Task>(f.d, "svc.v1.Tasks/Run", req);
  REQUIRE(out);
  REQUIRE(f.tasks.ran.size() == 1);
  const sch::TaskSpec& spec = f.tasks.ran[0];
  CHECK(spec.name == "web");
  CHECK(spec.image == "127.0.0.1:5000/app:1");
  CHECK(spec.entrypoint == std::vector<std::string>{"/bin/sh"});
  CHECK(spec.args == std::vector<std::string>{"-c", "echo hi"});
  // Proto maps have no order: the spec's env is sorted, so it is stable.
  CHECK(spec.env == std::vector<std::pair<std::string, std::string>>{{"A", "secret"}, {"B", "2"}});
  CHECK(spec.labels.at("team") == "core");
  CHECK(spec.workdir == "/srv");
  CHECK(spec.user == "1000:1000");
  CHECK(spec.cpu_millis == 250);
  CHECK(spec.memory_bytes == (64u << 20));
  CHECK(spec.timeout == std::chrono::seconds(90));
  CHECK(spec.network == sch::NetworkMode::kBridge);
  CHECK(spec.auto_remove);
  CHECK(spec.queue);
  CHECK(spec.stop_signal == "SIGINT");
  CHECK(spec.stop_grace == std::chrono::seconds(3));

  // The answer is the stored task; env values never come back, only their names.
  CHECK(out->id() == f.tasks.tasks.begin()->first);
  CHECK(out->state() == v1::Task::PENDING);
  CHECK(out->spec().env().at("A").empty());
  CHECK(out->spec().env().size() == 2);
  CHECK(out->spec().network() == v1::BRIDGE);
  CHECK(out->spec().timeout().seconds() == 90);
  CHECK_FALSE(out->has_exit_code());
}

TEST_CASE("Run: bad input is INVALID_ARGUMENT naming the field, and nothing runs", "[api][tasks]") {
  Fixture f;
  auto run = [&](const v1::RunTaskRequest& req) {
    return call<v1::Task>(f.d, "svc.v1.Tasks/Run", req);
  };
  v1::RunTaskRequest none;
  auto r = run(none);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK_THAT(r.error().message(), Catch::Contains("spec"));

  v1::RunTaskRequest cpu;
  cpu.mutable_spec()->set_image("busybox");
  cpu.mutable_spec()->mutable_resources()->set_cpu_millis(-1);
  CHECK_THAT(run(cpu).error().message(), Catch::Contains("spec.resources.cpuMillis"));

  v1::RunTaskRequest mem;
  mem.mutable_spec()->set_image("busybox");
  mem.mutable_spec()->mutable_resources()->set_memory_bytes(-5);
  CHECK_THAT(run(mem).error().message(), Catch::Contains("spec.resources.memoryBytes"));

  v1::RunTaskRequest timeout;
  timeout.mutable_spec()->set_image("busybox");
  timeout.mutable_spec()->mutable_timeout()->set_seconds(-5);
  CHECK_THAT(run(timeout).error().message(), Catch::Contains("spec.timeout"));

  v1::RunTaskRequest grace;
  grace.mutable_spec()->set_image("busybox");
  grace.mutable_spec()->mutable_stop_grace_period()->set_seconds(-1);
  CHECK_THAT(run(grace).error().message(), Catch::Contains("spec.stopGracePeriod"));

  v1::RunTaskRequest net;
  net.mutable_spec()->set_image("busybox");
  net.mutable_spec()->set_network(static_cast<v1::NetworkMode>(42));
  CHECK_THAT(run(net).error().message(), Catch::Contains("spec.network"));

  CHECK(f.tasks.ran.empty());
}

TEST_CASE("Get refreshes usage and shows exit details - unknown ids are NOT_FOUND",
          "[api][tasks]") {
  Fixture f;
  auto& t = f.add("abcdef123456", "done", sch::TaskState::kStopped);
  t.exit_code = 3;
  t.stop_reason = "Exited";
  t.usage.cpu_seconds = 1.5;
  t.usage.memory_peak_bytes = 1 << 20;
  t.pid = 77;  // a stopped task's pid is not shown
  v1::GetTaskRequest req;
  req.set_id("done");
  auto got = call<v1::Task>(f.d, "svc.v1.Tasks/Get", req);
  REQUIRE(got);
  CHECK(f.tasks.usage_refreshes == 1);
  CHECK(got->id() == "abcdef123456");
  CHECK(got->state() == v1::Task::STOPPED);
  REQUIRE(got->has_exit_code());
  CHECK(got->exit_code() == 3);
  CHECK(got->stop_reason() == "Exited");
  CHECK(got->usage().cpu_seconds() == 1.5);
  CHECK(got->usage().memory_peak_bytes() == 1 << 20);
  CHECK(got->pid() == 0);

  req.set_id("nope");
  auto missing = call<v1::Task>(f.d, "svc.v1.Tasks/Get", req);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::kNotFound);
}

TEST_CASE("List passes the filter and pages - a negative page size is refused", "[api][tasks]") {
  Fixture f;
  f.add("aaaa0001", "one");
  f.add("aaaa0002", "two", sch::TaskState::kStopped);
  v1::ListTasksRequest req;
  req.add_states(v1::Task::RUNNING);
  req.add_states(v1::Task::STOPPED);
  req.set_all(true);
  req.set_name("one");
  (*req.mutable_labels())["k"] = "v";
  req.set_page_size(10);
  req.set_page_token("aaaa0001");
  auto out = call<v1::ListTasksResponse>(f.d, "svc.v1.Tasks/List", req);
  REQUIRE(out);
  CHECK(out->tasks_size() == 2);
  CHECK(out->next_page_token() == "next-page");
  const auto& filter = f.tasks.last_filter;
  CHECK(filter.states ==
        std::vector<sch::TaskState>{sch::TaskState::kRunning, sch::TaskState::kStopped});
  CHECK(filter.all);
  CHECK(filter.name == "one");
  CHECK(filter.labels.at("k") == "v");
  CHECK(filter.page_size == 10);
  CHECK(filter.page_token == "aaaa0001");

  req.set_page_size(-1);
  CHECK_THAT(call<v1::ListTasksResponse>(f.d, "svc.v1.Tasks/List", req).error().message(),
             Catch::Contains("pageSize"));
}

TEST_CASE("Stop parses the signal and grace period - unknown signals are refused", "[api][tasks]") {
  Fixture f;
  f.add("bbbb0001", "web");
  v1::StopTaskRequest req;
  req.set_id("web");
  req.set_signal("INT");
  req.mutable_grace_period()->set_seconds(2);
  REQUIRE(call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req));
  REQUIRE(f.tasks.stops.size() == 1);
  CHECK(f.tasks.stops[0].ref == "web");
  CHECK(f.tasks.stops[0].signal == 2);
  CHECK(f.tasks.stops[0].grace == std::chrono::seconds(2));

  v1::StopTaskRequest plain;
  plain.set_id("web");
  REQUIRE(call<v1::Task>(f.d, "svc.v1.Tasks/Stop", plain));
  CHECK_FALSE(f.tasks.stops[1].signal.has_value());  // the task's own stop signal
  CHECK_FALSE(f.tasks.stops[1].grace.has_value());

  req.set_signal("SIGBOGUS");
  auto bad = call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.error().message(), Catch::Contains("SIGBOGUS"));
  CHECK(f.tasks.stops.size() == 2);
}

TEST_CASE("Delete passes force - Wait answers the stopped task", "[api][tasks]") {
  Fixture f;
  auto& t = f.add("cccc0001", "w", sch::TaskState::kStopped);
  t.exit_code = 124;
  v1::DeleteTaskRequest del;
  del.set_id("w");
  del.set_force(true);
  REQUIRE(call<v1::DeleteTaskResponse>(f.d, "svc.v1.Tasks/Delete", del));
  CHECK(f.tasks.removed.back() == std::make_pair(std::string("w"), true));
  v1::WaitTaskRequest wait;
  wait.set_id("cccc0001");
  auto w = call<v1::Task>(f.d, "svc.v1.Tasks/Wait", wait);
  REQUIRE(w);
  CHECK(w->exit_code() == 124);
}

TEST_CASE("Logs: resolved by name, lines in order, invalid UTF-8 replaced", "[api][tasks]") {
  Fixture f;
  f.add("dddd0001", "talker");
  sch::LogLine a;
  a.text = "hello";
  a.time = sch::TimePoint(std::chrono::milliseconds(1'700'000'000'123));
  sch::LogLine b;
  b.text = "bad \xff\xfe byte";
  b.is_stderr = true;
  sch::LogLine c;
  c.text = "no newline";
  c.partial = true;
  f.tasks.lines = {a, b, c};
  v1::TaskLogsRequest req;
  req.set_id("talker");
  req.set_tail(5);
  req.set_follow(true);
  auto out = call_stream<v1::LogEntry>(f.d, "svc.v1.Tasks/Logs", req);
  REQUIRE(out);
  REQUIRE(out->size() == 3);
  CHECK((*out)[0].text() == "hello");
  CHECK((*out)[0].stream() == v1::LogEntry::STDOUT);
  CHECK((*out)[0].time().seconds() == 1'700'000'000);
  CHECK((*out)[0].time().nanos() == 123'000'000);
  CHECK((*out)[1].text() == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
  CHECK((*out)[1].stream() == v1::LogEntry::STDERR);
  CHECK((*out)[2].partial());
  // The backend is asked by id (the name resolved first), with the query as given.
  CHECK(f.tasks.last_query.tail == 5);
  CHECK(f.tasks.last_query.follow);

  // The client going away after one message ends the stream there.
  auto one = call_stream<v1::LogEntry>(f.d, "svc.v1.Tasks/Logs", req, 1);
  REQUIRE(one);
  CHECK(one->size() == 1);
}

TEST_CASE("Logs: an unknown task or a negative tail fails before any line", "[api][tasks]") {
  Fixture f;
  f.add("eeee0001", "x");
  sch::LogLine l;
  l.text = "line";
  f.tasks.lines = {l};
  v1::TaskLogsRequest req;
  req.set_id("ghost");
  auto missing = call_stream<v1::LogEntry>(f.d, "svc.v1.Tasks/Logs", req);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::kNotFound);
  req.set_id("x");
  req.set_tail(-1);
  auto neg = call_stream<v1::LogEntry>(f.d, "svc.v1.Tasks/Logs", req);
  REQUIRE_FALSE(neg);
  CHECK_THAT(neg.error().message(), Catch::Contains("tail"));
}

TEST_CASE("Events: the task filter is resolved to an id - events are translated", "[api][tasks]") {
  Fixture f;
  f.add("ffff0001", "watched");
  sch::TaskEvent ev;
  ev.task_id = "ffff0001";
  ev.task_name = "watched";
  ev.state = sch::TaskState::kStopped;
  ev.exit_code = 0;
  ev.stop_reason = "Exited";
  f.tasks.events_to_send = {ev};
  v1::TaskEventsRequest req;
  req.set_task_id("watched");
  auto out = call_stream<v1::TaskEvent>(f.d, "svc.v1.Tasks/Events", req);
  REQUIRE(out);
  CHECK(f.tasks.last_events_filter == "ffff0001");
  REQUIRE(out->size() == 1);
  CHECK((*out)[0].state() == v1::Task::STOPPED);
  CHECK((*out)[0].has_exit_code());
  CHECK((*out)[0].stop_reason() == "Exited");

  req.set_task_id("ghost");
  CHECK(call_stream<v1::TaskEvent>(f.d, "svc.v1.Tasks/Events", req).error().code() ==
        Code::kNotFound);
  req.clear_task_id();
  REQUIRE(call_stream<v1::TaskEvent>(f.d, "svc.v1.Tasks/Events", req));
  CHECK(f.tasks.last_events_filter.empty());
  CHECK_FALSE(f.tasks.last_events_since);
}

TEST_CASE("Events: sequences, drop markers and resuming after a sequence", "[api][tasks]") {
  Fixture f;
  sch::TaskEvent ev;
  ev.seq = 41;
  ev.task_id = "ffff0001";
  ev.state = sch::TaskState::kRunning;
  sch::TaskEvent marker;
  marker.seq = 44;
  marker.dropped = 3;
  marker.message = "dropped 3 events up to sequence 44";
  f.tasks.events_to_send = {ev, marker};
  v1::TaskEventsRequest req;
  req.set_since_seq(40);
  auto out = call_stream<v1::TaskEvent>(f.d, "svc.v1.Tasks/Events", req);
  REQUIRE(out);
  REQUIRE(f.tasks.last_events_since);
  CHECK(*f.tasks.last_events_since == 40);
  REQUIRE(out->size() == 2);
  CHECK((*out)[0].seq() == 41);
  CHECK((*out)[0].dropped() == 0);
  CHECK((*out)[1].seq() == 44);
  CHECK((*out)[1].dropped() == 3);
  CHECK((*out)[1].message() == "dropped 3 events up to sequence 44");
  // since_seq 0 is a sequence too (replay everything kept), apart from leaving it out.
  req.set_since_seq(0);
  REQUIRE(call_stream<v1::TaskEvent>(f.d, "svc.v1.Tasks/Events", req));
  REQUIRE(f.tasks.last_events_since);
  CHECK(*f.tasks.last_events_since == 0);
}
