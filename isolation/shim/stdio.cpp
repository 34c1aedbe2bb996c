#include "isolation/shim/stdio.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

namespace svc::isolation::shim {

namespace {

constexpr unsigned kIn = EPOLLIN, kOutReady = EPOLLOUT;
constexpr unsigned long long kTagSource = kTagStdioFirst;       // + source index
constexpr unsigned long long kTagConsole = kTagStdioFirst + 8;  // the console socket
constexpr unsigned long long kTagStdin = kTagStdioFirst + 9;    // the stdin pipe, when full
constexpr unsigned long long kTagAttach = kTagStdioFirst + 16;  // + slot

constexpr unsigned kReadSize = 16 * 1024;  // one read from a source, one frame
constexpr unsigned kInCap = 16 * 1024;     // a client's input not yet given to the task

}  // namespace

struct Stdio::Attacher {
  int fd = -1;
  bool stdin = false;
  bool paused = false;  // its input waits for the task to read: not reading from it
  bool bad = false;     // sent something that is not a frame of ours: dropped
  // Output it has not taken yet (at most one frame: sources pause while any is pending).
  unsigned char out[kFrameHeader + kReadSize];
  unsigned out_off = 0, out_len = 0;
  // Input received, not yet handled: parsed as frames, stdin bytes written as the task reads.
  unsigned char in[kInCap];
  unsigned in_len = 0;
  unsigned char header[kFrameHeader];
  unsigned header_len = 0;
  unsigned char kind = 0;  // of the frame being read; 0: reading a header
  unsigned left = 0;       // its payload bytes still to come
  unsigned char arg[4];
  unsigned arg_len = 0;
};

namespace {

Stdio::Attacher* g_attach = nullptr;  // kMaxAttach slots, in static storage below
char g_read[kReadSize];

void set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void epoll_set(int ep, int fd, unsigned long long tag, unsigned events, bool* registered) {
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = tag;
  if (events == 0) {
    if (*registered) ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    *registered = false;
    return;
  }
  ::epoll_ctl(ep, *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  *registered = true;
}

long ms_since(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

// Blocking send of everything, waiting at most timeout_ms for the peer to take it.
bool send_within(int fd, const unsigned char* p, unsigned n, int timeout_ms) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<unsigned>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) return false;
    long left = timeout_ms - ms_since(start);
    if (left <= 0) return false;
    struct pollfd pfd = {fd, POLLOUT, 0};
    ::poll(&pfd, 1, static_cast<int>(left));
  }
  return true;
}

}  // namespace

void Stdio::init(int ep, const StdioConfig& c) {
  static Attacher slots[kMaxAttach];
  g_attach = slots;
  ep_ = ep;
  log_ = c.log;
  src_[kOut] = c.out_r;
  src_[kErr] = c.err_r;
  console_ = c.console;
  stdin_w_ = c.stdin_w;
  stdin_open_ = stdin_w_ >= 0;
  attachable_ = c.out_r >= 0 || c.console >= 0;
  for (int fd : {c.out_r, c.err_r, c.stdin_w})
    if (fd >= 0) set_nonblocking(fd);
  if (console_ >= 0) {
    bool reg = false;
    epoll_set(ep_, console_, kTagConsole, EPOLLIN, &reg);
  }
  update_sources();
}

void Stdio::receive_console() {
  // The task's first process opened a pty in the sandbox's devpts and sends its master.
  char byte;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n = ::recvmsg(console_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  int master = -1;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      std::memcpy(&master, CMSG_DATA(cm), sizeof master);
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, console_, nullptr);
  ::close(console_);  // one master per task; EOF without one: the set-up failed
  console_ = -1;
  if (master < 0) return;
  set_nonblocking(master);
  src_[kPty] = master;
  terminal_ = true;
  stdin_open_ = true;  // a terminal's input is always open
  update_sources();
}

