// svc.v1.Tasks/Attach and /Exec over a fake TaskBackend and a scripted stdio stream: the first
// message becomes the request, later ones input, resizes and EOF; output and the exit come back
// in order; bad first messages are refused naming the field.
#include <condition_variable>
#include <deque>
#include <mutex>

#include <catch2/catch.hpp>

#include "api/server/services/task_service.hpp"
#include "svc/v1/tasks.pb.h"
#include "tests/unit/api/fake_backends.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;
using namespace std::chrono_literals;
namespace sch = svc::scheduler;

namespace {

// The client's half of a call: messages the test queued, then (unless held open) the end.
template <class Req>
class ScriptedSource final : public StreamSource {
 public:
  std::deque<Req> messages;
  bool hold_open = false;
  Result<Status> read(google::protobuf::Message& m, std::chrono::milliseconds timeout) override {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return !messages.empty(); });
    if (messages.empty()) return hold_open ? Status::kTimeout : Status::kEnd;
    m.CopyFrom(messages.front());
    messages.pop_front();
    return Status::kMessage;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

struct Fixture {
  Dispatcher d;
  FakeTaskBackend tasks;
  Fixture() {
    register_task_service(d, tasks);
    sch::Task t;
    t.id = "abcdef0123456789";
    t.spec.name = "shell";
    t.state = sch::TaskState::kRunning;
    tasks.tasks[t.id] = t;
  }
  template <class Req>
  Result<std::vector<v1::StdioOutput>> call(std::string_view method, ScriptedSource<Req>& in,
                                            CallContext ctx = {}) {
    CollectingSink<v1::StdioOutput> out;
    SVC_TRY(d.call_bidi(*d.find(method), in, out, ctx));
    return std::move(out.messages);
  }
};

v1::AttachRequest input(std::string data, bool close = false) {
  v1::AttachRequest r;
  r.mutable_input()->set_data(std::move(data));
  r.mutable_input()->set_close(close);
  return r;
}

}  // namespace

TEST_CASE("Attach and Exec are bidirectional streams in the dispatch table", "[api][stdio]") {
  Dispatcher d;
  for (const char* m : {"svc.v1.Tasks/Attach", "svc.v1.Tasks/Exec"}) {
    REQUIRE(d.find(m));
    CHECK(d.find(m)->client_streaming);
    CHECK(d.find(m)->server_streaming);
  }
  CHECK_FALSE(d.find("svc.v1.Tasks/Logs")->client_streaming);
  // Unregistered: UNIMPLEMENTED with the name, not a crash.
  ScriptedSource<v1::AttachRequest> in;
  CollectingSink<v1::StdioOutput> out;
  CallContext ctx;
  auto r = d.call_bidi(*d.find("svc.v1.Tasks/Attach"), in, out, ctx);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kUnimplemented);
}

TEST_CASE("attach: input, resize and EOF reach the task, output and the exit come back",
          "[api][stdio]") {
  Fixture f;
  f.tasks.stdio->echo = true;         // a terminal echoes what is typed
  f.tasks.stdio->exit_on_eof = true;  // and ends at EOF, as `cat`
  ScriptedSource<v1::AttachRequest> in;
  v1::AttachRequest first;
  first.set_id("shell");
  first.set_stdin(true);
  first.set_start(true);
  first.mutable_size()->set_rows(40);
  first.mutable_size()->set_cols(120);
  in.messages.push_back(first);
  v1::AttachRequest resize;
  resize.mutable_input()->mutable_resize()->set_rows(50);
  resize.mutable_input()->mutable_resize()->set_cols(132);
  in.messages.push_back(resize);
  in.messages.push_back(input("hello\n"));
  in.messages.push_back(input("", true));
  in.hold_open = true;  // the client stays: the exit ends the call
  auto out = f.call("svc.v1.Tasks/Attach", in);
  REQUIRE(out);
  REQUIRE(f.tasks.attached.size() == 1);
  CHECK(f.tasks.attached[0].first == "abcdef0123456789");  // resolved from the name
  CHECK(f.tasks.attached[0].second.stdin);
  CHECK(f.tasks.attached[0].second.start);
  CHECK(f.tasks.attached[0].second.rows == 40);
  CHECK(f.tasks.attached[0].second.cols == 120);
  CHECK(f.tasks.stdio->stdin_written == "hello\n");
  CHECK(f.tasks.stdio->stdin_closed == 1);
  CHECK(f.tasks.stdio->resizes == std::vector<std::pair<std::uint16_t, std::uint16_t>>{{50, 132}});
  REQUIRE(out->size() == 3);
  CHECK((*out)[0].attached().task_id() == "abcdef0123456789");
  CHECK((*out)[1].stdout() == "hello\n");
  CHECK((*out)[2].has_exit());
  CHECK((*out)[2].exit().exit_code() == 0);
  CHECK(f.tasks.stdio->destroyed);  // the stream is released with the call
}

TEST_CASE("attach without stdin watches: input is refused, output still flows", "[api][stdio]") {
  Fixture f;
  f.tasks.stdio->push({sch::StdioFrame::Kind::kStderr, "warning\n", {}, {}});
  ScriptedSource<v1::AttachRequest> in;
  v1::AttachRequest first;
  first.set_id("shell");
  in.messages.push_back(first);
  in.messages.push_back(input("typed"));
  in.hold_open = true;
  auto out = f.call("svc.v1.Tasks/Attach", in);
  REQUIRE_FALSE(out);
  CHECK(out.error().code() == Code::kFailedPrecondition);
  CHECK_THAT(out.error().message(), Catch::Contains("without stdin"));
  CHECK(f.tasks.stdio->stdin_written.empty());
}

