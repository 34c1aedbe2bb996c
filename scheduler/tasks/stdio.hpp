#pragma once
// A client's connection to a running task's stdio, or to a process exec'd into it: what
// `svctl attach`, `svctl run -it` and `svctl exec` stream through the API. The runtime's shim
// keeps the process's stdio (pipes or a terminal's master), so a stream is only a view: closing
// it detaches and leaves the task running (an exec'd process is ended with its stream, as its
// only client is gone).
//
// Plain data and one interface: daemon/adapters/task_runtime.* implements it over the shim's
// attach protocol; tests/unit/scheduler/fakes.hpp has a scripted fake.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::scheduler {

struct StdioFrame {
  enum class Kind { kStdout, kStderr, kExit } kind = Kind::kStdout;
  std::string data;  // output bytes (a terminal's output is all kStdout)
  // kExit: the process's exit code (128+N for signal N); nullopt when it is not known (the
  // supervisor died without recording it).
  std::optional<int> exit_code;
  std::string error;  // kExit: why the process never ran (its program was not found, say)
};

// One attached client. read() on one thread while another writes is fine; close() from any
// thread ends a blocked read.
class StdioStream {
 public:
  virtual ~StdioStream() = default;
  // True when the process has a terminal: one output stream, input is keystrokes.
  virtual bool tty() const = 0;
  // The next frame; nullopt when timeout passed first. After kExit the stream has ended;
  // UNAVAILABLE when the supervisor went away without an exit.
  virtual Result<std::optional<StdioFrame>> read(std::chrono::milliseconds timeout) = 0;
  virtual Result<> write_stdin(std::string_view data) = 0;
  // The process reads EOF (a terminal ignores it: its input has no end).
  virtual Result<> close_stdin() = 0;
  virtual Result<> resize(std::uint16_t rows, std::uint16_t cols) = 0;
  virtual void close() = 0;
};

struct AttachRequest {
  bool stdin = false;  // forward input and resizes (refused when the task has no open stdin)
  // Release a task started with TaskSpec::hold_for_attach once this client is attached, so
  // nothing it prints is missed (no effect on a task that already runs).
  bool start = false;
  std::uint16_t rows = 0, cols = 0;  // the client's terminal size (0: leave it)
};

// A process run inside a running task's sandbox (docker exec): the task's namespaces, cgroup,
// user, capabilities, no_new_privs and seccomp filter unless overridden here.
struct ExecRequest {
  std::vector<std::string> args;                         // args[0] looked up in the task's PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the task's environment
  std::string workdir;                                   // "": the task's
  std::string user;                                      // "": the task's
  bool tty = false;
  bool stdin = false;
  std::uint16_t rows = 0, cols = 0;  // the terminal's first size (tty)
};

// INVALID_ARGUMENT naming the field ("args: ...") for an exec request no runtime could run.
std::optional<std::string> validate_exec(const ExecRequest& request);

}  // namespace svc::scheduler
