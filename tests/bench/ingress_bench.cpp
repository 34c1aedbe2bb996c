// Warm proxy benchmark (label bench; prints Markdown for docs/BENCHMARKS.md, asserts nothing).
// One svc-test-httpd instance on loopback serving 1 KiB responses (/bytes?n=1024), reached
//   direct   by the load generator itself,
//   svc      through the ingress proxy (in a child process of its own, as nginx is one,
//            `threads` io threads, the instance added as a ready instance with a free slot for
//            every connection),
//   nginx    through Debian's nginx as a reverse proxy (the same number of workers, upstream
//            keep-alive, the X-Forwarded-* headers svc also adds).
// Two measurements per target, rounds interleaved so drift on a shared machine hits all alike:
//   1. saturation: wrk, keep-alive, C connections, D seconds: requests per second;
//   2. latency at half of the slowest target's saturation rate: a paced open-loop generator
//      (requests scheduled at fixed intervals on keep-alive connections; latency from the
//      scheduled time, so a stall is not hidden), p50/p90/p99 — the proxies' added latency is
//      theirs minus direct's.
// Usage: bench_ingress [SECONDS=5] [ROUNDS=3] [THREADS=1] [CONNECTIONS=16]
// Run it under `flock /tmp/svc-bench.lock` so two engineers' benchmarks never overlap.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/fs.hpp"
#include "scheduler/ingress/proxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_httpd.hpp"

