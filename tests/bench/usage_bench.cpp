// Usage benchmarks (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing):
//   1. `svctl usage --by service`, `--by day` (and the other groupings and windows) against a real
//      svcd whose svcd.db holds RECORDS synthetic closed usage records, beside the peers measured
//      in the same run: the same sums by a plain GROUP BY over the records (sqlite3's CLI on the
//      same file: what a store without rollups does) and `svctl node info` (the CLI's floor: one
//      process start and one API round trip);
//   2. the record's write path: what opening a usage record in the task's RUNNING transaction
//      adds to that write, beside opening it in a transaction of its own.
// Usage: bench_usage [RECORDS=1000000] [RUNS=20]   (root: svcd runs sandboxes)
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <random>

#include "common/fs.hpp"
#include "daemon/billing/task_recorder.hpp"
#include "daemon/store/task_store.hpp"
#include "daemon/store/usage_store.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using Steady = std::chrono::steady_clock;

namespace {

double ms_since(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

constexpr std::int64_t kDay = billing::kMsPerDay;

// RECORDS runs over the 30 days before now: 70 % tasks (200 names), 30 % instances of 20
// services with 3 revisions each, half of them in request mode; labels team (5 values) and env.
void fill(daemon::Store& store, int records) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pct(0, 99);
  std::uniform_int_distribution<int> name(0, 199);
  std::uniform_int_distribution<int> svc(0, 19);
  std::uniform_int_distribution<std::int64_t> length(500, 2 * 3'600'000);
  std::int64_t now = unix_millis(std::chrono::system_clock::now());
  std::int64_t from = (now / kDay - 30) * kDay;
  std::uniform_int_distribution<std::int64_t> start(from, now - 3'600'000 * 2);
  const char* teams[] = {"data", "web", "ops", "ml", "billing"};
  int done = 0;
  while (done < records) {
    auto tx = store.begin().value();
    for (int i = 0; i < 10'000 && done < records; ++i, ++done) {
      billing::UsageRecord r;
      r.start_ms = start(rng);
      r.end_ms = r.start_ms + length(rng);
      r.checkpoint_ms = *r.end_ms;
      r.cpu_request_millis = r.cpu_limit_millis = 250 * (1 + pct(rng) % 8);
      r.memory_request_bytes = r.memory_limit_bytes = (128ULL << 20) * (1 + pct(rng) % 8);
      r.measured.cpu_ms = (*r.end_ms - r.start_ms) * (pct(rng) + 1) / 100;
      r.measured.memory_peak_bytes = r.memory_limit_bytes / 2;
      r.labels["team"] = teams[pct(rng) % 5];
      if (pct(rng) < 30) r.labels["env"] = "prod";
      if (pct(rng) < 70) {
        r.id = fmt::format("task:bench{:07}", done);
        r.owner.kind = billing::RunKind::kTask;
        r.owner.task_id = fmt::format("bench{:07}", done);
        r.owner.name = fmt::format("job-{:03}", name(rng));
        r.minimum_ms = 60'000;
      } else {
        int s = svc(rng);
        int rev = 1 + pct(rng) % 3;
        std::string instance = fmt::format("svc{:02}-{:05}-{:07}", s, rev, done);
        r.id = "instance:" + instance;
        r.owner.kind = billing::RunKind::kInstance;
        r.owner.service = fmt::format("svc{:02}", s);
        r.owner.revision = fmt::format("svc{:02}-{:05}", s, rev);
        r.owner.instance = instance;
        r.mode = s % 2 ? billing::ServiceMode::kRequest : billing::ServiceMode::kInstance;
        r.measured.requests = static_cast<std::uint64_t>(pct(rng)) * 100;
        billing::BusySeconds busy(r.start_ms);
        for (int k = 0; k < 5; ++k) {
          std::int64_t at = r.start_ms + (*r.end_ms - r.start_ms) * k / 5;
          busy.busy(at);
          busy.idle(at + pct(rng) * 50);
        }
        r.busy = busy.state();
      }
      if (!daemon::SqlUsageStore::insert_closed_in(tx, std::move(r))) {
        std::cerr << "bench_usage: insert failed\n";
        std::exit(1);
      }
    }
    if (!tx.commit()) std::exit(1);
  }
}

struct Case {
  Case(std::string n, std::vector<std::string> a) : name(std::move(n)), argv(std::move(a)) {}
  std::string name;
  std::vector<std::string> argv;
  std::vector<double> ms;
  int rows = 0;  // lines of output, for the table
};

// Task writes of RUNNING: with the record opened in the same transaction (what svcd does), without
// a record, and with the record opened in a transaction of its own (what it would cost otherwise).
void write_path(const std::filesystem::path& dir, int n) {
  std::filesystem::create_directories(dir);
  auto store = daemon::Store::open(dir / "svcd.db").value();
  SystemClock clock;
  billing::TaskUsageRecorder recorder(billing::Policy{}, clock);
  daemon::SqlTaskStore with(*store, &recorder);
  daemon::SqlTaskStore without(*store);
  daemon::SqlUsageStore usage(*store);
  std::vector<double> a, b, c;
  for (int i = 0; i < n + 50; ++i) {
    for (int variant = 0; variant < 3; ++variant) {
      scheduler::Task t;
      t.id = fmt::format("w{}-{}", variant, i);
      t.spec.name = t.id;
      t.spec.image = "busybox:1";
      t.spec.cpu_millis = 1000;
      t.spec.memory_bytes = 512ULL << 20;
      t.spec.labels["team"] = "data";
      t.created_at = std::chrono::system_clock::now();
      daemon::SqlTaskStore& ts = variant == 0 ? with : without;
      if (!ts.insert(t)) std::exit(1);
      t.state = scheduler::TaskState::kRunning;
      t.running_at = std::chrono::system_clock::now();
      auto t0 = Steady::now();
      if (!ts.update(t)) std::exit(1);
      if (variant == 2 && !usage.open(billing::TaskUsageRecorder::record_for(t, recorder.policy())))
        std::exit(1);
      double ms = ms_since(t0);
      if (i < 50) continue;  // warm-up
      (variant == 0 ? a : variant == 1 ? b : c).push_back(ms);
    }
  }
  double base = percentile(b, 0.5);
  std::cout << "\n### The record's write path (" << n << " task starts each, interleaved)\n\n"
            << "The write of a task's RUNNING state in svcd.db (WAL, synchronous=NORMAL, as svcd "
               "opens it):\n\n"
            << "| write | median (ms) | p95 (ms) | added to a task start (median) |\n"
            << "| --- | ---: | ---: | ---: |\n";
  auto row = [&](const char* what, const std::vector<double>& v) {
    std::cout << fmt::format("| {} | {:.3f} | {:.3f} | {:+.3f} ms |\n", what, percentile(v, 0.5),
                             percentile(v, 0.95), percentile(v, 0.5) - base);
  };
  row("RUNNING, no usage record (peer: the write without billing)", b);
  row("**RUNNING + the usage record opened in the same transaction (svcd)**", a);
  row("RUNNING, then the record opened in a transaction of its own", c);
}

}  // namespace

