// svc-shim: one per sandbox, the parent of the sandbox's first process (and one per process
// exec'd into a sandbox, its parent). It holds the task's stdio (writing the CRI log, feeding
// attached clients: shim/stdio.hpp), releases the task when asked to start, signals it, enforces
// the stop grace period, reaps it through its pidfd, writes exit.json durably and answers on a unix
// socket. It is started by the runtime (already detached: its own session, out of the daemon's
// cgroups) and outlives the daemon. Built static and without iostream or the heap in its loop,
// so its resident size stays well under 1 MiB (measured in docs/BENCHMARKS.md). It is single-
// threaded: libc's non-reentrant calls (strerror) are safe here.
// NOLINTBEGIN(concurrency-mt-unsafe)
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "isolation/child_message.hpp"
#include "isolation/shim/log_writer.hpp"
#include "isolation/shim/protocol.hpp"
#include "isolation/shim/stdio.hpp"

namespace svc::isolation::shim {
namespace {

enum class State { kCreated, kRunning };

struct Client {
  int fd = -1;
  char in[256];
  unsigned len = 0;
  bool waiting_exit = false;
  bool waiting_start = false;
  bool waiting_exec = false;  // "started"
};

struct Config {
  const char* dir = nullptr;
  int pid = 0;
  int pidfd = -1;
  int ctl = -1;
  int start_w = -1;
  int execerr_r = -1;
  int out_r = -1;
  int err_r = -1;
  int stdin_w = -1;
  int console = -1;
  bool no_log = false;
  const char* socket_name = kSocketName;
  const char* exit_name = kExitFile;
  unsigned long long log_max = 10ull << 20;
  const char* cgroups[kMaxCgroupDirs];
  int n_cgroups = 0;
  bool autostart = false;
};

// Everything the loop owns. Its fds are released when the shim exits (process exit).
struct Shim {
  Config cfg;
  int dirfd = -1;
  int ep = -1;
  int timer = -1;
  State state = State::kCreated;
  struct timespec started {};
  bool exec_resolved = false;
  char exec_error[600] = {0};
  int exec_errno = 0;
  Client clients[kMaxClients];
  Stdio stdio;
};

LogWriter g_log;  // static storage: its buffers are touched only when the task logs

// Tags in epoll's data to tell the sources apart; clients use their index, the stdio module
// its own range (Stdio::owns).
constexpr unsigned long long kTagPid = 1000, kTagCtl = 1001, kTagExecErr = 1004, kTagTimer = 1005;

void add(Shim& s, int fd, unsigned long long tag) {
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  epoll_ctl(s.ep, EPOLL_CTL_ADD, fd, &ev);
}

void del(Shim& s, int fd) { epoll_ctl(s.ep, EPOLL_CTL_DEL, fd, nullptr); }

void send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a client that stopped reading loses its reply
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void reply(int fd, const char* text) {
  char line[800];
  int n = snprintf(line, sizeof line, "%s\n", text);
  if (n > 0) send_all(fd, line, static_cast<std::size_t>(n) < sizeof line ? n : sizeof line - 1);
}

void drop_client(Shim& s, int i) {
  del(s, s.clients[i].fd);
  ::close(s.clients[i].fd);
  s.clients[i] = Client{};
}

void resolve_start(Shim& s) {
  // start's answer, and started's ("ok failed ..." is an answer, not an error of the request).
  char text[700] = "ok", exec_text[720] = "ok";
  if (s.exec_errno) {
    snprintf(text, sizeof text, "err %d %s", s.exec_errno, s.exec_error);
    snprintf(exec_text, sizeof exec_text, "ok failed %d %s", s.exec_errno, s.exec_error);
  }
  for (auto& c : s.clients) {
    if (c.fd >= 0 && c.waiting_start) {
      reply(c.fd, text);
      c.waiting_start = false;
    }
    if (c.fd >= 0 && c.waiting_exec) {
      reply(c.fd, exec_text);
      c.waiting_exec = false;
    }
  }
}

void do_start(Shim& s) {
  if (s.state != State::kCreated) return;
  char b = 'x';
  ssize_t n;
  do {
    n = ::write(s.cfg.start_w, &b, 1);
  } while (n < 0 && errno == EINTR);
  ::close(s.cfg.start_w);
  s.cfg.start_w = -1;
  clock_gettime(CLOCK_REALTIME, &s.started);
  s.state = State::kRunning;
}

// "attach [stdin] [start]": the connection becomes an attached client of the stdio module,
// which takes the fd (and what the client sent after its request line).
void handle_attach(Shim& s, int ci, const char* line, const char* rest, unsigned rest_len) {
  Client& c = s.clients[ci];
  bool want_stdin = false, start = false;
  for (const char* p = line + 6; *p;) {
    while (*p == ' ') ++p;
    const char* end = p;
    while (*end && *end != ' ') ++end;
    std::size_t n = static_cast<std::size_t>(end - p);
    if (n == 5 && std::strncmp(p, "stdin", 5) == 0) {
      want_stdin = true;
    } else if (n == 5 && std::strncmp(p, "start", 5) == 0) {
      start = true;
    } else if (n > 0) {
      reply(c.fd, "err 22 usage: attach [stdin] [start]");
      return;
    }
    p = end;
  }
  int fd = c.fd;
  if (const char* why = s.stdio.can_attach(want_stdin)) {
    reply(fd, why);
    return;
  }
  // The answer goes first: after it, the connection carries frames only.
  reply(fd, s.stdio.terminal() ? "ok tty" : "ok pipes");
  del(s, fd);
  c = Client{};
  s.stdio.attach(fd, want_stdin, rest, rest_len);
  if (start) do_start(s);
}

void handle_line(Shim& s, int ci, char* line) {
  Client& c = s.clients[ci];
  char text[128];
  if (std::strcmp(line, "state") == 0) {
    snprintf(text, sizeof text, "ok %s %d", s.state == State::kCreated ? "created" : "running",
             s.cfg.pid);
    reply(c.fd, text);
  } else if (std::strcmp(line, "start") == 0) {
    if (s.state != State::kCreated) {
      reply(c.fd, "err 16 the sandbox was already started");
      return;
    }
    do_start(s);
    c.waiting_start = true;
    if (s.exec_resolved) resolve_start(s);
  } else if (std::strcmp(line, "started") == 0) {
    if (s.state == State::kCreated) {
      reply(c.fd, "err 16 the sandbox was not started");
      return;
    }
    c.waiting_exec = true;
    if (s.exec_resolved) resolve_start(s);
  } else if (std::strncmp(line, "kill ", 5) == 0) {
    long sig = strtol(line + 5, nullptr, 10);
    if (sig <= 0 || sig >= 65) {
      reply(c.fd, "err 22 bad signal number");
      return;
    }
    if (::syscall(SYS_pidfd_send_signal, s.cfg.pidfd, static_cast<int>(sig), nullptr, 0) != 0) {
      snprintf(text, sizeof text, "err %d %s", errno, strerror(errno));
      reply(c.fd, text);
      return;
    }
    reply(c.fd, "ok");
  } else if (std::strncmp(line, "stop ", 5) == 0) {
    char* end = nullptr;
    long sig = strtol(line + 5, &end, 10);
    long long ms = end ? strtoll(end, nullptr, 10) : 0;
    if (sig <= 0 || sig >= 65 || ms < 0) {
      reply(c.fd, "err 22 usage: stop <signal> <grace ms>");
      return;
    }
    ::syscall(SYS_pidfd_send_signal, s.cfg.pidfd, static_cast<int>(sig), nullptr, 0);
    struct itimerspec its;
    std::memset(&its, 0, sizeof its);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000;
    if (ms == 0) its.it_value.tv_nsec = 1;  // arm: zero would disarm
    timerfd_settime(s.timer, 0, &its, nullptr);
    reply(c.fd, "ok");
  } else if (std::strcmp(line, "wait") == 0) {
    c.waiting_exit = true;
  } else {
    reply(c.fd, "err 22 unknown request");
  }
}

void on_client(Shim& s, int ci) {
  Client& c = s.clients[ci];
  ssize_t n = ::recv(c.fd, c.in + c.len, sizeof c.in - 1 - c.len, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    drop_client(s, ci);
    return;
  }
  c.len += static_cast<unsigned>(n);
  for (;;) {
    char* nl = static_cast<char*>(std::memchr(c.in, '\n', c.len));
    if (!nl) break;
    *nl = 0;
    if (std::strcmp(c.in, "attach") == 0 || std::strncmp(c.in, "attach ", 7) == 0) {
      char line[sizeof c.in];
      std::memcpy(line, c.in, static_cast<std::size_t>(nl - c.in) + 1);
      char rest[sizeof c.in];
      unsigned rest_len = c.len - static_cast<unsigned>(nl - c.in) - 1;
      std::memcpy(rest, nl + 1, rest_len);
      handle_attach(s, ci, line, rest, rest_len);
      return;
    }
    handle_line(s, ci, c.in);
    if (s.clients[ci].fd < 0) return;
    unsigned used = static_cast<unsigned>(nl - c.in) + 1;
    std::memmove(c.in, c.in + used, c.len - used);
    c.len -= used;
  }
  if (c.len >= sizeof c.in - 1) drop_client(s, ci);  // a line too long: not one of ours
}

void on_accept(Shim& s) {
  for (;;) {
    int fd = ::accept4(s.cfg.ctl, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int slot = -1;
    for (int i = 0; i < kMaxClients; ++i)
      if (s.clients[i].fd < 0) {
        slot = i;
        break;
      }
    if (slot < 0) {
      reply(fd, "err 24 too many clients");
      ::close(fd);
      continue;
    }
    s.clients[slot].fd = fd;
    add(s, fd, static_cast<unsigned long long>(slot));
  }
}

void on_exec_error(Shim& s) {
  ChildMessage m;
  ssize_t n;
  do {
    n = ::read(s.cfg.execerr_r, &m, sizeof m);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof m) && m.kind == ChildMessage::kError) {
    m.text[sizeof m.text - 1] = 0;
    s.exec_errno = m.err ? m.err : EIO;
    snprintf(s.exec_error, sizeof s.exec_error, "%s: %s", m.text, strerror(s.exec_errno));
  }
  del(s, s.cfg.execerr_r);
  ::close(s.cfg.execerr_r);
  s.cfg.execerr_r = -1;
  s.exec_resolved = true;
  resolve_start(s);
}

// Reads a small file under a cgroup dir; returns the bytes read (0 on any error).
std::size_t read_small(const char* dir, const char* name, char* buf, std::size_t cap) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= static_cast<int>(sizeof path)) return 0;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return static_cast<std::size_t>(n);
}

