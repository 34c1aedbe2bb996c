#include "scheduler/ingress/worker.hpp"

#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace svc::ingress {

namespace asio = boost::asio;

Worker::Worker(ProxyContext& ctx, std::size_t index)
    : ctx_(ctx),
      index_(index),
      pool_(ctx.options.limits.pool_idle_per_instance),
      work_(asio::make_work_guard(io_)),
      sweep_timer_(io_) {}

Worker::~Worker() {
  join();
  pool_.clear();  // before io_: its sockets belong to it
}

void Worker::start() {
  asio::co_spawn(io_, sweep(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::join() {
  if (!thread_.joinable()) return;
  work_.reset();
  io_.stop();
  thread_.join();
}

Task<void> Worker::sweep() {
  int ticks = 0;
  for (;;) {
    sweep_timer_.expires_after(kSweep);
    boost::system::error_code ec;
    co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    SteadyTime now = ctx_.clock.steady_now();
    scratch_.assign(conns_.begin(), conns_.end());
    for (ClientConnection* c : scratch_)
      if (conns_.count(c)) c->check_deadline(now);
    if (++ticks % 20 == 0) pool_.expire(now - ctx_.options.timeouts.keep_alive_idle);
  }
}

void Worker::post_purge(std::uint64_t serial, std::string why) {
  asio::post(io_, [this, serial, why = std::move(why)] {
    pool_.purge(serial);
    scratch_.assign(conns_.begin(), conns_.end());
    for (ClientConnection* c : scratch_)
      if (conns_.count(c)) c->abort_instance(serial, why);
  });
}

void Worker::post_stop(bool force) {
  asio::post(io_, [this, force] {
    stopping_ = true;
    scratch_.assign(conns_.begin(), conns_.end());
    for (ClientConnection* c : scratch_)
      if (conns_.count(c)) c->stop(force);
    if (force) pool_.clear();
  });
}

}  // namespace svc::ingress
