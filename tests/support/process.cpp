#include "tests/support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

extern char** environ;

namespace svc::test {

namespace {

std::vector<char*> make_env(const std::map<std::string, std::string>& extra,
                            std::vector<std::string>& storage) {
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq))) continue;
    storage.push_back(kv);
  }
  for (const auto& [k, v] : extra) storage.push_back(k + "=" + v);
  std::vector<char*> out;
  for (auto& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// What execvpe needs, kept alive by the caller: argv and envp as char* arrays over owned strings.
struct ExecArgs {
  std::vector<std::string> args, env_storage;
  std::vector<char*> argv, envp;
  ExecArgs(const std::vector<std::string>& a, const std::map<std::string, std::string>& extra)
      : args(a) {
    envp = make_env(extra, env_storage);
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
  }
};

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

bool is_root() { return ::geteuid() == 0; }

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::map<std::string, std::string>& extra_env, const std::string& stdin_data) {
  RunResult r;
  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) || ::pipe2(in, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  ExecArgs exec(argv, extra_env);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execvpe(exec.argv[0], exec.argv.data(), exec.envp.data());
    std::fprintf(stderr, "exec %s: %s\n", exec.argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  if (!stdin_data.empty()) {
    ssize_t ignored = ::write(in[1], stdin_data.data(), stdin_data.size());
    (void)ignored;
  }
  ::close(in[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      if (got <= 0) {
        (i == 0 ? out_open : err_open) = false;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  if (r.timed_out) {
    ::waitpid(pid, &status, 0);
  } else {
    // Output closed; the process may still be exiting.
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  r.exit_code = decode(status);
  return r;
}

RunResult sh(const std::string& command, std::chrono::milliseconds timeout) {
  return run({"/bin/sh", "-c", command}, timeout);
}

Background::Background(const std::vector<std::string>& argv, const std::string& log_path,
                       const std::map<std::string, std::string>& extra_env) {
  ExecArgs exec(argv, extra_env);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // A server a test starts dies with the test, even when the test is killed (a ctest timeout)
    // and its destructors never run: no registry or svcd is left re-parented to init. And it
    // keeps none of the test's fds: a bench run under `flock /tmp/svc-bench.lock` must not
    // leave the lock held by a child that outlived it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) ::_exit(127);  // the test died before prctl
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null >= 0) ::dup2(null, 0);
    ::execvpe(exec.argv[0], exec.argv.data(), exec.envp.data());
    std::fprintf(stderr, "exec %s: %s\n", exec.argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
}

Background::~Background() { kill_now(); }

bool Background::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = decode(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Background::stop(int sig, std::chrono::milliseconds timeout) {
  if (status_) return status_;
  ::kill(pid_, sig);
  if (!wait_for([&] { return !running(); }, timeout)) return std::nullopt;
  return status_;
}

void Background::kill_now() {
  if (pid_ <= 0 || status_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = decode(status);
}

}  // namespace svc::test
