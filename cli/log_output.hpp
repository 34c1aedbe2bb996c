#pragma once
// Where svctl writes a task's output: its own buffers for stdout and stderr, written with one
// write(2) per 64 KiB instead of one per line, so `svctl logs` of 200,000 lines costs what the
// REST stream costs. Order between the two streams is kept: switching streams first writes what
// the other one holds. While following, a thread writes whatever is buffered every 50 ms, so a
// quiet task's last line still shows at once.
//
// Owns that flusher thread (joined by finish() or the destructor). Thread-safe.
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace svc::cli {

class LogOutput {
 public:
  // follow: start the flusher thread.
  explicit LogOutput(bool follow);
  ~LogOutput();
  LogOutput(const LogOutput&) = delete;
  LogOutput& operator=(const LogOutput&) = delete;

  void write(bool to_stderr, std::string_view text);
  // Writes everything still buffered and stops the flusher.
  void finish();

 private:
  void flush_locked(bool to_stderr);
  void flush_all_locked();

  std::mutex mu_;
  std::condition_variable cv_;
  std::string buf_[2];  // [to_stderr]
  bool last_stderr_ = false;
  bool stop_ = false;
  std::thread flusher_;
};

}  // namespace svc::cli
