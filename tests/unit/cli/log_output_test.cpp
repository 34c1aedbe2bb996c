// svctl's log output: buffered (not one write(2) per line), the order between stdout and stderr
// kept, everything written by finish(), and a follow's quiet last line shown without waiting for
// more. stdout and stderr are pointed at one pipe for the length of each case.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "cli/log_output.hpp"

using svc::cli::LogOutput;

namespace {

// Points fds 1 and 2 at a pipe until destroyed; reads what arrived.
class Capture {
 public:
  Capture() {
    // What Catch has buffered (ctest's "Filters: ..." line) goes to the real stdout first:
    // LogOutput flushes std::cout when it starts, by design.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(stdout);
    std::fflush(stderr);
    REQUIRE(::pipe2(pipe_, O_CLOEXEC) == 0);
    ::fcntl(pipe_[0], F_SETPIPE_SZ, 1 << 20);  // room for a whole case without a reader
    saved_[0] = ::dup(STDOUT_FILENO);
    saved_[1] = ::dup(STDERR_FILENO);
    ::dup2(pipe_[1], STDOUT_FILENO);
    ::dup2(pipe_[1], STDERR_FILENO);
  }
  ~Capture() { restore(); }
  void restore() {
    if (saved_[0] < 0) return;
    ::dup2(saved_[0], STDOUT_FILENO);
    ::dup2(saved_[1], STDERR_FILENO);
    ::close(saved_[0]);
    ::close(saved_[1]);
    saved_[0] = saved_[1] = -1;
    ::close(pipe_[1]);
  }
  // What is in the pipe now, waiting up to timeout for the first byte.
  std::string take(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    std::string out;
    pollfd p{pipe_[0], POLLIN, 0};
    int wait = static_cast<int>(timeout.count());
    while (::poll(&p, 1, wait) > 0 && (p.revents & POLLIN)) {
      char buf[65536];
      ssize_t n = ::read(pipe_[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      wait = 0;
    }
    return out;
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

 private:
  int pipe_[2] = {-1, -1};
  int saved_[2] = {-1, -1};
};

}  // namespace

TEST_CASE("log output is held until finish, in the order written across streams", "[cli]") {
  Capture cap;
  std::string before, after;
  {
    LogOutput out(false);
    out.write(false, "out 1\n");
    out.write(true, "err 1\n");
    out.write(false, "out 2\n");
    out.write(false, "out 3\n");
    out.write(true, "err 2\n");
    before = cap.take();
    out.finish();
    after = cap.take();
  }
  cap.restore();
  // Switching streams writes what the other one held, so only the last run is still held.
  CHECK(before == "out 1\nerr 1\nout 2\nout 3\n");
  CHECK(after == "err 2\n");
}

TEST_CASE("log output writes in large blocks, not per line", "[cli]") {
  Capture cap;
  std::string line(99, 'x');
  line += '\n';
  std::string first, rest;
  {
    LogOutput out(false);
    out.write(false, line);
    first = cap.take();  // one line: held
    for (int i = 1; i < 2000; ++i) out.write(false, line);
    rest = cap.take();  // 200 KB: written in blocks as they fill
    out.finish();
    rest += cap.take();
  }
  cap.restore();
  CHECK(first.empty());
  CHECK(first.size() + rest.size() == 2000 * line.size());
}

TEST_CASE("log output while following shows a quiet line without more output", "[cli]") {
  Capture cap;
  std::string seen;
  {
    LogOutput out(true);
    out.write(false, "the last line for a while\n");
    seen = cap.take(std::chrono::seconds(10));  // the flusher writes it; no finish()
    out.finish();
  }
  cap.restore();
  CHECK(seen == "the last line for a while\n");
}
