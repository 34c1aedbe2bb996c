// Services benchmarks (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing).
// Driven by tests/bench/services.sh, which starts svcd with its ingress, deploys the services
// and builds the peers' bundle.
//
//   bench_services coldstart PORT PREFIX COUNT CASES_FILE PEER_PORT
//       Cold starts, interleaved round by round so load from elsewhere hits every case alike:
//       svc: GET / with Host PREFIX-<i>.localhost at the ingress, where service PREFIX-<i> has
//       zero instances: request sent -> full response (a fresh connection, as a new client);
//       its Server-Timing phases are collected too. Peers: each line of CASES_FILE is
//       "name<TAB>start command<TAB>stop command" ({id} replaced by a fresh id): the start
//       command runs the same server detached, then 127.0.0.1:PEER_PORT is polled (connect
//       every 100 us) and GET / read to its end: spawn -> full response. The stop command runs
//       untimed after each.
//   bench_services burst PORT HOST N
//       N requests at once at HOST (a service at zero): time until all are answered, statuses.
//   bench_services warm PORT HOST COUNT
//       Sequential requests to a warm instance: the latency without a cold start.
//   bench_services layout DIR TEST_HTTPD
//       Writes an OCI layout of bench/test-httpd:1 (busybox-static + svc-test-httpd as its
//       entrypoint) for `svctl image import`.
//   bench_services freeport
//       Prints a TCP port free on 127.0.0.1 now (for the peers' server).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/support/busybox_image.hpp"
#include "tests/support/http_burst.hpp"
#include "tests/support/http_client.hpp"

extern char** environ;

using namespace svc::test;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Case {
  std::string name;
  std::vector<std::string> start, stop;
};

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::vector<std::string> with_id(const std::vector<std::string>& argv, const std::string& id) {
  std::vector<std::string> out;
  for (std::string a : argv) {
    if (auto pos = a.find("{id}"); pos != std::string::npos) a.replace(pos, 4, id);
    out.push_back(a);
  }
  return out;
}

// Spawns argv with stdio on /dev/null; returns its exit status (waits).
int spawn_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct Stats {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  double q(double p) const { return quantile(v, p); }
  double mean() const {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  }
};

std::string ms(double x) {
  return x < 10 ? fmt::format("{:.2f} ms", x) : fmt::format("{:.1f} ms", x);
}

