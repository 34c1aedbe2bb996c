#pragma once
// The client side of Tasks.Attach and Tasks.Exec, shared by `svctl run -i/-t`, `svctl attach`
// and `svctl exec`: svctl's stdin (raw when it is a terminal and the process has one) goes to
// the process, its output to svctl's stdout and stderr, SIGWINCH becomes a resize, and
// Ctrl-P Ctrl-Q detaches from a terminal (as docker attach).
//
// Threads: the caller's thread reads the call's output; one thread of the session reads stdin,
// the wake pipe (signals) and sends input. Both end before run() returns. Signal handlers for
// SIGWINCH (and SIGINT when on_interrupt is set) are installed for the session only.
#include <functional>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include "svc/v1/tasks.grpc.pb.h"

namespace svc::cli {

struct SessionOptions {
  bool forward_stdin = false;  // read svctl's stdin and send it
  bool raw = false;            // put svctl's terminal in raw mode (the process has a tty)
  bool detach_keys = false;    // Ctrl-P Ctrl-Q detaches
  // Called (on the input thread) for each Ctrl-C svctl receives; unset: SIGINT is left alone.
  // Return true to detach.
  std::function<bool(int count)> on_interrupt;
};

struct SessionResult {
  enum class End { kExited, kDetached, kBroken } end = End::kBroken;
  std::optional<int> exit_code;  // kExited, when known
  std::string error;             // kExited: why the process never ran
  bool tty = false;              // from the Attached message
  std::string task_id;
  grpc::Status status;  // the call's status (kBroken: why)
};

// Input messages of one call type: wraps a StdinMessage into the call's request message.
template <class Req>
using Wrap = std::function<Req(const v1::StdinMessage&)>;

// The terminal size of fd (0, 0 when it is not a terminal).
std::pair<unsigned, unsigned> terminal_size(int fd);

// Runs the session on an open call whose first message the caller has written.
SessionResult run_session(grpc::ClientReaderWriter<v1::AttachRequest, v1::StdioOutput>& call,
                          grpc::ClientContext& context, const SessionOptions& options);
SessionResult run_session(grpc::ClientReaderWriter<v1::ExecRequest, v1::StdioOutput>& call,
                          grpc::ClientContext& context, const SessionOptions& options);

}  // namespace svc::cli
