// Cron lateness (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing): a
// per-second schedule ("* * * * * *", [schedules] allow_seconds) of /bin/true on a real svcd,
// N runs. For each run: how long after its due time svcd had created its task (the run's
// handled_at: the schedule's record and the task's PENDING row both committed), and how long
// after its due time the task's process was running (the task's running_at, sandbox set-up
// included). Timestamps are the API's, at millisecond resolution.
// Usage: bench_schedules [RUNS=100]   (root; a real svcd on a temp state dir)
#include <algorithm>
#include <iostream>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "api/client/client.hpp"
#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using google::protobuf::util::TimeUtil;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double ms(const google::protobuf::Timestamp& t) {
  return static_cast<double>(TimeUtil::TimestampToMilliseconds(t));
}

void row(const std::string& what, const std::vector<double>& v) {
  std::cout << fmt::format("| {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n", what, v.size(),
                           percentile(v, 0.5), percentile(v, 0.9), percentile(v, 0.99),
                           v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  if (!is_root()) {
    report_skip("bench_schedules needs root (real sandboxes)");
    return 0;
  }
  DaemonFixture::Options o;
  o.extra_config = fmt::format(
      "[node]\ncpus = 1000\nmemory = \"20Gi\"\n[schedules]\nallow_seconds = true\nhistory = {}\n",
      runs + 20);
  DaemonFixture d(o);
  d.start();
  std::filesystem::path layout = d.dir() / "layout";
  busybox_image().write_layout(layout, "bench/busybox:1");
  if (d.svctl({"image", "import", layout.string()}).exit_code != 0) {
    std::cerr << "bench_schedules: import failed\n" << d.log();
    return 1;
  }
  auto client = api::Client::connect(d.host(), "").value();
  v1::CreateScheduleRequest req;
  auto* s = req.mutable_schedule();
  s->set_name("tick");
  s->set_cron("* * * * * *");
  s->mutable_task()->set_image("bench/busybox:1");
  s->mutable_task()->add_args("true");
  s->mutable_task()->mutable_resources()->set_cpu_millis(100);
  s->mutable_task()->mutable_resources()->set_memory_bytes(16 << 20);
  {
    v1::Schedule out;
    auto c = client->context();
    auto st = client->schedules().Create(c.get(), req, &out);
    if (!st.ok()) {
      std::cerr << "bench_schedules: create: " << st.error_message() << "\n";
      return 1;
    }
  }
  // Waits for the runs (a bench may poll: nothing here is asserted).
  v1::Schedule got;
  const int warmup = 3;
  for (;;) {
    v1::GetScheduleRequest g;
    g.set_name("tick");
    auto c = client->context();
    if (!client->schedules().Get(c.get(), g, &got).ok()) return 1;
    if (got.last_runs_size() >= runs + warmup) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  {
    v1::DeleteScheduleRequest del;
    del.set_name("tick");
    v1::DeleteScheduleResponse r;
    auto c = client->context();
    client->schedules().Delete(c.get(), del, &r);
  }
  std::vector<double> created, running;
  int missed = 0, failed = 0;
  for (int i = warmup; i < got.last_runs_size() && static_cast<int>(created.size()) < runs; ++i) {
    const auto& r = got.last_runs(i);
    if (r.outcome() == v1::ScheduleRun::MISSED) ++missed;
    if (r.outcome() == v1::ScheduleRun::FAILED) ++failed;
    if (r.outcome() != v1::ScheduleRun::STARTED) continue;
    created.push_back(ms(r.handled_at()) - ms(r.scheduled_at()));
    v1::GetTaskRequest t;
    t.set_id(r.task_id());
    v1::Task task;
    auto c = client->context();
    if (client->tasks().Get(c.get(), t, &task).ok() && task.has_running_at())
      running.push_back(ms(task.running_at()) - ms(r.scheduled_at()));
  }
  std::cout << "\n### Cron lateness: a per-second schedule, " << runs << " runs\n\n";
  std::cout << "| after the due time (ms) | runs | p50 | p90 | p99 | max |\n";
  std::cout << "|---|---|---|---|---|---|\n";
  row("task created (schedule record + PENDING task committed)", created);
  row("task's process running (sandbox set up)", running);
  std::cout << "\nmissed: " << missed << ", failed to start: " << failed << "\n";
  return 0;
}
