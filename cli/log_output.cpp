#include "cli/log_output.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>

namespace svc::cli {

namespace {

constexpr std::size_t kFlushAt = 64 * 1024;
constexpr auto kFollowFlush = std::chrono::milliseconds(50);

// The whole buffer, or as much as the reader took before it went away (EPIPE: svctl logs | head,
// which ends svctl by SIGPIPE as any filter is ended).
void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

LogOutput::LogOutput(bool follow) {
  // What svctl printed before (a pull's progress) goes out before the task's first line.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
  if (!follow) return;
  flusher_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, kFollowFlush);
      flush_all_locked();
    }
  });
}

LogOutput::~LogOutput() { finish(); }

void LogOutput::write(bool to_stderr, std::string_view text) {
  std::lock_guard lock(mu_);
  if (to_stderr != last_stderr_) {
    flush_locked(last_stderr_);
    last_stderr_ = to_stderr;
  }
  std::string& b = buf_[to_stderr];
  b.append(text);
  if (b.size() >= kFlushAt) flush_locked(to_stderr);
}

void LogOutput::flush_locked(bool to_stderr) {
  std::string& b = buf_[to_stderr];
  if (b.empty()) return;
  write_all(to_stderr ? STDERR_FILENO : STDOUT_FILENO, b);
  b.clear();
}

void LogOutput::flush_all_locked() {
  // The one not written last first, so the order between the streams holds.
  flush_locked(!last_stderr_);
  flush_locked(last_stderr_);
}

void LogOutput::finish() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    flush_all_locked();
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

}  // namespace svc::cli
