#pragma once
// The shim's side of a task's stdio: the output it reads (the stdout and stderr pipes, or a
// terminal's pty master), where that output goes (the log, and every attached client), and the
// task's input (a stdin pipe, or the pty master) fed by attached clients. It outlives svcd with
// the shim, so a terminal task keeps its terminal across daemon restarts and can be attached
// again.
//
// Flow control: output is read only while every attached client has taken the last read. A
// client that does not keep up stops the task's output (the task blocks in write, as it would
// on a pipe), never loses a byte of it; one that goes away is dropped. Input goes to the task
// as fast as it reads; a client whose input the task does not take is not read meanwhile.
//
// Owns every fd it is given (sources, stdin, console socket, attached clients) and closes them
// when they end or at exit; borrows the epoll fd and the log. Single-threaded, no allocation:
// its buffers are static (touched only while clients are attached), as the static shim needs.
#include "isolation/shim/log_writer.hpp"
#include "isolation/shim/protocol.hpp"

namespace svc::isolation::shim {

// Epoll tags of the stdio module; the shim's loop passes events with these tags to on_event().
inline constexpr unsigned long long kTagStdioFirst = 2000;
inline constexpr unsigned long long kTagStdioLast = 2000 + 16 + kMaxAttach;

struct StdioConfig {
  int out_r = -1;            // stdout pipe (read end)
  int err_r = -1;            // stderr pipe (read end)
  int console = -1;          // socket the pty master arrives on (terminal tasks)
  int stdin_w = -1;          // stdin pipe (write end)
  LogWriter* log = nullptr;  // null: output goes to attached clients only
};

class Stdio {
 public:
  struct Attacher;  // an attached client (stdio.cpp)
  void init(int ep, const StdioConfig& config);
  static bool owns(unsigned long long tag) { return tag >= kTagStdioFirst && tag <= kTagStdioLast; }
  void on_event(unsigned long long tag, unsigned events);

  // Whether there is anything to attach to (false: the task's stdio was inherited or /dev/null).
  bool attachable() const { return attachable_; }
  bool terminal() const { return console_ >= 0 || terminal_; }
  // nullptr when a client may attach (with stdin), else the "err <errno> <text>" reply.
  const char* can_attach(bool want_stdin) const;
  // Takes over fd (a connected client that may attach); `initial` holds bytes it sent after its
  // request line.
  void attach(int fd, bool want_stdin, const char* initial, unsigned n);

  // The task ended: reads what is left of its output (within 500 ms: a writer outside its pid
  // namespace could hold a pipe open), hands it to the log and the clients.
  void drain();
  // Then: every attached client gets the rest of its output and an exit frame with exit_json.
  void finish(const char* exit_json);

 private:
  enum Source { kOut = 0, kErr = 1, kPty = 2, kSources = 3 };

  void read_source(int source);
  void emit(int stream, const char* data, unsigned n);
  void receive_console();
  void on_attacher(int slot, unsigned events);
  bool flush_out(Attacher& a);
  void process_input(Attacher& a);
  void close_stdin();
  void drop(int slot);
  void update_sources();
  void update_attacher(int slot);
  void update_stdin_target();

  int ep_ = -1;
  LogWriter* log_ = nullptr;
  bool attachable_ = false;
  bool terminal_ = false;  // the master has arrived (console_ is then closed)
  int src_[kSources] = {-1, -1, -1};
  bool src_registered_[kSources] = {false, false, false};
  int console_ = -1;
  int stdin_w_ = -1;           // the pipe; with a terminal, input goes to src_[kPty]
  bool stdin_open_ = false;    // input can still be written
  bool stdin_closed_ = false;  // a client closed it (the task read EOF)
  bool stdin_blocked_ = false;
  bool stdin_registered_ = false;
  bool paused_ = false;  // some client has output pending: sources are not read
};

}  // namespace svc::isolation::shim
