#include "api/server/services/task_service.hpp"

#include <algorithm>

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"
#include "api/server/services/task_spec_proto.hpp"
#include "api/server/services/utf8.hpp"

#include "svc/v1/tasks.pb.h"

namespace svc::api {

namespace {

using google::protobuf::util::TimeUtil;
namespace sch = svc::scheduler;

v1::Task::State to_proto(sch::TaskState s) {
  switch (s) {
    case sch::TaskState::kPending:
      return v1::Task::PENDING;
    case sch::TaskState::kPulling:
      return v1::Task::PULLING;
    case sch::TaskState::kStarting:
      return v1::Task::STARTING;
    case sch::TaskState::kRunning:
      return v1::Task::RUNNING;
    case sch::TaskState::kStopping:
      return v1::Task::STOPPING;
    case sch::TaskState::kStopped:
      return v1::Task::STOPPED;
  }
  return v1::Task::STATE_UNSPECIFIED;
}

Result<sch::TaskState> from_proto(v1::Task::State s) {
  switch (s) {
    case v1::Task::PENDING:
      return sch::TaskState::kPending;
    case v1::Task::PULLING:
      return sch::TaskState::kPulling;
    case v1::Task::STARTING:
      return sch::TaskState::kStarting;
    case v1::Task::RUNNING:
      return sch::TaskState::kRunning;
    case v1::Task::STOPPING:
      return sch::TaskState::kStopping;
    case v1::Task::STOPPED:
      return sch::TaskState::kStopped;
    default:
      return fail(Code::kInvalidArgument, "states: unknown task state {}", static_cast<int>(s));
  }
}

Result<sch::Millis> duration(const google::protobuf::Duration& d, std::string_view field) {
  if (d.seconds() < 0 || d.nanos() < 0)
    return fail(Code::kInvalidArgument, "{}: must not be negative", field);
  if (d.seconds() > 10LL * 365 * 86400) return fail(Code::kInvalidArgument, "{}: too long", field);
  return sch::Millis(TimeUtil::DurationToMilliseconds(d));
}

Result<sch::TaskSpec> from_proto(const v1::TaskSpec& p) {
  sch::TaskSpec s;
  s.name = p.name();
  s.image = p.image();
  s.entrypoint.assign(p.entrypoint().begin(), p.entrypoint().end());
  s.reset_entrypoint = p.reset_entrypoint();
  s.args.assign(p.args().begin(), p.args().end());
  for (const auto& [k, v] : p.env()) s.env.emplace_back(k, v);
  std::sort(s.env.begin(), s.env.end());  // proto maps have no order; keep ours stable
  for (const auto& [k, v] : p.labels()) s.labels[k] = v;
  s.workdir = p.workdir();
  s.user = p.user();
  if (p.resources().cpu_millis() < 0)
    return fail(Code::kInvalidArgument, "spec.resources.cpuMillis: must not be negative");
  if (p.resources().memory_bytes() < 0)
    return fail(Code::kInvalidArgument, "spec.resources.memoryBytes: must not be negative");
  const auto& res = p.resources();
  for (auto [v, field] : {std::pair{res.cpu_request_millis(), "cpuRequestMillis"},
                          std::pair{res.cpu_limit_millis(), "cpuLimitMillis"},
                          std::pair{res.memory_request_bytes(), "memoryRequestBytes"},
                          std::pair{res.memory_limit_bytes(), "memoryLimitBytes"}})
    if (v < 0)
      return fail(Code::kInvalidArgument, "spec.resources.{}: must not be negative", field);
  s.cpu_millis = res.cpu_millis();
  s.memory_bytes = static_cast<std::uint64_t>(res.memory_bytes());
  s.pids = res.pids();
  s.cpu_request_millis = res.cpu_request_millis();
  s.cpu_limit_millis = res.cpu_limit_millis();
  s.memory_request_bytes = static_cast<std::uint64_t>(res.memory_request_bytes());
  s.memory_limit_bytes = static_cast<std::uint64_t>(res.memory_limit_bytes());
  s.timeout = SVC_TRY(duration(p.timeout(), "spec.timeout"));
  s.network = SVC_TRY(network_from_proto(p.network()));
  s.auto_remove = p.auto_remove();
  s.queue = p.queue();
  s.stop_signal = p.stop_signal();
  s.stop_grace = SVC_TRY(duration(p.stop_grace_period(), "spec.stopGracePeriod"));
  s.tty = p.tty();
  s.open_stdin = p.stdin();
  s.init = p.init();
  return s;
}

void to_proto(const sch::TaskSpec& s, v1::TaskSpec* p) {
  p->set_name(s.name);
  p->set_image(s.image);
  for (const auto& a : s.entrypoint) p->add_entrypoint(a);
  p->set_reset_entrypoint(s.reset_entrypoint);
  for (const auto& a : s.args) p->add_args(a);
  // Values are secrets as far as svc knows: answers carry the names only.
  for (const auto& [k, v] : s.env) (*p->mutable_env())[k] = "";
  for (const auto& [k, v] : s.labels) (*p->mutable_labels())[k] = v;
  p->set_workdir(s.workdir);
  p->set_user(s.user);
  auto* res = p->mutable_resources();
  res->set_cpu_millis(s.cpu_millis);
  res->set_memory_bytes(static_cast<std::int64_t>(s.memory_bytes));
  res->set_pids(s.pids);
  res->set_cpu_request_millis(s.cpu_request_millis);
  res->set_cpu_limit_millis(s.cpu_limit_millis);
  res->set_memory_request_bytes(static_cast<std::int64_t>(s.memory_request_bytes));
  res->set_memory_limit_bytes(static_cast<std::int64_t>(s.memory_limit_bytes));
  if (s.timeout.count())
    *p->mutable_timeout() = TimeUtil::MillisecondsToDuration(s.timeout.count());
  p->set_network(network_to_proto(s.network));
  p->set_auto_remove(s.auto_remove);
  p->set_queue(s.queue);
  p->set_stop_signal(s.stop_signal);
  *p->mutable_stop_grace_period() = TimeUtil::MillisecondsToDuration(s.stop_grace.count());
  p->set_tty(s.tty);
  p->set_stdin(s.open_stdin);
  p->set_init(s.init);
}

void to_proto(const sch::Task& t, v1::Task* p) {
  p->set_id(t.id);
  p->set_name(t.spec.name);
  to_proto(t.spec, p->mutable_spec());
  p->set_state(to_proto(t.state));
  if (t.exit_code) p->set_exit_code(*t.exit_code);
  p->set_stop_reason(t.stop_reason);
  p->set_stop_message(t.stop_message);
  p->set_image_digest(t.image_digest);
  *p->mutable_created_at() = to_timestamp(t.created_at);
  if (t.pulling_at) *p->mutable_pulling_at() = to_timestamp(*t.pulling_at);
  if (t.starting_at) *p->mutable_starting_at() = to_timestamp(*t.starting_at);
  if (t.running_at) *p->mutable_running_at() = to_timestamp(*t.running_at);
  if (t.stopping_at) *p->mutable_stopping_at() = to_timestamp(*t.stopping_at);
  if (t.stopped_at) *p->mutable_stopped_at() = to_timestamp(*t.stopped_at);
  if (t.state == sch::TaskState::kRunning || t.state == sch::TaskState::kStopping)
    p->set_pid(t.pid);
  p->set_signal(t.signal);
  auto* u = p->mutable_usage();
  u->set_cpu_seconds(t.usage.cpu_seconds);
  u->set_memory_peak_bytes(static_cast<std::int64_t>(t.usage.memory_peak_bytes));
  u->set_memory_now_bytes(static_cast<std::int64_t>(t.usage.memory_now_bytes));
  u->set_pids(static_cast<std::int64_t>(t.usage.pids));
  p->set_queued_reason(t.queued_reason);
  auto* r = p->mutable_resources();
  r->set_cpu_request_millis(t.resources.cpu_request_millis);
  r->set_cpu_limit_millis(t.resources.cpu_limit_millis);
  r->set_memory_request_bytes(static_cast<std::int64_t>(t.resources.memory_request_bytes));
  r->set_memory_limit_bytes(static_cast<std::int64_t>(t.resources.memory_limit_bytes));
  r->set_pids(t.resources.pids);
}

}  // namespace

Result<sch::NetworkMode> network_from_proto(v1::NetworkMode mode) {
  switch (mode) {
    case v1::NETWORK_MODE_UNSPECIFIED:
    case v1::PRIVATE:
      return sch::NetworkMode::kPrivate;
    case v1::BRIDGE:
      return sch::NetworkMode::kBridge;
    case v1::NONE:
      return sch::NetworkMode::kNone;
    default:
      return fail(Code::kInvalidArgument, "spec.network: unknown mode");
  }
}

v1::NetworkMode network_to_proto(sch::NetworkMode mode) {
  switch (mode) {
    case sch::NetworkMode::kBridge:
      return v1::BRIDGE;
    case sch::NetworkMode::kNone:
      return v1::NONE;
    default:
      return v1::PRIVATE;
  }
}

Result<sch::TaskSpec> task_spec_from_proto(const v1::TaskSpec& p) { return from_proto(p); }
void task_spec_to_proto(const sch::TaskSpec& s, v1::TaskSpec* p) { to_proto(s, p); }

void register_task_service(Dispatcher& d, TaskBackend& tasks) {
  register_task_stdio_service(d, tasks);
  d.unary<v1::RunTaskRequest, v1::Task>(
      "svc.v1.Tasks/Run",
      [&tasks](const v1::RunTaskRequest& req, v1::Task& out, CallContext&) -> Result<> {
        if (!req.has_spec())
          return fail(Code::kInvalidArgument, "spec: missing (give at least spec.image)");
        auto spec = SVC_TRY(from_proto(req.spec()));
        if (req.start_on_attach() && !spec.tty && !spec.open_stdin)
          return fail(Code::kInvalidArgument,
                      "startOnAttach: only for a task with spec.tty or spec.stdin (attach to "
                      "any other task's output with Logs)");
        spec.hold_for_attach = req.start_on_attach();
        to_proto(SVC_TRY(tasks.run(std::move(spec))), &out);
        return {};
      });
  d.unary<v1::GetTaskRequest, v1::Task>(
      "svc.v1.Tasks/Get",
      [&tasks](const v1::GetTaskRequest& req, v1::Task& out, CallContext&) -> Result<> {
        to_proto(SVC_TRY(tasks.get(req.id(), true)), &out);
        return {};
      });
  d.unary<v1::ListTasksRequest, v1::ListTasksResponse>(
      "svc.v1.Tasks/List",
      [&tasks](const v1::ListTasksRequest& req, v1::ListTasksResponse& out,
               CallContext&) -> Result<> {
        sch::TaskFilter f;
        for (int s : req.states())
          f.states.push_back(SVC_TRY(from_proto(static_cast<v1::Task::State>(s))));
        f.all = req.all();
        f.name = req.name();
        for (const auto& [k, v] : req.labels()) f.labels[k] = v;
        if (req.page_size() < 0)
          return fail(Code::kInvalidArgument, "pageSize: must not be negative");
        f.page_size = req.page_size();
        f.page_token = req.page_token();
        auto [list, next] = SVC_TRY(tasks.list(f));
        for (const auto& t : list) to_proto(t, out.add_tasks());
        out.set_next_page_token(next);
        return {};
      });
  d.unary<v1::StopTaskRequest, v1::Task>(
      "svc.v1.Tasks/Stop",
      [&tasks](const v1::StopTaskRequest& req, v1::Task& out, CallContext&) -> Result<> {
        std::optional<int> sig;
        if (!req.signal().empty()) {
          int n = sch::parse_signal(req.signal());
          if (n == 0)
            return fail(Code::kInvalidArgument, "signal: unknown signal \"{}\"", req.signal());
          sig = n;
        }
        std::optional<sch::Millis> grace;
        if (req.has_grace_period()) grace = SVC_TRY(duration(req.grace_period(), "gracePeriod"));
        to_proto(SVC_TRY(tasks.stop(req.id(), sig, grace)), &out);
        return {};
      });
  d.unary<v1::DeleteTaskRequest, v1::DeleteTaskResponse>(
      "svc.v1.Tasks/Delete",
      [&tasks](const v1::DeleteTaskRequest& req, v1::DeleteTaskResponse&,
               CallContext&) -> Result<> { return tasks.remove(req.id(), req.force()); });
  d.unary<v1::WaitTaskRequest, v1::Task>(
      "svc.v1.Tasks/Wait",
      [&tasks](const v1::WaitTaskRequest& req, v1::Task& out, CallContext& ctx) -> Result<> {
        to_proto(SVC_TRY(tasks.wait(req.id(), ctx.deadline, ctx.cancelled)), &out);
        return {};
      });
  d.server_stream<v1::TaskLogsRequest, v1::LogEntry>(
      "svc.v1.Tasks/Logs",
      [&tasks](const v1::TaskLogsRequest& req, TypedSink<v1::LogEntry>& sink,
               CallContext& ctx) -> Result<> {
        sch::Task t = SVC_TRY(tasks.get(req.id(), false));
        if (req.tail() < 0) return fail(Code::kInvalidArgument, "tail: must not be negative");
        sch::LogQuery q;
        q.tail = req.tail();
        q.follow = req.follow();
        if (req.has_since()) q.since = from_timestamp(req.since());
        sink.begin();  // the task exists: a follow may wait long for its first line
        auto emit = [&](const sch::LogLine& line) {
          v1::LogEntry e;
          *e.mutable_time() = to_timestamp(line.time);
          e.set_stream(line.is_stderr ? v1::LogEntry::STDERR : v1::LogEntry::STDOUT);
          e.set_text(valid_utf8(line.text));
          e.set_partial(line.partial);
          return sink.write(e);
        };
        return tasks.logs(t.id, q, emit, ctx.cancelled);
      });
  d.server_stream<v1::TaskEventsRequest, v1::TaskEvent>(
      "svc.v1.Tasks/Events",
      [&tasks](const v1::TaskEventsRequest& req, TypedSink<v1::TaskEvent>& sink,
               CallContext& ctx) -> Result<> {
        std::string filter;
        if (!req.task_id().empty()) filter = SVC_TRY(tasks.get(req.task_id(), false)).id;
        sink.begin();
        auto emit = [&](const sch::TaskEvent& ev) {
          v1::TaskEvent out;
          *out.mutable_time() = to_timestamp(ev.time);
          out.set_task_id(ev.task_id);
          out.set_task_name(ev.task_name);
          out.set_state(to_proto(ev.state));
          if (ev.exit_code) out.set_exit_code(*ev.exit_code);
          out.set_stop_reason(ev.stop_reason);
          out.set_message(ev.message);
          out.set_seq(ev.seq);
          out.set_dropped(ev.dropped);
          return sink.write(out);
        };
        std::optional<std::uint64_t> since;
        if (req.has_since_seq()) since = req.since_seq();
        return tasks.events(filter, since, emit, ctx.cancelled);
      });
}

}  // namespace svc::api
