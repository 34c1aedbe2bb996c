// svc.v1.Schedules handlers over a real ScheduleController on fake ports: what each message
// becomes, what comes back (runs, results, next run), bad input refused with the field named,
// and the REST routes of the verbs.
#include <catch2/catch.hpp>

#include <google/protobuf/util/time_util.h>

#include "api/server/rest_routes.hpp"
#include "api/server/services/schedule_service.hpp"
#include "svc/v1/schedules.pb.h"
#include "tests/unit/api/fake_backends.hpp"
#include "tests/unit/scheduler/schedules/fakes.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;
namespace sch = svc::scheduler;
using google::protobuf::util::TimeUtil;

namespace {

struct Fixture {
  sch::test::FakeScheduleStore store;
  sch::test::FakeRunStarter runs;
  sch::test::SetClock clock;
  sch::ScheduleController controller{store, runs, clock, {}};
  Dispatcher d;
  Fixture() {
    clock.wall = sch::TimePoint(std::chrono::seconds(1'790'000'010));
    register_schedule_service(d, controller);
  }
  Result<v1::Schedule> create(const v1::Schedule& s) {
    v1::CreateScheduleRequest req;
    *req.mutable_schedule() = s;
    return call<v1::Schedule>(d, "svc.v1.Schedules/Create", req);
  }
};

v1::Schedule sample() {
  v1::Schedule s;
  s.set_name("nightly");
  s.set_cron("* * * * *");
  s.set_overlap(v1::Schedule::FORBID);
  *s.mutable_starting_deadline() = TimeUtil::SecondsToDuration(90);
  s.mutable_task()->set_image("busybox");
  s.mutable_task()->add_args("true");
  (*s.mutable_task()->mutable_env())["SECRET"] = "x";
  return s;
}

}  // namespace

TEST_CASE("Schedules: create, get, list, pause, resume, run-now, delete", "[api][schedules]") {
  Fixture f;
  auto created = f.create(sample()).value();
  CHECK(created.name() == "nightly");
  CHECK(created.timezone() == "UTC");
  CHECK(created.overlap() == v1::Schedule::FORBID);
  CHECK(TimeUtil::DurationToSeconds(created.starting_deadline()) == 90);
  CHECK(created.task().labels().at("svc.schedule") == "nightly");
  CHECK(created.task().env().at("SECRET").empty());  // redacted
  CHECK(TimeUtil::TimestampToSeconds(created.next_run_at()) == 1'790'000'040);

  f.clock.wall = sch::TimePoint(std::chrono::seconds(1'790'000'040));
  f.controller.tick();
  f.runs.finish("t1", 4);
  v1::GetScheduleRequest get;
  get.set_name("nightly");
  auto got = call<v1::Schedule>(f.d, "svc.v1.Schedules/Get", get).value();
  REQUIRE(got.last_runs_size() == 1);
  const auto& run = got.last_runs(0);
  CHECK(run.outcome() == v1::ScheduleRun::STARTED);
  CHECK(run.task_id() == "t1");
  CHECK(run.task_name() == "nightly-1790000040");
  CHECK(run.task_state() == v1::Task::STOPPED);
  CHECK(run.exit_code() == 4);
  CHECK(TimeUtil::TimestampToSeconds(run.scheduled_at()) == 1'790'000'040);
  CHECK(f.runs.specs.at(0).env.at(0).second == "x");  // the run has the real value

  auto listed =
      call<v1::ListSchedulesResponse>(f.d, "svc.v1.Schedules/List", v1::ListSchedulesRequest())
          .value();
  CHECK(listed.schedules_size() == 1);

  v1::PauseScheduleRequest pause;
  pause.set_name("nightly");
  auto paused = call<v1::Schedule>(f.d, "svc.v1.Schedules/Pause", pause).value();
  CHECK(paused.paused());
  CHECK_FALSE(paused.has_next_run_at());
  v1::ResumeScheduleRequest resume;
  resume.set_name("nightly");
  CHECK_FALSE(call<v1::Schedule>(f.d, "svc.v1.Schedules/Resume", resume).value().paused());

  v1::RunScheduleNowRequest now;
  now.set_name("nightly");
  auto manual = call<v1::ScheduleRun>(f.d, "svc.v1.Schedules/RunNow", now).value();
  CHECK(manual.manual());
  CHECK(manual.outcome() == v1::ScheduleRun::STARTED);

  v1::DeleteScheduleRequest del;
  del.set_name("nightly");
  REQUIRE(call<v1::DeleteScheduleResponse>(f.d, "svc.v1.Schedules/Delete", del));
  auto gone = call<v1::Schedule>(f.d, "svc.v1.Schedules/Get", get);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == Code::kNotFound);
}

TEST_CASE("Schedules: bad input is refused naming the field", "[api][schedules]") {
  Fixture f;
  auto no_task = sample();
  no_task.clear_task();
  CHECK_THAT(f.create(no_task).error().message(), Catch::Contains("schedule.task: missing"));
  auto negative = sample();
  negative.mutable_starting_deadline()->set_seconds(-1);
  CHECK_THAT(f.create(negative).error().message(), Catch::Contains("startingDeadline"));
  auto bad_memory = sample();
  bad_memory.mutable_task()->mutable_resources()->set_memory_bytes(-5);
  CHECK_THAT(f.create(bad_memory).error().message(), Catch::Contains("spec.resources.memoryBytes"));
  auto bad_cron = sample();
  bad_cron.set_cron("* * *");
  auto e = f.create(bad_cron).error();
  CHECK(e.code() == Code::kInvalidArgument);
  CHECK_THAT(e.message(), Catch::Contains("3 fields"));
  CHECK(f.store.rows.empty());
  auto missing = call<v1::Schedule>(f.d, "svc.v1.Schedules/Get", v1::GetScheduleRequest());
  CHECK(missing.error().code() == Code::kNotFound);
}

TEST_CASE("Schedules: REST routes of the verbs", "[api][schedules][rest]") {
  Dispatcher d;
  RestRouter router(d);
  CHECK(router.match("POST", "/v1/schedules").value().method->full_name ==
        "svc.v1.Schedules/Create");
  CHECK(router.match("GET", "/v1/schedules/nightly").value().method->full_name ==
        "svc.v1.Schedules/Get");
  CHECK(router.match("POST", "/v1/schedules/nightly:pause").value().method->full_name ==
        "svc.v1.Schedules/Pause");
  CHECK(router.match("POST", "/v1/schedules/nightly:resume").value().method->full_name ==
        "svc.v1.Schedules/Resume");
  auto run = router.match("POST", "/v1/schedules/nightly:run").value();
  CHECK(run.method->full_name == "svc.v1.Schedules/RunNow");
  CHECK(run.path_params.at(0).second == "nightly");
  CHECK(router.match("DELETE", "/v1/schedules/nightly").value().method->full_name ==
        "svc.v1.Schedules/Delete");
}
