// Task benchmarks (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing):
//   1. a task of /bin/true end to end through svcd's API (Run + Wait), split into phases from the
//      task's own timestamps and svcd's per-sandbox timings;
//   2. 50 tasks submitted at once: tasks per second until all are STOPPED;
//   3. N idle tasks (`sleep`) started with no resource flags on the node as it is (all CPUs,
//      90 % of RAM, the default small requests): how many are admitted and running, what the
//      node's ledger says, svcd's memory and the shims'.
// Usage: bench_tasks [RUNS=100] [IDLE=1000]   (root; a real svcd on a temp state dir)
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <numeric>
#include <regex>
#include <sstream>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "api/client/client.hpp"
#include "common/fs.hpp"
#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"

using namespace svc;
using namespace svc::test;
using Clock = std::chrono::steady_clock;
using google::protobuf::util::TimeUtil;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double ts_ms(const google::protobuf::Timestamp& t) {
  return static_cast<double>(TimeUtil::TimestampToMilliseconds(t));
}

// "VmRSS:" etc. from /proc/<pid>/status, in KiB.
long status_kib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  return 0;
}

long pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
  return 0;
}

std::vector<pid_t> shim_pids() {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream comm(e.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c == "svc-shim") out.push_back(std::stoi(name));
  }
  return out;
}

