#pragma once
// Test helpers to run programs: capture stdout/stderr and the exit code, with a timeout that
// kills the whole process group, so a hung command fails the test instead of hanging ctest.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/skip.hpp"

namespace svc::test {

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
  bool timed_out = false;
};

RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::map<std::string, std::string>& extra_env = {},
              const std::string& stdin_data = "");

// Runs "sh -c <command>".
RunResult sh(const std::string& command,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A background process (its own process group); killed with SIGKILL at destruction unless it
// was stopped before.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path,
             const std::map<std::string, std::string>& extra_env = {});
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig and waits up to timeout for the exit; the exit status as RunResult::exit_code.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout);
  void kill_now();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

bool is_root();
// Waits until pred() holds, polling every few ms; false on timeout.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    struct timespec ts {
      0, 5'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace svc::test