void Stdio::update_sources() {
  for (int s = 0; s < kSources; ++s) {
    if (src_[s] < 0) continue;
    unsigned events = paused_ ? 0u : kIn;
    if (s == kPty && stdin_blocked_) events |= kOutReady;
    epoll_set(ep_, src_[s], kTagSource + static_cast<unsigned>(s), events, &src_registered_[s]);
  }
}

void Stdio::update_stdin_target() {
  if (terminal_) {
    update_sources();
  } else if (stdin_w_ >= 0) {
    // Registered only while full: a write end whose reader is gone reports EPOLLERR for ever.
    epoll_set(ep_, stdin_w_, kTagStdin, stdin_blocked_ ? kOutReady : 0u, &stdin_registered_);
  }
}

void Stdio::update_attacher(int slot) {
  Attacher& a = g_attach[slot];
  if (a.fd < 0) return;
  unsigned events = (a.paused ? 0u : kIn) | (a.out_len > a.out_off ? kOutReady : 0u);
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = kTagAttach + static_cast<unsigned>(slot);
  ::epoll_ctl(ep_, EPOLL_CTL_MOD, a.fd, &ev);
}

const char* Stdio::can_attach(bool want_stdin) const {
  if (!attachable_) return "err 95 the task's stdio is not kept by its shim (inherited)";
  if (want_stdin && !stdin_open_ && !terminal())
    return stdin_w_ < 0 && !stdin_closed_ ? "err 22 the task was started without an open stdin"
                                          : "err 32 the task's stdin was closed";
  for (int i = 0; i < kMaxAttach; ++i)
    if (g_attach[i].fd < 0) return nullptr;
  return "err 24 too many attached clients";
}

void Stdio::attach(int fd, bool want_stdin, const char* initial, unsigned n) {
  int slot = -1;
  for (int i = 0; i < kMaxAttach; ++i)
    if (g_attach[i].fd < 0) {
      slot = i;
      break;
    }
  if (slot < 0) {
    ::close(fd);
    return;
  }
  Attacher& a = g_attach[slot];
  a.fd = fd;
  a.stdin = want_stdin;
  a.paused = false;
  a.bad = false;
  a.out_off = a.out_len = 0;
  a.header_len = a.arg_len = a.left = 0;
  a.kind = 0;
  a.in_len = n < kInCap ? n : kInCap;
  if (a.in_len) std::memcpy(a.in, initial, a.in_len);
  set_nonblocking(fd);
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = kTagAttach + static_cast<unsigned>(slot);
  ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  if (a.in_len) {
    process_input(a);
    if (a.bad) {
      drop(slot);
      return;
    }
    update_attacher(slot);
  }
}

void Stdio::drop(int slot) {
  Attacher& a = g_attach[slot];
  if (a.fd < 0) return;
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, a.fd, nullptr);
  ::close(a.fd);
  a.fd = -1;
  a.out_len = a.out_off = a.in_len = 0;
  bool any = false;
  for (int i = 0; i < kMaxAttach; ++i) any = any || (g_attach[i].fd >= 0 && g_attach[i].out_len);
  if (paused_ && !any) {
    paused_ = false;
    update_sources();
  }
}

void Stdio::emit(int stream, const char* data, unsigned n) {
  if (log_) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    log_->feed(stream, data, n, now);
    log_->flush();
  }
  for (int i = 0; i < kMaxAttach; ++i) {
    Attacher& a = g_attach[i];
    if (a.fd < 0) continue;
    if (a.out_len > 0) {  // cannot happen: sources pause while output is pending
      drop(i);
      continue;
    }
    unsigned char header[kFrameHeader];
    put_frame_header(header, stream == 0 ? kFrameStdout : kFrameStderr, n);
    struct iovec iov[2] = {{header, kFrameHeader}, {const_cast<char*>(data), n}};
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t w = ::sendmsg(a.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
      drop(i);
      continue;
    }
    unsigned sent = w < 0 ? 0 : static_cast<unsigned>(w);
    unsigned total = kFrameHeader + n;
    if (sent == total) continue;
    // Keep the rest; no more output is read until this client has it.
    a.out_len = 0;
    a.out_off = 0;
    if (sent < kFrameHeader) {
      std::memcpy(a.out, header + sent, kFrameHeader - sent);
      a.out_len = kFrameHeader - sent;
      std::memcpy(a.out + a.out_len, data, n);
      a.out_len += n;
    } else {
      std::memcpy(a.out, data + (sent - kFrameHeader), total - sent);
      a.out_len = total - sent;
    }
    paused_ = true;
    update_attacher(i);
  }
  if (paused_) update_sources();
}