// The value after "key " in a "key value" per line file.
bool keyed(const char* text, const char* key, unsigned long long* out) {
  std::size_t k = std::strlen(key);
  for (const char* p = text; p && *p;) {
    if (std::strncmp(p, key, k) == 0 && p[k] == ' ') {
      *out = strtoull(p + k + 1, nullptr, 10);
      return true;
    }
    p = std::strchr(p, '\n');
    if (p) ++p;
  }
  return false;
}

struct FinalStats {
  double cpu_seconds = 0;
  unsigned long long memory_peak = 0;
  unsigned long long oom_kills = 0;
};

// Read at exit, while the cgroup still exists (the runtime removes it only on delete): billing
// and the OOM verdict must not depend on the daemon being up when the task ends.
FinalStats final_stats(const Config& cfg) {
  FinalStats st;
  char buf[4096];
  unsigned long long v = 0;
  for (int i = 0; i < cfg.n_cgroups; ++i) {
    const char* d = cfg.cgroups[i];
    if (read_small(d, "cpuacct.usage", buf, sizeof buf))
      st.cpu_seconds = strtoull(buf, nullptr, 10) / 1e9;
    if (read_small(d, "cpu.stat", buf, sizeof buf) && keyed(buf, "usage_usec", &v))
      st.cpu_seconds = v / 1e6;
    if (read_small(d, "memory.max_usage_in_bytes", buf, sizeof buf))
      st.memory_peak = strtoull(buf, nullptr, 10);
    if (read_small(d, "memory.peak", buf, sizeof buf)) st.memory_peak = strtoull(buf, nullptr, 10);
    if (read_small(d, "memory.oom_control", buf, sizeof buf) && keyed(buf, "oom_kill", &v))
      st.oom_kills = v;
    if (read_small(d, "memory.events", buf, sizeof buf) && keyed(buf, "oom_kill", &v))
      st.oom_kills = v;
  }
  return st;
}