TEST_CASE("a client that leaves ends the call and detaches", "[api][stdio]") {
  Fixture f;
  ScriptedSource<v1::AttachRequest> in;
  v1::AttachRequest first;
  first.set_id("shell");
  in.messages.push_back(first);
  in.hold_open = true;
  std::atomic<int> polls{0};
  CallContext ctx;
  ctx.cancelled = [&] { return ++polls > 3; };
  auto out = f.call("svc.v1.Tasks/Attach", in, ctx);
  REQUIRE(out);
  REQUIRE(out->size() == 1);  // attached, then nothing: no exit was made up
  CHECK(f.tasks.stdio->destroyed);
}

TEST_CASE("bad first messages are refused naming the field", "[api][stdio]") {
  Fixture f;
  {
    ScriptedSource<v1::AttachRequest> in;
    auto r = f.call("svc.v1.Tasks/Attach", in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK_THAT(r.error().message(), Catch::Contains("no request"));
  }
  {
    ScriptedSource<v1::AttachRequest> in;
    in.messages.push_back(v1::AttachRequest{});
    auto r = f.call("svc.v1.Tasks/Attach", in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::StartsWith("id:"));
  }
  {
    ScriptedSource<v1::AttachRequest> in;
    v1::AttachRequest first;
    first.set_id("shell");
    first.mutable_size()->set_rows(70000);
    in.messages.push_back(first);
    auto r = f.call("svc.v1.Tasks/Attach", in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::StartsWith("size.rows:"));
  }
  {
    ScriptedSource<v1::ExecRequest> in;
    v1::ExecRequest first;
    first.set_id("shell");
    in.messages.push_back(first);
    auto r = f.call("svc.v1.Tasks/Exec", in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK_THAT(r.error().message(), Catch::StartsWith("args:"));
  }
  {
    ScriptedSource<v1::ExecRequest> in;
    v1::ExecRequest first;
    first.set_id("missing");
    first.add_args("true");
    in.messages.push_back(first);
    auto r = f.call("svc.v1.Tasks/Exec", in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kNotFound);
  }
  CHECK(f.tasks.attached.empty());
  CHECK(f.tasks.execs.empty());
}

TEST_CASE("exec: the request reaches the task, output and the exit code come back",
          "[api][stdio]") {
  Fixture f;
  f.tasks.stdio->push({sch::StdioFrame::Kind::kStdout, "out", {}, {}});
  f.tasks.stdio->push({sch::StdioFrame::Kind::kStderr, "err", {}, {}});
  f.tasks.stdio->push_exit(7);
  ScriptedSource<v1::ExecRequest> in;
  v1::ExecRequest first;
  first.set_id("shell");
  first.add_args("sh");
  first.add_args("-c");
  first.add_args("exit 7");
  (*first.mutable_env())["B"] = "2";
  (*first.mutable_env())["A"] = "1";
  first.set_workdir("/tmp");
  first.set_user("1000:1000");
  first.set_tty(true);
  in.messages.push_back(first);
  auto out = f.call("svc.v1.Tasks/Exec", in);
  REQUIRE(out);
  REQUIRE(f.tasks.execs.size() == 1);
  const sch::ExecRequest& e = f.tasks.execs[0].second;
  CHECK(e.args == std::vector<std::string>{"sh", "-c", "exit 7"});
  CHECK(e.env == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "2"}});
  CHECK(e.workdir == "/tmp");
  CHECK(e.user == "1000:1000");
  CHECK(e.tty);
  REQUIRE(out->size() == 4);
  CHECK((*out)[1].stdout() == "out");
  CHECK((*out)[2].stderr() == "err");
  CHECK((*out)[3].exit().exit_code() == 7);
}

TEST_CASE("an exec whose program never ran reports why, with no exit code", "[api][stdio]") {
  Fixture f;
  sch::StdioFrame exit;
  exit.kind = sch::StdioFrame::Kind::kExit;
  exit.error = "exec nope: No such file or directory";
  f.tasks.stdio->push(exit);
  ScriptedSource<v1::ExecRequest> in;
  v1::ExecRequest first;
  first.set_id("shell");
  first.add_args("nope");
  in.messages.push_back(first);
  auto out = f.call("svc.v1.Tasks/Exec", in);
  REQUIRE(out);
  REQUIRE(out->size() == 2);
  CHECK_FALSE((*out)[1].exit().has_exit_code());
  CHECK_THAT((*out)[1].exit().error(), Catch::Contains("No such file"));
}

TEST_CASE("run with start_on_attach holds the task, only with a tty or stdin", "[api][stdio]") {
  Fixture f;
  v1::RunTaskRequest req;
  req.mutable_spec()->set_image("busybox");
  req.mutable_spec()->set_tty(true);
  req.mutable_spec()->set_stdin(true);
  req.mutable_spec()->set_init(true);
  req.set_start_on_attach(true);
  auto t = call<v1::Task>(f.d, "svc.v1.Tasks/Run", req);
  REQUIRE(t);
  REQUIRE(f.tasks.ran.size() == 1);
  CHECK(f.tasks.ran[0].tty);
  CHECK(f.tasks.ran[0].open_stdin);
  CHECK(f.tasks.ran[0].init);
  CHECK(f.tasks.ran[0].hold_for_attach);
  CHECK(t->spec().tty());
  CHECK(t->spec().stdin());
  CHECK(t->spec().init());

  v1::RunTaskRequest plain;
  plain.mutable_spec()->set_image("busybox");
  plain.set_start_on_attach(true);
  auto refused = call<v1::Task>(f.d, "svc.v1.Tasks/Run", plain);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kInvalidArgument);
  CHECK(f.tasks.ran.size() == 1);
}
