#include "isolation/netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

namespace svc::isolation {

NetnsWorker::NetnsWorker() : thread_([this] { loop(); }) {}

NetnsWorker::~NetnsWorker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void NetnsWorker::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

Result<> NetnsWorker::run_in(int netns_fd, const std::function<Result<>()>& fn) {
  std::promise<Result<>> done;
  auto fut = done.get_future();
  {
    std::lock_guard lock(mu_);
    jobs_.push_back([&] {
      // The worker's own namespace, to come back to.
      UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!home) {
        done.set_value(fail_errno("open /proc/thread-self/ns/net"));
        return;
      }
      if (::setns(netns_fd, CLONE_NEWNET) != 0) {
        done.set_value(fail_errno("enter the sandbox's network namespace"));
        return;
      }
      Result<> r = fn();
      if (::setns(home.get(), CLONE_NEWNET) != 0) {
        // A worker stuck in a sandbox's namespace would create every later socket there.
        std::abort();
      }
      done.set_value(std::move(r));
    });
  }
  cv_.notify_one();
  return fut.get();
}

Result<UniqueFd> NetnsWorker::socket_in(int netns_fd, int domain, int type, int protocol) {
  UniqueFd out;
  SVC_TRY(run_in(netns_fd, [&]() -> Result<> {
    out.reset(::socket(domain, type | SOCK_CLOEXEC, protocol));
    if (!out) return fail_errno("socket in the sandbox's network namespace");
    return {};
  }));
  return out;
}

Result<> connect_loopback(int fd, std::uint16_t port, std::chrono::milliseconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return fail_errno(fmt::format("connect to 127.0.0.1:{}", port));
    struct pollfd p = {fd, POLLOUT, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0)
      return fail(Code::kDeadlineExceeded, "connect to 127.0.0.1:{}: no answer within {} ms", port,
                  timeout.count());
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail_errno(err, fmt::format("connect to 127.0.0.1:{}", port));
  }
  ::fcntl(fd, F_SETFL, flags);
  return {};
}

}  // namespace svc::isolation
