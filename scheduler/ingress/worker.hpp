#pragma once
// One io thread of the proxy: its io_context (one per core, so connections never change
// threads), the client connections accepted onto it, its pool of idle connections to
// instances, and a sweep that enforces every connection's deadlines from the injected clock
// (one timer per thread rather than one per request; 50 ms resolution).
// Owns its thread, io_context, pool and sweep timer; the connections own themselves
// (shared_ptr held by their coroutines) and attach/detach on this thread.
#include <utility>  // before Asio with g++ 12 in C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "scheduler/ingress/context.hpp"
#include "scheduler/ingress/stream.hpp"
#include "scheduler/ingress/upstream_pool.hpp"

namespace svc::ingress {

class Worker {
 public:
  static constexpr std::chrono::milliseconds kSweep{50};

  Worker(ProxyContext& ctx, std::size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  boost::asio::io_context& io() { return io_; }
  ProxyContext& ctx() { return ctx_; }
  UpstreamPool& pool() { return pool_; }
  std::size_t index() const { return index_; }

  void start();
  // Ends the thread: pending work is dropped (call after the connections have been stopped).
  void join();

  // On this worker's thread.
  void attach(ClientConnection* c) { conns_.insert(c); }
  void detach(ClientConnection* c) { conns_.erase(c); }
  bool stopping() const { return stopping_; }

  // From any thread.
  void post_purge(std::uint64_t serial, std::string why);
  void post_stop(bool force);

 private:
  Task<void> sweep();

  ProxyContext& ctx_;
  std::size_t index_;
  UpstreamPool pool_;
  std::unordered_set<ClientConnection*> conns_;
  std::vector<ClientConnection*> scratch_;
  bool stopping_ = false;
  // Declared after what its handlers touch: destroying it destroys abandoned coroutines.
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer sweep_timer_;
  std::thread thread_;
};

}  // namespace svc::ingress