int main(int argc, char** argv) {
  int records = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  if (!is_root()) {
    test::report_skip("bench_usage needs root (svcd runs sandboxes)");
    return 0;
  }
  bool have_sqlite3 = run({"sh", "-c", "command -v sqlite3"}).exit_code == 0;
  DaemonFixture d;
  std::filesystem::create_directories(d.state_dir());
  auto t0 = Steady::now();
  {
    auto store = daemon::Store::open(d.state_dir() / "svcd.db").value();
    fill(*store, records);
  }
  double fill_s = ms_since(t0) / 1000;
  std::uintmax_t db_bytes = std::filesystem::file_size(d.state_dir() / "svcd.db");
  d.start();

  const std::string db = (d.state_dir() / "svcd.db").string();
  const std::string sums =
      "count(*), sum(run_ms), sum(billed_seconds), sum(vcpu_milli_seconds), "
      "sum(memory_mib_seconds), sum(requests), sum(cpu_ms), sum(cost_nanos)";
  std::vector<Case> cases = {
      {"`svctl usage --by service`",
       {svctl_path(), "--host", d.host(), "usage", "--by", "service"}},
      {"`svctl usage --by day`", {svctl_path(), "--host", d.host(), "usage", "--by", "day"}},
      {"`svctl usage --by task` (200 names)", {svctl_path(), "--host", d.host(), "usage"}},
      {"`svctl usage --by label:team`",
       {svctl_path(), "--host", d.host(), "usage", "--by", "label:team"}},
      {"`svctl usage --by service --since 7d` (its partial day: whole hours from the hourly "
       "rollups, part of an hour from the records)",
       {svctl_path(), "--host", d.host(), "usage", "--by", "service", "--since", "7d"}},
      {"`svctl usage --by service --since 1h`",
       {svctl_path(), "--host", d.host(), "usage", "--by", "service", "--since", "1h"}},
      {"peer: `svctl node info` (CLI floor: process + one API call)",
       {svctl_path(), "--host", d.host(), "node", "info"}},
  };
  if (have_sqlite3) {
    cases.push_back(
        {"peer: sqlite3, plain GROUP BY service over the records",
         {"sqlite3", db,
          fmt::format("SELECT service, {} FROM usage_records GROUP BY service", sums)}});
    cases.push_back(
        {"peer: sqlite3, plain GROUP BY day over the records",
         {"sqlite3", db, fmt::format("SELECT day, {} FROM usage_records GROUP BY day", sums)}});
  }
  for (int i = 0; i < runs + 2; ++i) {
    for (auto& c : cases) {
      auto s = Steady::now();
      auto r = run(c.argv, std::chrono::seconds(120));
      double ms = ms_since(s);
      if (r.exit_code != 0) {
        std::cerr << "bench_usage: " << c.name << " failed: " << r.err << "\n" << d.log();
        return 1;
      }
      c.rows = static_cast<int>(std::count(r.out.begin(), r.out.end(), '\n'));
      if (i >= 2) c.ms.push_back(ms);  // two warm-up rounds
    }
  }
  double base = percentile(cases[0].ms, 0.5);
  std::cout
      << "## Usage\n\n"
      << fmt::format(
             "`build/tests/bench/bench_usage {} {}`: {} synthetic closed usage records over "
             "30 days (70 % task runs of 200 names, 30 % instances of 20 services x 3 "
             "revisions), written in {:.1f} s; svcd.db {:.0f} MiB. Each command is a new "
             "process against a running svcd, {} interleaved runs after 2 warm-up rounds.\n\n",
             records, runs, records, fill_s, static_cast<double>(db_bytes) / (1 << 20), runs)
      << "| command | median (ms) | p95 (ms) | vs `--by service` | output lines |\n"
      << "| --- | ---: | ---: | ---: | ---: |\n";
  for (const auto& c : cases)
    std::cout << fmt::format("| {} | {:.1f} | {:.1f} | {:.2f}x | {} |\n", c.name,
                             percentile(c.ms, 0.5), percentile(c.ms, 0.95),
                             percentile(c.ms, 0.5) / base, c.rows);
  d.stop();
  write_path(d.dir() / "write-path", 2000);
  return 0;
}
