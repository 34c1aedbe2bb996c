#pragma once
// Drives a program on a pseudo-terminal as a person at a terminal would: it runs with the pty's
// slave as its controlling terminal and 0, 1, 2; the test types into the master, reads the
// screen's bytes, resizes the window (the kernel sends the program SIGWINCH) and collects the
// exit code. Synchronises on output (expect), never on sleeps.
//
// Owns the master fd and the child; the destructor kills the child's process group (SIGKILL) if
// it still runs and reaps it.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svc::test {

class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, unsigned short rows = 24,
             unsigned short cols = 80, const std::map<std::string, std::string>& extra_env = {});
  ~PtySession();
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  void type(const std::string& keys);
  // Reads until text appears in the output since the last expect (which it then consumes), or
  // timeout (false). Everything read stays in transcript().
  bool expect(const std::string& text,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void resize(unsigned short rows, unsigned short cols);
  // Waits for the program's exit: its exit code (128+N for signal N), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  const std::string& transcript() const { return all_; }
  pid_t pid() const { return pid_; }

 private:
  void pump(int timeout_ms);
  int master_ = -1;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string all_;
  std::size_t seen_ = 0;  // transcript bytes consumed by expect
};

}  // namespace svc::test
