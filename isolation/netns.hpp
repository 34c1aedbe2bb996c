#pragma once
// Sockets made inside another network namespace. A socket belongs to the namespace of the thread
// that created it (and stays there), and setns(CLONE_NEWNET) switches only the calling thread,
// so one worker thread hops into the target namespace, creates the socket, and hops back; the
// caller then connects (or hands the fd to an event loop) from any thread.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

// Owns its worker thread (joined by the destructor) and an fd of the namespace it returns to.
class NetnsWorker {
 public:
  NetnsWorker();
  ~NetnsWorker();
  NetnsWorker(const NetnsWorker&) = delete;
  NetnsWorker& operator=(const NetnsWorker&) = delete;

  // socket(domain, type, protocol) inside the namespace netns_fd refers to; CLOEXEC is added.
  Result<UniqueFd> socket_in(int netns_fd, int domain, int type, int protocol = 0);
  // Runs fn inside the namespace on the worker (for short netlink or ioctl work).
  Result<> run_in(int netns_fd, const std::function<Result<>()>& fn);

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

// Connects fd (non-blocking during the connect) to 127.0.0.1:port within the timeout.
Result<> connect_loopback(int fd, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace svc::isolation
