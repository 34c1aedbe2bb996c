#pragma once
// A scripted scheduler::StdioStream: frames the test queues come out of read(); input, EOFs and
// resizes are recorded. With echo, input comes back as stdout (a terminal's echo, or `cat`);
// with exit_on_eof, closing stdin ends the stream with exit code 0, as `cat` would. The state
// is shared, so a test keeps looking at it after the stream was handed away.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "scheduler/tasks/stdio.hpp"

namespace svc::scheduler::test {

struct FakeStdioState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<StdioFrame> frames;
  std::string stdin_written;
  int stdin_closed = 0;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> resizes;
  bool closed = false;
  bool destroyed = false;
  bool tty = false;
  bool echo = false;
  bool exit_on_eof = false;

  void push(StdioFrame f) {
    std::lock_guard l(mu);
    frames.push_back(std::move(f));
    cv.notify_all();
  }
  void push_exit(int code) {
    StdioFrame f;
    f.kind = StdioFrame::Kind::kExit;
    f.exit_code = code;
    push(std::move(f));
  }
};

class FakeStdioStream final : public StdioStream {
 public:
  explicit FakeStdioStream(std::shared_ptr<FakeStdioState> s) : s_(std::move(s)) {}
  ~FakeStdioStream() override {
    std::lock_guard l(s_->mu);
    s_->destroyed = true;
    s_->cv.notify_all();
  }
  bool tty() const override { return s_->tty; }
  Result<std::optional<StdioFrame>> read(std::chrono::milliseconds timeout) override {
    std::unique_lock l(s_->mu);
    s_->cv.wait_for(l, timeout, [&] { return !s_->frames.empty() || s_->closed; });
    if (!s_->frames.empty()) {
      StdioFrame f = std::move(s_->frames.front());
      s_->frames.pop_front();
      return std::optional<StdioFrame>(std::move(f));
    }
    if (s_->closed) return fail(Code::kUnavailable, "the stream was closed");
    return std::optional<StdioFrame>();
  }
  Result<> write_stdin(std::string_view data) override {
    std::lock_guard l(s_->mu);
    if (s_->closed) return fail(Code::kUnavailable, "closed");
    s_->stdin_written.append(data);
    if (s_->echo) s_->frames.push_back({StdioFrame::Kind::kStdout, std::string(data), {}, {}});
    s_->cv.notify_all();
    return {};
  }
  Result<> close_stdin() override {
    std::lock_guard l(s_->mu);
    ++s_->stdin_closed;
    if (s_->exit_on_eof) s_->frames.push_back({StdioFrame::Kind::kExit, {}, 0, {}});
    s_->cv.notify_all();
    return {};
  }
  Result<> resize(std::uint16_t rows, std::uint16_t cols) override {
    std::lock_guard l(s_->mu);
    s_->resizes.emplace_back(rows, cols);
    s_->cv.notify_all();
    return {};
  }
  void close() override {
    std::lock_guard l(s_->mu);
    s_->closed = true;
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<FakeStdioState> s_;
};

}  // namespace svc::scheduler::test