void json_escape(const char* in, char* out, std::size_t cap) {
  std::size_t o = 0;
  for (; *in && o + 7 < cap; ++in) {
    unsigned char ch = static_cast<unsigned char>(*in);
    if (ch == '"' || ch == '\\') {
      out[o++] = '\\';
      out[o++] = static_cast<char>(ch);
    } else if (ch < 0x20) {
      o += static_cast<std::size_t>(snprintf(out + o, cap - o, "\\u%04x", ch));
    } else {
      out[o++] = static_cast<char>(ch);
    }
  }
  out[o] = 0;
}

// Writes exit.json atomically (temp + rename) and returns its text (in a static buffer);
// *fd_out is the file, still open, for make_durable() once the waiters have their answer.
const char* write_exit(Shim& s, const siginfo_t& info, int* fd_out) {
  static char json[2048];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char started[32] = "", exited[32];
  if (s.started.tv_sec) format_rfc3339_nano(s.started, started);
  format_rfc3339_nano(now, exited);
  int code = -1, sig = 0;
  bool core = false;
  if (info.si_code == CLD_EXITED) {
    code = info.si_status;
  } else {
    sig = info.si_status;
    core = info.si_code == CLD_DUMPED;
    code = 128 + sig;  // what a shell reports, for callers that only want a number
  }
  FinalStats st = final_stats(s.cfg);
  char err[1300];
  json_escape(s.exec_error, err, sizeof err);
  snprintf(json, sizeof json,
           "{\"exit_code\":%d,\"signal\":%d,\"core_dumped\":%s,\"oom_killed\":%s,"
           "\"oom_kills\":%llu,\"started_at\":\"%s\",\"exited_at\":\"%s\","
           "\"cpu_seconds\":%.6f,\"memory_peak_bytes\":%llu,\"error\":\"%s\"}",
           code, sig, core ? "true" : "false", st.oom_kills > 0 ? "true" : "false", st.oom_kills,
           started, exited, st.cpu_seconds, st.memory_peak, err);
  *fd_out = -1;
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", s.cfg.exit_name);
  int fd = ::openat(s.dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    std::size_t len = std::strlen(json);
    bool ok = ::write(fd, json, len) == static_cast<ssize_t>(len);
    if (ok && ::renameat(s.dirfd, tmp, s.dirfd, s.cfg.exit_name) == 0)
      *fd_out = fd;
    else
      ::close(fd);
  }
  return json;
}

