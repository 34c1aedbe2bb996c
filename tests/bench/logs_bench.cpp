// Logs benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing): a task's
// stored output of N lines read back through `svctl logs` (gRPC) and through the REST stream
// with curl (NDJSON), the peer in the same run, each to /dev/null, interleaved; medians and the
// ratio. Both must deliver every line (checked once each, outside the timed runs).
// Usage: bench_logs [LINES=200000] [RUNS=5]   (root: a real svcd and sandbox)
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"

using namespace svc;
using namespace svc::test;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Runs a shell command line; its wall time in seconds, or -1 when it failed.
double timed(const std::string& command) {
  auto t0 = Clock::now();
  auto r = sh(command, std::chrono::minutes(5));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (r.exit_code != 0) {
    std::cerr << "bench_logs: failed (" << r.exit_code << "): " << command << "\n" << r.err;
    return -1;
  }
  return s;
}

std::size_t count_lines(const std::string& command) {
  auto r = sh(command + " | wc -l", std::chrono::minutes(5));
  return static_cast<std::size_t>(std::atol(r.out.c_str()));
}

}  // namespace

int main(int argc, char** argv) {
  long lines = argc > 1 ? std::atol(argv[1]) : 200000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  if (!is_root()) {
    report_skip("bench_logs needs root (a real sandbox prints the log)");
    return 0;
  }
  DaemonFixture d;
  d.start();
  std::filesystem::path layout = d.dir() / "layout";
  busybox_image().write_layout(layout, "bench/busybox:1");
  if (d.svctl({"image", "import", layout.string()}).exit_code != 0) {
    std::cerr << "bench_logs: import failed\n" << d.log();
    return 1;
  }
  // ~60-byte lines, as a chatty service writes them.
  std::string program = fmt::format(
      "awk 'BEGIN {{ for (i = 1; i <= {}; i++) printf \"line %07d of the log benchmark, a "
      "typical length\\n\", i }}'",
      lines);
  auto ran = d.svctl({"run", "--name", "talker", "bench/busybox:1", "--", "sh", "-c", program},
                     std::chrono::minutes(5));
  if (ran.exit_code != 0) {
    std::cerr << "bench_logs: the task failed\n" << ran.err << d.log();
    return 1;
  }
  std::string full_id =
      nlohmann::json::parse(d.svctl({"inspect", "talker", "-o", "json"}).out)["id"];

  std::string svctl = fmt::format("{} --host {} logs talker", svctl_path(), d.host());
  std::string curl = fmt::format("curl -sS --unix-socket {} http://svcd/v1/tasks/{}/logs",
                                 d.socket().string(), full_id);
  std::size_t via_svctl = count_lines(svctl), via_curl = count_lines(curl);
  if (via_svctl != static_cast<std::size_t>(lines) || via_curl != static_cast<std::size_t>(lines)) {
    std::cerr << "bench_logs: svctl gave " << via_svctl << " lines, curl " << via_curl << ", of "
              << lines << "\n";
    return 1;
  }
  std::vector<double> t_svctl, t_curl;
  for (int i = 0; i < runs + 1; ++i) {
    double a = timed(svctl + " >/dev/null");
    double b = timed(curl + " >/dev/null");
    if (a < 0 || b < 0) return 1;
    if (i == 0) continue;  // warm-up: page cache, connections
    t_svctl.push_back(a);
    t_curl.push_back(b);
  }
  double ms = median(t_svctl), mc = median(t_curl);
  std::cout << fmt::format(
      "### Logs: {} lines ({} runs each, interleaved, medians)\n\n"
      "| what | median (s) | ratio |\n| --- | ---: | --- |\n"
      "| `svctl logs` (gRPC) > /dev/null | {:.3f} | {:.2f}x curl |\n"
      "| curl REST `/v1/tasks/ID/logs` (NDJSON) > /dev/null | {:.3f} | 1.00x |\n",
      lines, runs, ms, ms / mc, mc);
  return 0;
}