void Stdio::read_source(int s) {
  int fd = src_[s];
  if (fd < 0) return;
  ssize_t n = ::read(fd, g_read, sizeof g_read);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    // EOF, or EIO from a pty master once no process holds the terminal.
    bool reg = src_registered_[s];
    epoll_set(ep_, fd, kTagSource + static_cast<unsigned>(s), 0, &reg);
    src_registered_[s] = false;
    ::close(fd);
    src_[s] = -1;
    if (s == kPty) stdin_open_ = false;
    return;
  }
  emit(s == kErr ? 1 : 0, g_read, static_cast<unsigned>(n));
}

bool Stdio::flush_out(Attacher& a) {
  while (a.out_off < a.out_len) {
    ssize_t w = ::send(a.fd, a.out + a.out_off, a.out_len - a.out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (w <= 0) return false;
    a.out_off += static_cast<unsigned>(w);
  }
  a.out_off = a.out_len = 0;
  return true;
}

void Stdio::close_stdin() {
  if (terminal_ || stdin_w_ < 0) return;  // a terminal's input has no end
  if (stdin_registered_) ::epoll_ctl(ep_, EPOLL_CTL_DEL, stdin_w_, nullptr);
  stdin_registered_ = false;
  ::close(stdin_w_);
  stdin_w_ = -1;
  stdin_open_ = false;
  stdin_closed_ = true;
  stdin_blocked_ = false;
}

void Stdio::process_input(Attacher& a) {
  int target = terminal_ ? src_[kPty] : stdin_w_;
  unsigned pos = 0;
  bool blocked = false;
  while (pos < a.in_len && !blocked) {
    if (a.kind == 0) {
      while (a.header_len < kFrameHeader && pos < a.in_len) a.header[a.header_len++] = a.in[pos++];
      if (a.header_len < kFrameHeader) break;
      a.header_len = 0;
      a.kind = a.header[0];
      a.left = frame_length(a.header);
      a.arg_len = 0;
      if (!valid_client_frame(a.kind, a.left)) {
        a.in_len = 0;
        a.kind = 0;
        a.bad = true;
        return;
      }
      if (a.kind == kFrameCloseStdin) {
        if (a.stdin) close_stdin();
        a.kind = 0;
      }
      continue;
    }
    unsigned avail = a.in_len - pos;
    unsigned take = avail < a.left ? avail : a.left;
    if (a.kind == kFrameStdin) {
      if (!a.stdin || !stdin_open_ || target < 0) {
        pos += take;  // input for a closed stdin is dropped, as a closed pipe would
        a.left -= take;
      } else {
        ssize_t w = ::write(target, a.in + pos, take);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
          w = 0;
        } else if (w < 0) {
          close_stdin();  // the task closed its end (EPIPE)
          w = static_cast<ssize_t>(take);
        }
        pos += static_cast<unsigned>(w);
        a.left -= static_cast<unsigned>(w);
        if (static_cast<unsigned>(w) < take) blocked = true;
      }
    } else if (a.kind == kFrameResize) {
      while (a.arg_len < 4 && pos < a.in_len && a.left > 0) {
        a.arg[a.arg_len++] = a.in[pos++];
        --a.left;
      }
      if (a.arg_len == 4 && terminal_ && src_[kPty] >= 0) {
        struct winsize ws;
        std::memset(&ws, 0, sizeof ws);
        ws.ws_row = static_cast<unsigned short>((a.arg[0] << 8) | a.arg[1]);
        ws.ws_col = static_cast<unsigned short>((a.arg[2] << 8) | a.arg[3]);
        // The kernel sends SIGWINCH to the terminal's foreground process group.
        ::ioctl(src_[kPty], TIOCSWINSZ, &ws);
      }
    }
    if (a.left == 0) a.kind = 0;
  }
  if (pos > 0) {
    std::memmove(a.in, a.in + pos, a.in_len - pos);
    a.in_len -= pos;
  }
  if (blocked && !stdin_blocked_) {
    stdin_blocked_ = true;
    update_stdin_target();
  }
  a.paused = blocked || a.in_len == kInCap;
}