[[noreturn]] void finish(Shim& s) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s.cfg.pidfd), &info, WEXITED) !=
         0) {
    if (errno == EINTR) continue;
    // Not our child: svc-runtime create hands the process to the caller's subreaper (conmon,
    // containerd's shim), which reaps it and has its status; we only saw it go (pidfd POLLIN).
    if (errno == ECHILD && !s.exec_error[0])
      snprintf(s.exec_error, sizeof s.exec_error,
               "the process was reaped by its parent (the caller's subreaper), which has its "
               "exit status");
    info.si_code = CLD_EXITED;
    info.si_status = -1;
    break;
  }
  if (!s.exec_resolved && s.cfg.execerr_r >= 0) on_exec_error(s);
  s.stdio.drain();
  // Waiters are told once the record is in place (whoever sees the socket go can read it), and
  // before it is flushed to disk: a waiter (the daemon) keeps it in its own store, and the
  // flush — two fsyncs, milliseconds — would only delay every task's end. It is on disk before
  // the shim exits, for a daemon that was down.
  int exit_fd = -1;
  const char* json = write_exit(s, info, &exit_fd);
  ::unlinkat(s.dirfd, s.cfg.socket_name, 0);
  s.stdio.finish(json);
  for (auto& c : s.clients) {
    if (c.fd < 0) continue;
    if (c.waiting_exit) {
      send_all(c.fd, "exit ", 5);
      send_all(c.fd, json, std::strlen(json));
      send_all(c.fd, "\n", 1);
    }
    ::close(c.fd);
  }
  if (exit_fd >= 0) {
    ::fdatasync(exit_fd);
    ::fsync(s.dirfd);
  }
  // The shim's own status is the task's (128+N for signal N): a caller that waits for the shim
  // as the container's supervisor (conmon, given the shim's pid by svc-runtime) reads the
  // task's exit code from it, as kata's shim did.
  int code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  ::_exit(code & 0xff);
}

bool parse_int(const char* text, int* out) {
  char* end = nullptr;
  long v = strtol(text, &end, 10);
  if (!end || *end || v < 0 || v > 1 << 30) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_args(int argc, char** argv, Config& cfg) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto fd_arg = [&](const char* name, int* out) {
      if (std::strcmp(a, name) != 0) return false;
      if (!v || !parse_int(v, out)) {
        dprintf(2, "svc-shim: %s needs a number\n", name);
        _exit(2);
      }
      ++i;
      return true;
    };
    if (fd_arg("--pid", &cfg.pid) || fd_arg("--pidfd", &cfg.pidfd) || fd_arg("--ctl", &cfg.ctl) ||
        fd_arg("--start", &cfg.start_w) || fd_arg("--execerr", &cfg.execerr_r) ||
        fd_arg("--stdout", &cfg.out_r) || fd_arg("--stderr", &cfg.err_r) ||
        fd_arg("--stdin", &cfg.stdin_w) || fd_arg("--console", &cfg.console))
      continue;
    // A file name in the sandbox dir: no slash, not empty, not a dot name.
    auto name_arg = [&](const char* name, const char** out) {
      if (std::strcmp(a, name) != 0) return false;
      if (!v || !*v || *v == '.' || std::strchr(v, '/') || std::strlen(v) > 200) {
        dprintf(2, "svc-shim: %s needs a file name\n", name);
        _exit(2);
      }
      *out = v;
      ++i;
      return true;
    };
    if (name_arg("--socket", &cfg.socket_name) || name_arg("--exit", &cfg.exit_name)) continue;
    if (std::strcmp(a, "--dir") == 0 && v) {
      cfg.dir = v;
      ++i;
    } else if (std::strcmp(a, "--log-max") == 0 && v) {
      cfg.log_max = strtoull(v, nullptr, 10);
      ++i;
    } else if (std::strcmp(a, "--cgroup") == 0 && v) {
      if (cfg.n_cgroups < kMaxCgroupDirs) cfg.cgroups[cfg.n_cgroups++] = v;
      ++i;
    } else if (std::strcmp(a, "--autostart") == 0) {
      cfg.autostart = true;
    } else if (std::strcmp(a, "--no-log") == 0) {
      cfg.no_log = true;
    } else {
      dprintf(2, "svc-shim: unknown argument %s\n", a);
      return false;
    }
  }
  return cfg.dir && cfg.pid > 0 && cfg.pidfd >= 0 && cfg.ctl >= 0 && cfg.start_w >= 0 &&
         cfg.execerr_r >= 0;
}

}  // namespace
}  // namespace svc::isolation::shim