v1::RunTaskRequest true_task(const std::string& image, const std::string& cmd = "true",
                             bool rm = true) {
  v1::RunTaskRequest req;
  auto* s = req.mutable_spec();
  s->set_image(image);
  s->add_args("/bin/sh");
  s->add_args("-c");
  s->add_args(cmd);
  s->set_auto_remove(rm);
  return req;  // no resources: the node's default requests, no CPU quota
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  int idle = argc > 2 ? std::atoi(argv[2]) : 1000;
  if (!is_root()) {
    report_skip("bench_tasks needs root (real sandboxes)");
    return 0;
  }
  // The node as it is: no [node] keys, so the admission is what a user gets by default.
  DaemonFixture d;
  d.start();
  // The image, on disk before anything is timed (the issue measures starts, not pulls).
  std::filesystem::path layout = d.dir() / "layout";
  busybox_image().write_layout(layout, "bench/busybox:1");
  if (d.svctl({"image", "import", layout.string()}).exit_code != 0) {
    std::cerr << "bench_tasks: import failed\n" << d.log();
    return 1;
  }
  const std::string image = "bench/busybox:1";
  auto client = api::Client::connect(d.host(), "").value();

  // 1. One task at a time: Run, then Wait (which, for --rm tasks, also removes it).
  std::vector<double> api_ms, total_ms, queue_ms, sandbox_ms, run_ms;
  for (int i = 0; i < runs + 5; ++i) {
    auto t0 = Clock::now();
    v1::Task created, done;
    auto c1 = client->context();
    if (!client->tasks().Run(c1.get(), true_task(image), &created).ok()) return 1;
    double api = ms_since(t0);
    v1::WaitTaskRequest w;
    w.set_id(created.id());
    auto c2 = client->context();
    if (!client->tasks().Wait(c2.get(), w, &done).ok()) return 1;
    double total = ms_since(t0);
    if (i < 5) continue;  // warm-up
    api_ms.push_back(api);
    total_ms.push_back(total);
    queue_ms.push_back(ts_ms(done.starting_at()) - ts_ms(done.created_at()));
    sandbox_ms.push_back(ts_ms(done.running_at()) - ts_ms(done.starting_at()));
    run_ms.push_back(ts_ms(done.stopped_at()) - ts_ms(done.running_at()));
  }
  // svcd's own split of "sandbox": its debug log line per create.
  std::map<std::string, std::vector<double>> parts;
  {
    std::istringstream log(d.log());
    std::string line;
    std::regex part(R"(([a-z][a-z -]*?) ([0-9]+\.[0-9]+))");
    while (std::getline(log, line)) {
      auto at = line.find("create sandbox");
      if (at == std::string::npos) continue;
      std::string rest = line.substr(line.find("ms:", at) + 3);
      for (std::sregex_iterator it(rest.begin(), rest.end(), part), end; it != end; ++it) {
        std::string name = (*it)[1];
        while (!name.empty() && name.front() == ' ') name.erase(0, 1);
        parts[name].push_back(std::stod((*it)[2]));
      }
    }
  }
  std::cout << "### One task of /bin/true through the API (" << runs << " runs)\n\n";
  std::cout << "| phase | median (ms) | p95 (ms) |\n| --- | ---: | ---: |\n";
  auto row = [](const std::string& name, const std::vector<double>& v) {
    std::cout << fmt::format("| {} | {:.1f} | {:.1f} |\n", name, percentile(v, 0.5),
                             percentile(v, 0.95));
  };
  row("Run answered (task stored as PENDING)", api_ms);
  row("PENDING -> STARTING (admission, image resolved)", queue_ms);
  row("STARTING -> RUNNING (sandbox created and started)", sandbox_ms);
  for (const auto& [name, v] : parts) row("  of which: " + name, v);
  row("RUNNING -> STOPPED (exec, exit, exit record)", run_ms);
  row("**total: Run to Wait answered**", total_ms);

  // 2. 50 at once.
  {
    const int kAtOnce = 50;
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    std::vector<std::string> ids(kAtOnce);
    for (int i = 0; i < kAtOnce; ++i) {
      threads.emplace_back([&, i] {
        v1::Task created;
        auto c = client->context();
        if (client->tasks().Run(c.get(), true_task(image), &created).ok())
          ids[static_cast<std::size_t>(i)] = created.id();
      });
    }
    for (auto& t : threads) t.join();
    double submitted = ms_since(t0);
    for (const auto& id : ids) {
      v1::WaitTaskRequest w;
      w.set_id(id);
      v1::Task done;
      auto c = client->context();
      (void)client->tasks().Wait(c.get(), w, &done);
    }
    double all = ms_since(t0);
    std::cout << fmt::format(
        "\n### 50 tasks at once\n\nAll 50 submitted in {:.0f} ms and STOPPED after {:.0f} ms: "
        "**{:.0f} tasks/s**.\n",
        submitted, all, 50.0 / (all / 1000.0));
  }

  // 3. Idle tasks: svcd's memory and the shims'.
  if (idle > 0) {
    long rss0 = status_kib(d.pid(), "VmRSS:");
    auto t0 = Clock::now();
    std::vector<std::string> ids;
    for (int i = 0; i < idle; ++i) {
      auto req = true_task(image, "exec sleep 3600", false);
      v1::Task created;
      auto c = client->context();
      auto st = client->tasks().Run(c.get(), req, &created);
      if (!st.ok()) {
        std::cerr << "bench_tasks: task " << i << ": " << st.error_message() << "\n";
        break;
      }
      ids.push_back(created.id());
    }
    // Until every one is RUNNING.
    int running = 0;
    for (int tries = 0; tries < 600; ++tries) {
      v1::ListTasksRequest lr;
      lr.add_states(v1::Task::RUNNING);
      lr.set_page_size(1000);
      v1::ListTasksResponse resp;
      auto c = client->context();
      (void)client->tasks().List(c.get(), lr, &resp);
      running = resp.tasks_size();
      if (running >= static_cast<int>(ids.size())) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    double started_s = ms_since(t0) / 1000.0;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    {
      v1::NodeInfoRequest nr;
      v1::NodeInfo info;
      auto c = client->context();
      if (client->node().Info(c.get(), nr, &info).ok()) {
        const auto& cap = info.capacity();
        std::cout << fmt::format(
            "\n### {} idle tasks started with no flags\n\n{} of {} admitted and RUNNING on "
            "the node as it is ({} vCPU and {:.1f} GiB allocatable). The ledger: {} admitted, "
            "requests {} vCPU and {:.1f} GiB, {} without a CPU limit, memory limits {:.1f} "
            "GiB; free {} vCPU and {:.1f} GiB.\n",
            idle, running, idle, info.allocatable_cpu_millis() / 1000.0,
            static_cast<double>(info.allocatable_memory_bytes()) / (1 << 30), cap.admitted(),
            cap.requested_cpu_millis() / 1000.0,
            static_cast<double>(cap.requested_memory_bytes()) / (1 << 30), cap.without_cpu_limit(),
            static_cast<double>(cap.limited_memory_bytes()) / (1 << 30),
            cap.free_cpu_millis() / 1000.0,
            static_cast<double>(cap.free_memory_bytes()) / (1 << 30));
      }
    }
    long rss1 = status_kib(d.pid(), "VmRSS:");
    long pss_svcd = pss_kib(d.pid());
    auto shims = shim_pids();
    long shim_rss = 0, shim_pss = 0;
    for (pid_t p : shims) {
      shim_rss += status_kib(p, "VmRSS:");
      shim_pss += pss_kib(p);
    }
    std::cout << fmt::format(
        "\n### {} idle tasks (`sleep 3600`)\n\n{} RUNNING after {:.1f} s. svcd VmRSS {:.1f} MiB "
        "(was {:.1f} MiB with none: **{:.1f} KiB per task**), Pss {:.1f} MiB. {} shims: VmRSS "
        "{:.0f} KiB each (median of the sum), **Pss {:.0f} KiB each**. Host memory per running "
        "task (svcd's share + its shim's Pss): **{:.0f} KiB**.\n",
        ids.size(), running, started_s, rss1 / 1024.0, rss0 / 1024.0,
        ids.empty() ? 0.0 : static_cast<double>(rss1 - rss0) / static_cast<double>(ids.size()),
        pss_svcd / 1024.0, shims.size(),
        shims.empty() ? 0.0 : static_cast<double>(shim_rss) / static_cast<double>(shims.size()),
        shims.empty() ? 0.0 : static_cast<double>(shim_pss) / static_cast<double>(shims.size()),
        (ids.empty() ? 0.0 : static_cast<double>(rss1 - rss0) / static_cast<double>(ids.size())) +
            (shims.empty() ? 0.0
                           : static_cast<double>(shim_pss) / static_cast<double>(shims.size())));
    auto r0 = Clock::now();
    for (const auto& id : ids) {
      v1::DeleteTaskRequest del;
      del.set_id(id);
      del.set_force(true);
      v1::DeleteTaskResponse resp;
      auto c = client->context();
      (void)client->tasks().Delete(c.get(), del, &resp);
    }
    std::cout << fmt::format("Removing them all (rm -f): {:.1f} s.\n", ms_since(r0) / 1000.0);
  }
  return 0;
}