void Stdio::on_attacher(int slot, unsigned events) {
  Attacher& a = g_attach[slot];
  if (a.fd < 0) return;
  if (events & EPOLLOUT) {
    if (!flush_out(a)) {
      drop(slot);
      return;
    }
    if (a.out_len == 0 && paused_) {
      bool any = false;
      for (int i = 0; i < kMaxAttach; ++i)
        any = any || (g_attach[i].fd >= 0 && g_attach[i].out_len > 0);
      if (!any) {
        paused_ = false;
        update_sources();
      }
    }
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !a.paused) {
    ssize_t n = ::recv(a.fd, a.in + a.in_len, kInCap - a.in_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      // Detached (or gone): its stdin stays open for the next client, as a terminal would.
      drop(slot);
      return;
    }
    a.in_len += static_cast<unsigned>(n);
    process_input(a);
    if (a.bad) {
      drop(slot);
      return;
    }
  }
  update_attacher(slot);
}

void Stdio::on_event(unsigned long long tag, unsigned events) {
  if (tag == kTagConsole) {
    if (console_ >= 0) receive_console();
    return;
  }
  if (tag >= kTagAttach) {
    on_attacher(static_cast<int>(tag - kTagAttach), events);
    return;
  }
  bool writable = (events & (EPOLLOUT | EPOLLERR)) != 0;
  if (tag == kTagStdin || (tag == kTagSource + kPty && writable && stdin_blocked_)) {
    if (tag == kTagStdin && (events & EPOLLERR)) close_stdin();
    stdin_blocked_ = false;
    update_stdin_target();
    for (int i = 0; i < kMaxAttach; ++i) {
      Attacher& a = g_attach[i];
      if (a.fd < 0 || a.in_len == 0) continue;
      process_input(a);
      if (a.bad) {
        drop(i);
        continue;
      }
      update_attacher(i);
    }
    if (tag == kTagStdin) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_source(static_cast<int>(tag - kTagSource));
}

void Stdio::drain() {
  if (console_ >= 0) receive_console();  // a task that ended before its master was read
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    bool open = false;
    for (int s = 0; s < kSources; ++s) open = open || src_[s] >= 0;
    long left = 500 - ms_since(start);
    if (!open || left <= 0) break;
    struct epoll_event evs[16];
    int n = ::epoll_wait(ep_, evs, 16, static_cast<int>(left));
    for (int i = 0; i < n; ++i) {
      unsigned long long tag = evs[i].data.u64;
      if (owns(tag)) on_event(tag, evs[i].events);
    }
  }
  if (log_) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    log_->finish(now);
  }
}

void Stdio::finish(const char* exit_json) {
  if (!g_attach) return;
  unsigned len = static_cast<unsigned>(std::strlen(exit_json));
  for (int i = 0; i < kMaxAttach; ++i) {
    Attacher& a = g_attach[i];
    if (a.fd < 0) continue;
    // A second per client at most: a stuck client must not keep the exit record from others.
    bool ok = send_within(a.fd, a.out + a.out_off, a.out_len - a.out_off, 1000);
    unsigned char header[kFrameHeader];
    put_frame_header(header, kFrameExit, len);
    ok = ok && send_within(a.fd, header, kFrameHeader, 1000);
    ok = ok && send_within(a.fd, reinterpret_cast<const unsigned char*>(exit_json), len, 1000);
    (void)ok;
    ::close(a.fd);
    a.fd = -1;
  }
}

}  // namespace svc::isolation::shim