int main(int argc, char** argv) {
  using namespace svc::isolation::shim;
  static Shim s;
  if (!parse_args(argc, argv, s.cfg)) {
    dprintf(2,
            "usage: svc-shim --dir D --pid N --pidfd F --ctl F --start F --execerr F "
            "[--stdout F --stderr F --log-max BYTES | --no-log] [--stdin F] [--console F]\n"
            "       [--socket NAME --exit NAME] [--cgroup DIR]... [--autostart]\n"
            "svc-shim is started by the svc runtime; it is not meant to be run by hand.\n");
    return 2;
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  // Nothing in a sandbox may open this process's /proc files (its exe, its fds).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  // O_RDONLY, not O_PATH: the directory is fsync'ed after exit.json is renamed into it.
  s.dirfd = ::open(s.cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  s.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (s.dirfd < 0 || s.ep < 0 || s.timer < 0) {
    // Without these nothing can be recorded; the task dies with us (its pdeath signal).
    dprintf(2, "svc-shim: set-up failed: %s\n", strerror(errno));
    return 1;
  }
  for (int fd : {s.cfg.pidfd, s.cfg.ctl, s.cfg.start_w, s.cfg.execerr_r, s.cfg.out_r, s.cfg.err_r,
                 s.cfg.stdin_w, s.cfg.console})
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(s.cfg.ctl, F_SETFL, O_NONBLOCK);
  StdioConfig io;
  io.out_r = s.cfg.out_r;
  io.err_r = s.cfg.err_r;
  io.console = s.cfg.console;
  io.stdin_w = s.cfg.stdin_w;
  bool has_output = s.cfg.console >= 0 || (s.cfg.out_r >= 0 && s.cfg.err_r >= 0);
  if (has_output && !s.cfg.no_log && g_log.open(s.dirfd, s.cfg.log_max) == 0) io.log = &g_log;
  s.stdio.init(s.ep, io);
  add(s, s.cfg.pidfd, kTagPid);
  add(s, s.cfg.ctl, kTagCtl);
  add(s, s.cfg.execerr_r, kTagExecErr);
  add(s, s.timer, kTagTimer);
  if (s.cfg.autostart) do_start(s);

  struct epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(s.ep, evs, 16, -1);
    if (n < 0 && errno != EINTR) return 1;
    bool exited = false;
    for (int i = 0; i < n; ++i) {
      unsigned long long tag = evs[i].data.u64;
      if (tag < static_cast<unsigned long long>(kMaxClients)) {
        if (s.clients[tag].fd >= 0) on_client(s, static_cast<int>(tag));
      } else if (tag == kTagCtl) {
        on_accept(s);
      } else if (Stdio::owns(tag)) {
        s.stdio.on_event(tag, evs[i].events);
      } else if (tag == kTagExecErr) {
        if (!s.exec_resolved) on_exec_error(s);
      } else if (tag == kTagTimer) {
        unsigned long long ticks;
        if (::read(s.timer, &ticks, sizeof ticks) > 0)
          ::syscall(SYS_pidfd_send_signal, s.cfg.pidfd, SIGKILL, nullptr, 0);
      } else if (tag == kTagPid) {
        exited = true;
      }
    }
    if (exited) finish(s);
  }
}
// NOLINTEND(concurrency-mt-unsafe)