// Server-Timing "queue;dur=0.1, sandbox;dur=5.2, ..." -> name -> ms.
std::map<std::string, double> server_timing(const std::string& header) {
  std::map<std::string, double> out;
  std::regex item(R"(([a-z-]+);dur=([0-9.]+))");
  for (auto it = std::sregex_iterator(header.begin(), header.end(), item);
       it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = std::stod((*it)[2]);
  return out;
}

int coldstart(int port, const std::string& prefix, int count, const std::string& cases_file,
              int peer_port) {
  std::vector<Case> cases;
  std::ifstream in(cases_file);
  std::string line;
  while (std::getline(in, line)) {
    auto t1 = line.find('\t');
    auto t2 = line.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) continue;
    cases.push_back(Case{line.substr(0, t1), split_words(line.substr(t1 + 1, t2 - t1 - 1)),
                         split_words(line.substr(t2 + 1))});
  }
  Stats svc;
  std::map<std::string, Stats> phases;
  std::vector<Stats> peers(cases.size());
  int svc_failed = 0;
  std::vector<int> peer_failed(cases.size(), 0);
  for (int i = 1; i <= count; ++i) {
    std::string host = fmt::format("{}-{}.localhost", prefix, i);
    auto t0 = Clock::now();
    auto r = http_request(port, "GET", host, "/");
    double t = ms_since(t0);
    if (r && r->status == 200) {
      svc.add(t);
      for (const auto& [name, d] : server_timing(r->header("server-timing"))) phases[name].add(d);
    } else {
      ++svc_failed;
    }
    for (std::size_t c = 0; c < cases.size(); ++c) {
      std::string id = fmt::format("bench-cold-{}-{}-{}", ::getpid(), c, i);
      auto s0 = Clock::now();
      // The start command returns once the container runs (detached); then poll its port.
      bool started = spawn_wait(with_id(cases[c].start, id)) == 0;
      bool up = false;
      while (started && ms_since(s0) < 10'000) {
        if (can_connect(peer_port)) {
          up = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      std::optional<HttpResponse> pr;
      if (up) pr = http_request(peer_port, "GET", "localhost", "/");
      double pt = ms_since(s0);
      if (pr && pr->status == 200)
        peers[c].add(pt);
      else
        ++peer_failed[c];
      spawn_wait(with_id(cases[c].stop, id));
      // The next run binds the same port: wait until it is free.
      auto w0 = Clock::now();
      while (can_connect(peer_port) && ms_since(w0) < 5'000)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  double base = svc.q(0.5);
  std::printf(
      "| cold start: request -> full response | p50 | p90 | p99 | mean | runs | p50 vs svc |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf(
      "| svc: request at the ingress, service at zero (%d failed) | %s | %s | %s | %s | %zu | "
      "1.00x |\n",
      svc_failed, ms(svc.q(0.5)).c_str(), ms(svc.q(0.9)).c_str(), ms(svc.q(0.99)).c_str(),
      ms(svc.mean()).c_str(), svc.v.size());
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Stats& p = peers[c];
    std::printf("| %s (%d failed) | %s | %s | %s | %s | %zu | %.2fx |\n", cases[c].name.c_str(),
                peer_failed[c], ms(p.q(0.5)).c_str(), ms(p.q(0.9)).c_str(), ms(p.q(0.99)).c_str(),
                ms(p.mean()).c_str(), p.v.size(), base > 0 ? p.q(0.5) / base : 0.0);
  }
  std::printf(
      "\n| svc's cold start phases (Server-Timing) | p50 | p90 | p99 |\n| --- | ---: | ---: | ---: "
      "|\n");
  for (const char* name : {"queue", "sandbox", "readiness", "first-byte"}) {
    const Stats& s = phases[name];
    std::printf("| %s | %s | %s | %s |\n", name, ms(s.q(0.5)).c_str(), ms(s.q(0.9)).c_str(),
                ms(s.q(0.99)).c_str());
  }
  return 0;
}

int burst(int port, const std::string& host, int n) {
  BurstResult r = http_burst(port, host, "/", n, std::chrono::seconds(60));
  std::printf(
      "%d requests at once: %d x 200, all answered in %.1f ms (latency p50 %.1f ms, p99 %.1f "
      "ms)%s\n",
      n, r.count(200), r.all_answered_ms, quantile(r.latency_ms, 0.5), quantile(r.latency_ms, 0.99),
      r.count(200) == n ? "" : ("; " + r.summary()).c_str());
  return 0;
}

int warm(int port, const std::string& host, int count) {
  Stats s;
  for (int i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    auto r = http_request(port, "GET", host, "/");
    if (r && r->status == 200) s.add(ms_since(t0));
  }
  std::printf(
      "| svc: request at the ingress, warm instance, new connection | %s | %s | %s | %s | %zu | "
      "|\n",
      ms(s.q(0.5)).c_str(), ms(s.q(0.9)).c_str(), ms(s.q(0.99)).c_str(), ms(s.mean()).c_str(),
      s.v.size());
  return 0;
}

int layout(const std::string& dir, const std::string& httpd) {
  ImageBuilder image = busybox_image();
  image.layer(LayerBuilder().file_from("bin/svc-test-httpd", httpd, 0755));
  image.config().entrypoint = {"/bin/svc-test-httpd"};
  image.config().cmd = {};
  image.write_layout(dir, "bench/test-httpd:1");
  return 0;
}

int freeport() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 1;
  std::printf("%d\n", ntohs(a.sin_port));
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 6 && a[0] == "coldstart")
    return coldstart(std::stoi(a[1]), a[2], std::stoi(a[3]), a[4], std::stoi(a[5]));
  if (a.size() == 4 && a[0] == "burst") return burst(std::stoi(a[1]), a[2], std::stoi(a[3]));
  if (a.size() == 4 && a[0] == "warm") return warm(std::stoi(a[1]), a[2], std::stoi(a[3]));
  if (a.size() == 3 && a[0] == "layout") return layout(a[1], a[2]);
  if (a.size() == 1 && a[0] == "freeport") return freeport();
  std::fprintf(stderr,
               "usage: bench_services coldstart PORT PREFIX COUNT CASES_FILE PEER_PORT\n"
               "       bench_services burst PORT HOST N\n"
               "       bench_services warm PORT HOST COUNT\n"
               "       bench_services layout DIR TEST_HTTPD\n"
               "       bench_services freeport\n");
  return 2;
}