using namespace svc;
using namespace svc::test;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kPath = "/bytes?n=1024";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool wait_port(int port) {
  for (int i = 0; i < 500; ++i) {
    int fd = connect_to(port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// --- the paced open-loop generator --------------------------------------------------------------

struct Conn {
  int fd = -1;
  bool busy = false;
  Steady::time_point scheduled{};
  std::string buf;
};

// Latencies in microseconds of requests sent at `rate` per second for `seconds` (after a
// half-second warm-up that is not recorded), on `conns` keep-alive connections.
std::vector<double> paced(int port, double rate, double seconds, int conns) {
  std::string request = std::string("GET ") + kPath +
                        " HTTP/1.1\r\nHost: hello.localhost\r\nUser-Agent: bench\r\n\r\n";
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> cs(static_cast<std::size_t>(conns));
  for (std::size_t i = 0; i < cs.size(); ++i) {
    cs[i].fd = connect_to(port);
    if (cs[i].fd < 0) {
      std::cerr << "bench_ingress: connect to " << port << ": " << std::strerror(errno) << "\n";
      std::exit(1);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  const auto interval =
      std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto start = Steady::now();
  const auto record_from = start + 500ms;
  const auto end = record_from + std::chrono::duration_cast<Steady::duration>(
                                     std::chrono::duration<double>(seconds));
  auto next = start;
  std::deque<Steady::time_point> pending;
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(rate * seconds) + 16);
  std::size_t idle_hint = 0;
  auto dispatch = [&] {
    while (!pending.empty()) {
      std::size_t k = 0;
      for (; k < cs.size(); ++k)
        if (!cs[(idle_hint + k) % cs.size()].busy) break;
      if (k == cs.size()) return;
      Conn& c = cs[(idle_hint + k) % cs.size()];
      idle_hint = (idle_hint + k + 1) % cs.size();
      c.busy = true;
      c.scheduled = pending.front();
      pending.pop_front();
      if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
        std::cerr << "bench_ingress: send failed\n";
        std::exit(1);
      }
    }
  };
  epoll_event events[64];
  char tmp[16384];
  for (;;) {
    auto now = Steady::now();
    if (now >= end) break;
    while (next <= now) {
      pending.push_back(next);
      next += interval;
    }
    dispatch();
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next - Steady::now());
    timespec ts{0, std::max<long>(0, static_cast<long>(wait.count()))};
    ts.tv_sec = ts.tv_nsec / 1'000'000'000;
    ts.tv_nsec %= 1'000'000'000;
    int n = ::epoll_pwait2(ep, events, 64, &ts, nullptr);
    for (int i = 0; i < n; ++i) {
      Conn& c = cs[events[i].data.u64];
      ssize_t r = ::recv(c.fd, tmp, sizeof tmp, 0);
      if (r <= 0) {
        std::cerr << "bench_ingress: the server on port " << port << " closed a connection\n";
        std::exit(1);
      }
      c.buf.append(tmp, static_cast<std::size_t>(r));
      auto head_end = c.buf.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      auto cl = c.buf.find("Content-Length: ");
      if (cl == std::string::npos || cl > head_end) {
        std::cerr << "bench_ingress: a response without Content-Length:\n" << c.buf << "\n";
        std::exit(1);
      }
      std::size_t len = std::strtoul(c.buf.c_str() + cl + 16, nullptr, 10);
      if (c.buf.size() < head_end + 4 + len) continue;
      auto done = Steady::now();
      if (c.scheduled >= record_from)
        out.push_back(std::chrono::duration<double, std::micro>(done - c.scheduled).count());
      c.buf.erase(0, head_end + 4 + len);
      c.busy = false;
    }
  }
  for (auto& c : cs) ::close(c.fd);
  ::close(ep);
  return out;
}

// --- wrk at saturation -------------------------------------------------------------------------

double wrk_rate(int port, double seconds, int conns) {
  auto r = run({"wrk", "-t1", "-c" + std::to_string(conns),
                "-d" + std::to_string(static_cast<int>(seconds)) + "s", "-H",
                "Host: hello.localhost", "http://127.0.0.1:" + std::to_string(port) + kPath},
               std::chrono::seconds(static_cast<int>(seconds) + 30));
  std::smatch m;
  if (r.exit_code != 0 || !std::regex_search(r.out, m, std::regex("Requests/sec:\\s+([0-9.]+)"))) {
    std::cerr << "bench_ingress: wrk failed: " << r.out << r.err << "\n";
    std::exit(1);
  }
  if (r.out.find("Non-2xx") != std::string::npos ||
      r.out.find("Socket errors") != std::string::npos)
    std::cerr << "bench_ingress: wrk saw errors on port " << port << ":\n" << r.out << "\n";
  return std::stod(m[1]);
}

// --- the svc proxy's control plane: nothing to decide here ---------------------------------------

class BenchControlPlane final : public ingress::ControlPlane {
 public:
  std::atomic<bool> ready{false};
  void on_demand(const std::string&, std::size_t) override {}
  void on_ready(const std::string&, ingress::SteadyTime) override { ready = true; }
  void on_not_ready(const std::string& id, std::string why) override {
    std::cerr << "bench_ingress: instance " << id << " not ready: " << why << "\n";
    std::exit(1);
  }
  void on_drained(const std::string&) override {}
  void on_busy(const std::string&, bool, ingress::SteadyTime) override {}
  void on_upstream_error(const std::string& id, std::string why) override {
    std::cerr << "bench_ingress: upstream error on " << id << ": " << why << "\n";
  }
  void on_request(const ingress::RequestRecord&) override {}
};

std::string nginx_conf(const std::string& dir, int listen, int upstream, int workers) {
  std::ostringstream c;
  c << "worker_processes " << workers << ";\n"
    << "daemon off;\nuser root;\npid " << dir << "/nginx.pid;\n"
    << "error_log " << dir << "/error.log warn;\n"
    << "events { worker_connections 4096; }\n"
    // nginx ends a keep-alive connection after 1,000 requests by default (client and upstream
    // side): neither svc nor the load generators do, so nor does it here.
    << "http {\n  access_log off;\n  keepalive_requests 100000000;\n"
    << "  client_body_temp_path " << dir << "/body;\n  proxy_temp_path " << dir << "/proxy;\n"
    << "  fastcgi_temp_path " << dir << "/fastcgi;\n  uwsgi_temp_path " << dir << "/uwsgi;\n"
    << "  scgi_temp_path " << dir << "/scgi;\n"
    << "  upstream app { server 127.0.0.1:" << upstream
    << "; keepalive 64; keepalive_requests 100000000; }\n"
    << "  server {\n    listen 127.0.0.1:" << listen << ";\n"
    << "    location / {\n      proxy_pass http://app;\n      proxy_http_version 1.1;\n"
    << "      proxy_set_header Connection \"\";\n      proxy_set_header Host $http_host;\n"
    << "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
    << "      proxy_set_header X-Forwarded-Proto $scheme;\n"
    << "      proxy_set_header X-Forwarded-Host $http_host;\n    }\n  }\n}\n";
  return c.str();
}

}  // namespace

// The child's part: svc's proxy in front of the instance at app_port, until stop_fd reads EOF.
// Its port goes to port_fd (0 if it could not start). Returns the exit code.
int run_proxy(int app_port, int threads, int port_fd, int stop_fd) {
  SystemClock clock;
  BenchControlPlane cp;
  ingress::ProxyOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = threads;
  auto proxy = ingress::Proxy::start(options, cp, clock);
  int port = 0;
  if (!proxy) {
    std::cerr << "bench_ingress: " << proxy.error().message() << "\n";
    (void)!::write(port_fd, &port, sizeof port);
    return 1;
  }
  (*proxy)->set_route(ingress::ServiceRoute{"hello", {{"hello-00001", 100, ""}}, 1000, 30s});
  ingress::InstanceEndpoint ep;
  ep.id = "hello-00001-bench";
  ep.service = "hello";
  ep.revision = "hello-00001";
  ep.port = static_cast<std::uint16_t>(app_port);
  ep.concurrency = 10'000;  // never the limit here: this measures the proxy, not admission
  ep.make_socket = []() -> Result<UniqueFd> {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_errno("socket");
    return UniqueFd(fd);
  };
  (*proxy)->add_instance(ep, ingress::Readiness{});
  while (!cp.ready) std::this_thread::sleep_for(1ms);
  port = (*proxy)->port();
  (void)!::write(port_fd, &port, sizeof port);
  for (;;) {  // until EOF: the parent closed its end (or died)
    char c;
    ssize_t n = ::read(stop_fd, &c, 1);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  (*proxy)->stop(1s);
  return 0;
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 5;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  int conns = argc > 4 ? std::atoi(argv[4]) : 16;
  for (const char* tool : {"wrk", "nginx"}) {
    if (run({"sh", "-c", std::string("command -v ") + tool}).exit_code != 0) {
      std::cout << "bench_ingress: skipped: " << tool
                << " is not installed (packaging/install-deps.sh)\n";
      return 77;  // ctest: skipped, not passed
    }
  }
  std::string load_before = loadavg();

  TestHttpd app;
  if (!app.start()) {
    std::cerr << "bench_ingress: svc-test-httpd did not start: " << app.log() << "\n";
    return 1;
  }
  // svc's proxy runs in a process of its own, as nginx does: the paced generator below must not
  // share a process (its allocator, its scheduling) with one proxy and not the other.
  int port_pipe[2], stop_pipe[2];
  if (::pipe2(port_pipe, O_CLOEXEC) != 0 || ::pipe2(stop_pipe, O_CLOEXEC) != 0) {
    std::cerr << "bench_ingress: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  pid_t proxy_pid = ::fork();
  if (proxy_pid < 0) {
    std::cerr << "bench_ingress: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (proxy_pid == 0) {
    ::close(port_pipe[0]);
    ::close(stop_pipe[1]);
    _exit(run_proxy(app.port(), threads, port_pipe[1], stop_pipe[0]));
  }
  ::close(port_pipe[1]);
  ::close(stop_pipe[0]);
  int proxy_port = 0;
  if (::read(port_pipe[0], &proxy_port, sizeof proxy_port) != sizeof proxy_port ||
      proxy_port <= 0) {
    std::cerr << "bench_ingress: svc's proxy did not start\n";
    ::waitpid(proxy_pid, nullptr, 0);
    return 1;
  }
  ::close(port_pipe[0]);
  auto stop_proxy = [&] {
    if (stop_pipe[1] < 0) return;
    ::close(stop_pipe[1]);  // EOF: the proxy stops
    stop_pipe[1] = -1;
    ::waitpid(proxy_pid, nullptr, 0);
  };

  TempDir dir("svc-bench-nginx-");
  int nginx_port = free_port();
  {
    std::ofstream conf(dir.path() / "nginx.conf");
    conf << nginx_conf(dir.path().string(), nginx_port, app.port(), threads);
  }
  Background nginx({"nginx", "-p", dir.path().string(), "-c", (dir.path() / "nginx.conf").string()},
                   (dir.path() / "nginx.out").string());
  if (!wait_port(nginx_port)) {
    std::cerr << "bench_ingress: nginx did not listen\n";
    stop_proxy();
    return 1;
  }

  const std::vector<std::pair<std::string, int>> targets = {
      {"direct", app.port()}, {"svc ingress", proxy_port}, {"nginx", nginx_port}};
  std::map<std::string, std::vector<double>> rate, p50, p90, p99;
  // Warm-up: every path, connection pools filled.
  for (auto& [name, port] : targets) (void)paced(port, 2000, 0.5, conns);
  double half = 0;
  for (int r = 0; r < rounds; ++r) {
    for (auto& [name, port] : targets) rate[name].push_back(wrk_rate(port, seconds, conns));
    // Half of the slowest target's saturation: at half of direct's, a proxy that saturates
    // lower would be measured queueing, not adding latency.
    if (r == 0) {
      half = rate["direct"].front();
      for (auto& [name, port] : targets) half = std::min(half, rate[name].front());
      half /= 2;
    }
    for (auto& [name, port] : targets) {
      auto lat = paced(port, half, seconds, conns);
      p50[name].push_back(percentile(lat, 0.50));
      p90[name].push_back(percentile(lat, 0.90));
      p99[name].push_back(percentile(lat, 0.99));
    }
  }
  std::string load_after = loadavg();
  nginx.stop(SIGQUIT, 10s);
  stop_proxy();

  double direct_rate = median(rate["direct"]);
  std::cout << "### Warm proxy: 1 KiB responses, keep-alive, " << rounds << " rounds of " << seconds
            << " s (medians)\n\n";
  std::cout
      << "Proxy threads / nginx workers: " << threads << "; " << conns
      << " connections; latency at " << static_cast<long>(half)
      << " requests/s (half of the slowest target's saturation rate). Load average before/after: "
      << load_before << " / " << load_after << ".\n\n";
  std::cout << "| target | requests/s (wrk) | vs direct | p50 | p90 | p99 | added p50 | added "
               "p99 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (auto& [name, port] : targets) {
    double r = median(rate[name]);
    double a50 = median(p50[name]) - median(p50["direct"]);
    double a99 = median(p99[name]) - median(p99["direct"]);
    std::cout << "| " << name << " | " << static_cast<long>(r) << " | "
              << std::to_string(r / direct_rate).substr(0, 4) << "x | "
              << static_cast<long>(median(p50[name])) << " us | "
              << static_cast<long>(median(p90[name])) << " us | "
              << static_cast<long>(median(p99[name])) << " us | "
              << (name == "direct" ? std::string("-")
                                   : std::to_string(static_cast<long>(a50)) + " us")
              << " | "
              << (name == "direct" ? std::string("-")
                                   : std::to_string(static_cast<long>(a99)) + " us")
              << " |\n";
  }
  std::cout << "\nRaw rates per round:";
  for (auto& [name, port] : targets) {
    std::cout << " " << name << " [";
    for (double v : rate[name]) std::cout << " " << static_cast<long>(v);
    std::cout << " ]";
  }
  std::cout << "\n";
  return 0;
}
