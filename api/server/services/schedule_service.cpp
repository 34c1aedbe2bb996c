#include "api/server/services/schedule_service.hpp"

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"
#include "api/server/services/task_spec_proto.hpp"

#include "svc/v1/schedules.pb.h"

namespace svc::api {

namespace {

namespace sch = svc::scheduler;
using google::protobuf::util::TimeUtil;

v1::ScheduleRun::Outcome to_proto(sch::RunOutcome o) {
  switch (o) {
    case sch::RunOutcome::kStarting:
      return v1::ScheduleRun::STARTING;
    case sch::RunOutcome::kStarted:
      return v1::ScheduleRun::STARTED;
    case sch::RunOutcome::kSkipped:
      return v1::ScheduleRun::SKIPPED;
    case sch::RunOutcome::kMissed:
      return v1::ScheduleRun::MISSED;
    case sch::RunOutcome::kFailed:
      return v1::ScheduleRun::FAILED;
  }
  return v1::ScheduleRun::OUTCOME_UNSPECIFIED;
}

void to_proto(const sch::RunRecord& r, v1::ScheduleRun* p) {
  p->set_seq(r.seq);
  *p->mutable_scheduled_at() = to_timestamp(r.scheduled_at);
  *p->mutable_handled_at() = to_timestamp(r.handled_at);
  p->set_manual(r.manual);
  p->set_outcome(to_proto(r.outcome));
  p->set_task_id(r.task_id);
  p->set_task_name(r.task_name);
  p->set_message(r.message);
  // Task.State numbers are scheduler::TaskState's (tasks.proto).
  if (r.task_state)
    p->set_task_state(static_cast<v1::Task::State>(static_cast<int>(*r.task_state)));
  if (r.exit_code) p->set_exit_code(*r.exit_code);
  p->set_stop_reason(r.stop_reason);
}

void to_proto(const sch::Schedule& s, v1::Schedule* p) {
  p->set_name(s.spec.name);
  p->set_cron(s.spec.cron);
  p->set_timezone(s.spec.timezone);
  p->set_overlap(static_cast<v1::Schedule::Overlap>(static_cast<int>(s.spec.overlap)));
  if (s.spec.starting_deadline.count() > 0)
    *p->mutable_starting_deadline() = to_duration(s.spec.starting_deadline);
  task_spec_to_proto(s.spec.task, p->mutable_task());
  p->set_paused(s.paused);
  *p->mutable_created_at() = to_timestamp(s.created_at);
  if (s.next_run_at) *p->mutable_next_run_at() = to_timestamp(*s.next_run_at);
  for (const auto& r : s.runs) to_proto(r, p->add_last_runs());
}

Result<sch::ScheduleSpec> from_proto(const v1::Schedule& p) {
  sch::ScheduleSpec s;
  s.name = p.name();
  s.cron = p.cron();
  s.timezone = p.timezone();
  switch (p.overlap()) {
    case v1::Schedule::OVERLAP_UNSPECIFIED:
    case v1::Schedule::ALLOW:
      s.overlap = sch::Overlap::kAllow;
      break;
    case v1::Schedule::FORBID:
      s.overlap = sch::Overlap::kForbid;
      break;
    case v1::Schedule::REPLACE:
      s.overlap = sch::Overlap::kReplace;
      break;
    default:
      return fail(Code::kInvalidArgument,
                  "schedule.overlap: unknown policy {} (use ALLOW, FORBID or REPLACE)",
                  static_cast<int>(p.overlap()));
  }
  if (p.has_starting_deadline()) {
    const auto& d = p.starting_deadline();
    if (d.seconds() < 0 || d.nanos() < 0)
      return fail(Code::kInvalidArgument, "schedule.startingDeadline: must not be negative");
    if (d.seconds() > 366LL * 86400)
      return fail(Code::kInvalidArgument, "schedule.startingDeadline: at most a year");
    s.starting_deadline = sch::Millis(TimeUtil::DurationToMilliseconds(d));
  }
  if (!p.has_task())
    return fail(Code::kInvalidArgument, "schedule.task: missing (give at least task.image)");
  s.task = SVC_TRY(task_spec_from_proto(p.task()));
  return s;
}

}  // namespace

void register_schedule_service(Dispatcher& d, sch::ScheduleController& schedules) {
  d.unary<v1::CreateScheduleRequest, v1::Schedule>(
      "svc.v1.Schedules/Create",
      [&schedules](const v1::CreateScheduleRequest& req, v1::Schedule& out,
                   CallContext&) -> Result<> {
        if (!req.has_schedule())
          return fail(Code::kInvalidArgument,
                      "schedule: missing (give at least schedule.name, cron and task.image)");
        auto spec = SVC_TRY(from_proto(req.schedule()));
        to_proto(SVC_TRY(schedules.create(std::move(spec))), &out);
        return {};
      });
  d.unary<v1::GetScheduleRequest, v1::Schedule>(
      "svc.v1.Schedules/Get",
      [&schedules](const v1::GetScheduleRequest& req, v1::Schedule& out, CallContext&) -> Result<> {
        to_proto(SVC_TRY(schedules.get(req.name())), &out);
        return {};
      });
  d.unary<v1::ListSchedulesRequest, v1::ListSchedulesResponse>(
      "svc.v1.Schedules/List",
      [&schedules](const v1::ListSchedulesRequest&, v1::ListSchedulesResponse& out,
                   CallContext&) -> Result<> {
        for (const auto& s : schedules.list()) to_proto(s, out.add_schedules());
        return {};
      });
  d.unary<v1::DeleteScheduleRequest, v1::DeleteScheduleResponse>(
      "svc.v1.Schedules/Delete",
      [&schedules](const v1::DeleteScheduleRequest& req, v1::DeleteScheduleResponse&,
                   CallContext&) -> Result<> { return schedules.remove(req.name()); });
  d.unary<v1::PauseScheduleRequest, v1::Schedule>(
      "svc.v1.Schedules/Pause",
      [&schedules](const v1::PauseScheduleRequest& req, v1::Schedule& out,
                   CallContext&) -> Result<> {
        to_proto(SVC_TRY(schedules.pause(req.name())), &out);
        return {};
      });
  d.unary<v1::ResumeScheduleRequest, v1::Schedule>(
      "svc.v1.Schedules/Resume",
      [&schedules](const v1::ResumeScheduleRequest& req, v1::Schedule& out,
                   CallContext&) -> Result<> {
        to_proto(SVC_TRY(schedules.resume(req.name())), &out);
        return {};
      });
  d.unary<v1::RunScheduleNowRequest, v1::ScheduleRun>(
      "svc.v1.Schedules/RunNow",
      [&schedules](const v1::RunScheduleNowRequest& req, v1::ScheduleRun& out,
                   CallContext&) -> Result<> {
        to_proto(SVC_TRY(schedules.run_now(req.name())), &out);
        return {};
      });
}

}  // namespace svc::api
