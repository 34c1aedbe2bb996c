#include "tests/support/http_burst.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace svc::test {

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  bool connected = false;
  std::size_t sent = 0;
  std::string in;
  bool done = false;
  Clock::time_point first_write{};
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The status of a complete response in buf ("HTTP/1.1 200 OK\r\n..."), 0 when there is none.
int status_of(const std::string& buf) {
  if (buf.size() < 12 || buf.compare(0, 5, "HTTP/") != 0) return 0;
  auto sp = buf.find(' ');
  if (sp == std::string::npos || sp + 4 > buf.size()) return 0;
  return std::atoi(buf.c_str() + sp + 1);
}

void raise_nofile(std::size_t need) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur >= need) return;
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, need);
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int BurstResult::answered() const {
  int n = 0;
  for (const auto& [status, count] : by_status) n += count;
  return n;
}

int BurstResult::count(int status) const {
  auto it = by_status.find(status);
  return it == by_status.end() ? 0 : it->second;
}

std::string BurstResult::summary() const {
  std::string s;
  for (const auto& [status, count] : by_status)
    s += fmt::format("{}{} x{}", s.empty() ? "" : ", ", status, count);
  s = fmt::format(
      "{} answered ({}); {} could not connect, {} got no response; all answered in "
      "{:.1f} ms",
      answered(), s.empty() ? "none" : s, connect_failed, no_response, all_answered_ms);
  for (const auto& e : errors) s += "\n  " + e;
  return s;
}

BurstResult http_burst(int port, const std::string& host_header, const std::string& path, int n,
                       std::chrono::milliseconds timeout) {
  BurstResult out;
  raise_nofile(static_cast<std::size_t>(n) + 64);
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: svc-http-burst\r\nConnection: "
      "close\r\n\r\n",
      path, host_header);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    out.errors.push_back(fmt::format("epoll_create1: {}", std::strerror(errno)));
    out.connect_failed = n;
    return out;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto note = [&](std::string e) {
    if (out.errors.size() < 5) out.errors.push_back(std::move(e));
  };

  // Connect them all first (the listen backlog holds what is not accepted yet), then write
  // every request in one go: the requests arrive together, not one per connect.
  std::vector<Conn> conns(static_cast<std::size_t>(n));
  int pending_connects = 0;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      note(fmt::format("socket: {}", std::strerror(errno)));
      ++out.connect_failed;
      c.done = true;
      continue;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (r == 0) {
      c.connected = true;
    } else if (errno == EINPROGRESS) {
      ++pending_connects;
    } else {
      note(fmt::format("connect: {}", std::strerror(errno)));
      ++out.connect_failed;
      ::close(c.fd);
      c.fd = -1;
      c.done = true;
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  auto deadline = Clock::now() + timeout;
  std::vector<epoll_event> events(1024);
  // Phase 1: wait for the connects (bounded by the deadline).
  while (pending_connects > 0 && Clock::now() < deadline) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), std::max(1, left));
    for (int e = 0; e < k; ++e) {
      Conn& c = conns[events[static_cast<std::size_t>(e)].data.u64];
      if (c.connected || c.done) continue;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      --pending_connects;
      if (err != 0) {
        note(fmt::format("connect: {}", std::strerror(err)));
        ++out.connect_failed;
        ::close(c.fd);
        c.fd = -1;
        c.done = true;
      } else {
        c.connected = true;
      }
    }
  }
  // Phase 2: every request written at once, then responses read as they come.
  Clock::time_point start = Clock::now();
  int open = 0;
  for (Conn& c : conns) {
    if (c.done) continue;
    if (!c.connected) {
      note("connect: timed out");
      ++out.connect_failed;
      ::close(c.fd);
      c.fd = -1;
      c.done = true;
      continue;
    }
    c.first_write = Clock::now();
    ssize_t w = ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (w > 0) c.sent = static_cast<std::size_t>(w);
    ++open;
  }
  Clock::time_point last_end = start;
  auto finish = [&](Conn& c, bool eof) {
    int status = status_of(c.in);
    if (status > 0 && eof) {
      ++out.by_status[status];
      Clock::time_point now = Clock::now();
      out.latency_ms.push_back(ms_between(c.first_write, now));
      last_end = std::max(last_end, now);
    } else {
      ++out.no_response;
      note(c.in.empty() ? std::string("closed before any response")
                        : fmt::format("incomplete response: {}", c.in.substr(0, 80)));
    }
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.done = true;
    --open;
  };
  char buf[16384];
  while (open > 0 && Clock::now() < deadline) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), std::max(1, left));
    for (int e = 0; e < k; ++e) {
      const epoll_event& ev = events[static_cast<std::size_t>(e)];
      Conn& c = conns[ev.data.u64];
      if (c.done) continue;
      if ((ev.events & EPOLLOUT) && c.sent < request.size()) {
        ssize_t w = ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<std::size_t>(w);
      }
      if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<std::size_t>(r));
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EINTR)) finish(c, r == 0);
          break;
        }
      } else if (c.sent >= request.size()) {
        // Only writable now: stop asking for EPOLLOUT.
        epoll_event mod{};
        mod.events = EPOLLIN | EPOLLRDHUP;
        mod.data.u64 = ev.data.u64;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &mod);
      }
    }
  }
  for (Conn& c : conns) {
    if (c.done) continue;
    ++out.no_response;
    note(fmt::format("timed out after {} ms with {} bytes", timeout.count(), c.in.size()));
    ::close(c.fd);
    c.fd = -1;
  }
  ::close(ep);
  out.all_answered_ms = ms_between(start, last_end);
  return out;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace svc::test
