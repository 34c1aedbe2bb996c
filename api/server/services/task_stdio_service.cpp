// svc.v1.Tasks/Attach and /Exec: a client's stream joined to a task's stdio stream
// (scheduler/tasks/stdio.hpp) in both directions. One thread (the call's) moves output to the
// client; a second, started here and joined before the handler returns, moves the client's
// input, resizes and EOF to the process. Either side ending ends both: the process's exit (an
// Exit message, last), the client leaving, or the server shutting down.
#include <algorithm>
#include <atomic>
#include <thread>

#include "api/server/services/task_service.hpp"
#include "svc/v1/tasks.pb.h"

namespace svc::api {

namespace {

namespace sch = svc::scheduler;
using namespace std::chrono_literals;

// How often a blocked side looks at the other side's end and at the call's cancellation.
constexpr auto kPoll = 200ms;

Result<std::uint16_t> dimension(std::uint32_t v, std::string_view field) {
  if (v > 0xffff) return fail(Code::kInvalidArgument, "{}: {} is too large", field, v);
  return static_cast<std::uint16_t>(v);
}

// Applies one later message of the client to the process.
Result<> apply_input(sch::StdioStream& stream, const v1::StdinMessage& in, bool may_write) {
  if (!may_write && (!in.data().empty() || in.close()))
    return fail(Code::kFailedPrecondition,
                "input: this stream was opened without stdin (set stdin in the first message)");
  if (in.has_resize()) {
    auto rows = SVC_TRY(dimension(in.resize().rows(), "input.resize.rows"));
    auto cols = SVC_TRY(dimension(in.resize().cols(), "input.resize.cols"));
    if (rows && cols) SVC_TRY(stream.resize(rows, cols));
  }
  if (!in.data().empty()) SVC_TRY(stream.write_stdin(in.data()));
  if (in.close()) SVC_TRY(stream.close_stdin());
  return {};
}

// Runs both directions until the process exits or either side goes away.
template <class Req>
Result<> pump(sch::StdioStream& stream, const std::string& task_id, bool with_stdin,
              TypedSource<Req>& in, TypedSink<v1::StdioOutput>& out, CallContext& ctx) {
  {
    v1::StdioOutput hello;
    hello.mutable_attached()->set_task_id(task_id);
    hello.mutable_attached()->set_tty(stream.tty());
    if (!out.write(hello)) return {};
  }
  std::atomic<bool> done{false};
  Result<> input_result;
  std::thread input([&] {
    while (!done.load()) {
      Req msg;
      auto r = in.read(msg, kPoll);
      if (!r) {
        input_result = tl::unexpected(std::move(r).error());
        break;
      }
      if (*r == StreamSource::Status::kTimeout) continue;
      // The client sends nothing more: the process keeps what it has (a client closes the
      // process's stdin with input.close, not by ending its half of the call).
      if (*r == StreamSource::Status::kEnd) break;
      if (auto applied = apply_input(stream, msg.input(), with_stdin); !applied) {
        input_result = std::move(applied);
        break;
      }
    }
    // A failed input ends the call: wake the output side.
    if (!input_result) stream.close();
  });
  Result<> output_result;
  while (!ctx.cancelled()) {
    auto frame = stream.read(kPoll);
    if (!frame) {
      if (input_result) output_result = tl::unexpected(std::move(frame).error());
      break;
    }
    if (!*frame) continue;
    v1::StdioOutput o;
    switch ((*frame)->kind) {
      case sch::StdioFrame::Kind::kStdout:
        o.set_stdout((*frame)->data);
        break;
      case sch::StdioFrame::Kind::kStderr:
        o.set_stderr((*frame)->data);
        break;
      case sch::StdioFrame::Kind::kExit:
        if ((*frame)->exit_code) o.mutable_exit()->set_exit_code(*(*frame)->exit_code);
        o.mutable_exit()->set_error((*frame)->error);
        break;
    }
    bool last = (*frame)->kind == sch::StdioFrame::Kind::kExit;
    if (!out.write(o) || last) break;
  }
  done = true;
  stream.close();
  input.join();
  SVC_TRY(std::move(input_result));
  return output_result;
}

Result<sch::AttachRequest> attach_request(const v1::AttachRequest& r) {
  sch::AttachRequest a;
  a.stdin = r.stdin();
  a.start = r.start();
  a.rows = SVC_TRY(dimension(r.size().rows(), "size.rows"));
  a.cols = SVC_TRY(dimension(r.size().cols(), "size.cols"));
  return a;
}

Result<sch::ExecRequest> exec_request(const v1::ExecRequest& r) {
  sch::ExecRequest e;
  e.args.assign(r.args().begin(), r.args().end());
  for (const auto& [k, v] : r.env()) e.env.emplace_back(k, v);
  std::sort(e.env.begin(), e.env.end());  // proto maps have no order
  e.workdir = r.workdir();
  e.user = r.user();
  e.tty = r.tty();
  e.stdin = r.stdin();
  e.rows = SVC_TRY(dimension(r.size().rows(), "size.rows"));
  e.cols = SVC_TRY(dimension(r.size().cols(), "size.cols"));
  if (auto bad = sch::validate_exec(e)) return fail(Code::kInvalidArgument, "{}", *bad);
  return e;
}

// The first message of a call: INVALID_ARGUMENT when the client sent none.
template <class Req>
Result<Req> first_message(TypedSource<Req>& in, CallContext& ctx, std::string_view method) {
  Req first;
  for (;;) {
    auto r = SVC_TRY(in.read(first, kPoll));
    if (r == StreamSource::Status::kMessage) return first;
    if (r == StreamSource::Status::kEnd)
      return fail(Code::kInvalidArgument, "{}: the call carried no request", method);
    if (ctx.cancelled()) return fail(Code::kCancelled, "{}: cancelled", method);
    if (std::chrono::steady_clock::now() >= ctx.deadline)
      return fail(Code::kDeadlineExceeded, "{}: no request before the deadline", method);
  }
}

}  // namespace

void register_task_stdio_service(Dispatcher& d, TaskBackend& tasks) {
  d.bidi_stream<v1::AttachRequest, v1::StdioOutput>(
      "svc.v1.Tasks/Attach",
      [&tasks](TypedSource<v1::AttachRequest>& in, TypedSink<v1::StdioOutput>& out,
               CallContext& ctx) -> Result<> {
        auto first = SVC_TRY(first_message(in, ctx, "attach"));
        if (first.id().empty()) return fail(Code::kInvalidArgument, "id: name the task");
        sch::AttachRequest req = SVC_TRY(attach_request(first));
        sch::Task t = SVC_TRY(tasks.get(first.id(), false));
        auto stream = SVC_TRY(tasks.attach(t.id, req, ctx.deadline, ctx.cancelled));
        if (first.has_input()) SVC_TRY(apply_input(*stream, first.input(), req.stdin));
        return pump(*stream, t.id, req.stdin, in, out, ctx);
      });
  d.bidi_stream<v1::ExecRequest, v1::StdioOutput>(
      "svc.v1.Tasks/Exec",
      [&tasks](TypedSource<v1::ExecRequest>& in, TypedSink<v1::StdioOutput>& out,
               CallContext& ctx) -> Result<> {
        auto first = SVC_TRY(first_message(in, ctx, "exec"));
        if (first.id().empty()) return fail(Code::kInvalidArgument, "id: name the task");
        sch::ExecRequest req = SVC_TRY(exec_request(first));
        sch::Task t = SVC_TRY(tasks.get(first.id(), false));
        auto stream = SVC_TRY(tasks.exec(t.id, req));
        bool with_stdin = req.stdin || req.tty;
        if (first.has_input()) SVC_TRY(apply_input(*stream, first.input(), with_stdin));
        return pump(*stream, t.id, with_stdin, in, out, ctx);
      });
}

}  // namespace svc::api
