#include "cli/stdio_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

namespace svc::cli {

namespace {

// Ctrl-P, Ctrl-Q: docker's default detach keys.
constexpr char kDetach1 = 0x10;
constexpr char kDetach2 = 0x11;

// The signal handlers' only state: flags and the write end of the session's wake pipe.
std::atomic<int> g_wake_fd{-1};
std::atomic<bool> g_winch{false};
std::atomic<int> g_interrupts{0};

void wake() {
  int fd = g_wake_fd.load();
  if (fd < 0) return;
  char c = 1;
  ssize_t ignored = ::write(fd, &c, 1);
  (void)ignored;
}
extern "C" void on_winch(int) {
  g_winch = true;
  wake();
}
extern "C" void on_int(int) {
  g_interrupts.fetch_add(1);
  wake();
}

// Raw mode for the session, restored when it ends (also when the call fails).
class RawTerminal {
 public:
  explicit RawTerminal(bool on) {
    if (!on || ::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    // Output post-processing stays on the remote terminal; ours passes bytes through.
    if (::tcsetattr(0, TCSADRAIN, &raw) == 0) active_ = true;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSADRAIN, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

template <class Req>
Req wrap(const v1::StdinMessage& in) {
  Req r;
  *r.mutable_input() = in;
  return r;
}

template <class Req>
SessionResult session(grpc::ClientReaderWriter<Req, v1::StdioOutput>& call,
                      grpc::ClientContext& context, const SessionOptions& options) {
  SessionResult result;
  int wake_pipe[2];
  if (::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    result.status = grpc::Status(grpc::StatusCode::INTERNAL, "pipe: out of file descriptors");
    return result;
  }
  g_wake_fd = wake_pipe[1];
  g_winch = false;
  g_interrupts = 0;
  struct sigaction sa {
  }, old_winch{}, old_int{};
  sa.sa_handler = on_winch;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGWINCH, &sa, &old_winch);
  if (options.on_interrupt) {
    sa.sa_handler = on_int;
    ::sigaction(SIGINT, &sa, &old_int);
  }

  std::mutex write_mu;  // Write and WritesDone from the input thread only, but keep it explicit
  std::atomic<bool> done{false};
  std::atomic<bool> detached{false};
  RawTerminal raw(options.raw && ::isatty(0));

  std::thread input([&] {
    bool stdin_open = options.forward_stdin;
    bool held_detach = false;  // a Ctrl-P waiting for its Ctrl-Q
    int interrupts_seen = 0;
    auto send = [&](const v1::StdinMessage& m) {
      std::lock_guard lock(write_mu);
      return call.Write(wrap<Req>(m));
    };
    while (!done.load()) {
      struct pollfd p[2] = {{wake_pipe[0], POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
      int rc = ::poll(p, 2, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) break;
      if (p[0].revents) {
        char drain[64];
        while (::read(wake_pipe[0], drain, sizeof drain) > 0) {
        }
      }
      if (done.load()) break;
      if (g_winch.exchange(false) && options.raw) {
        auto [rows, cols] = terminal_size(0);
        if (rows && cols) {
          v1::StdinMessage m;
          m.mutable_resize()->set_rows(rows);
          m.mutable_resize()->set_cols(cols);
          if (!send(m)) break;
        }
      }
      for (int n = g_interrupts.load(); interrupts_seen < n;) {
        ++interrupts_seen;
        if (options.on_interrupt && options.on_interrupt(interrupts_seen)) {
          detached = true;
          context.TryCancel();
          return;
        }
      }
      if (!stdin_open || !(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[16 * 1024];
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        // svctl's stdin ended: so does the process's (`echo hi | svctl run -i IMAGE cat`).
        stdin_open = false;
        v1::StdinMessage m;
        m.set_close(true);
        send(m);
        std::lock_guard lock(write_mu);
        call.WritesDone();
        continue;
      }
      std::string data;
      data.reserve(static_cast<std::size_t>(n) + 1);
      for (ssize_t i = 0; i < n; ++i) {
        char c = buf[i];
        if (options.detach_keys) {
          if (held_detach) {
            held_detach = false;
            if (c == kDetach2) {
              detached = true;
              context.TryCancel();
              return;
            }
            data.push_back(kDetach1);
          } else if (c == kDetach1) {
            held_detach = true;
            continue;
          }
        }
        data.push_back(c);
      }
      if (data.empty()) continue;
      v1::StdinMessage m;
      m.set_data(std::move(data));
      if (!send(m)) break;
    }
  });

  v1::StdioOutput out;
  while (call.Read(&out)) {
    switch (out.kind_case()) {
      case v1::StdioOutput::kAttached:
        result.tty = out.attached().tty();
        result.task_id = out.attached().task_id();
        break;
      case v1::StdioOutput::kStdout:
        write_all(1, out.stdout());
        break;
      case v1::StdioOutput::kStderr:
        write_all(2, out.stderr());
        break;
      case v1::StdioOutput::kExit:
        result.end = SessionResult::End::kExited;
        if (out.exit().has_exit_code()) result.exit_code = out.exit().exit_code();
        result.error = out.exit().error();
        break;
      case v1::StdioOutput::KIND_NOT_SET:
        break;
    }
    if (result.end == SessionResult::End::kExited) break;
  }
  done = true;
  wake();
  input.join();
  // Read ended: the server finished the call (Finish has its status, the reason a stream was
  // refused, say) or it was cancelled (a detach). After an exit the server finishes it too.
  result.status = call.Finish();
  if (detached) result.end = SessionResult::End::kDetached;
  ::sigaction(SIGWINCH, &old_winch, nullptr);
  if (options.on_interrupt) ::sigaction(SIGINT, &old_int, nullptr);
  g_wake_fd = -1;
  ::close(wake_pipe[0]);
  ::close(wake_pipe[1]);
  return result;
}

}  // namespace

std::pair<unsigned, unsigned> terminal_size(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return {0, 0};
  return {ws.ws_row, ws.ws_col};
}

SessionResult run_session(grpc::ClientReaderWriter<v1::AttachRequest, v1::StdioOutput>& call,
                          grpc::ClientContext& context, const SessionOptions& options) {
  return session(call, context, options);
}

SessionResult run_session(grpc::ClientReaderWriter<v1::ExecRequest, v1::StdioOutput>& call,
                          grpc::ClientContext& context, const SessionOptions& options) {
  return session(call, context, options);
}

}  // namespace svc::cli
