#include "scheduler/ingress/readiness.hpp"

#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <fmt/format.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "scheduler/ingress/http1_upstream.hpp"
#include "scheduler/ingress/worker.hpp"

namespace svc::ingress {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::nanoseconds kFast = 100us;
constexpr std::chrono::nanoseconds kFastFor = 25ms;
constexpr std::chrono::nanoseconds kSlowest = 10ms;
// One HTTP probe may take this long before it counts as a failed attempt.
constexpr std::chrono::milliseconds kHttpAttempt = 1000ms;

// GET path on a connected upstream; the status, or 0 with why set.
Task<int> http_probe(Worker& worker, Http1Upstream& up, const std::string& path, std::string& why) {
  RequestHead head;
  head.method = "GET";
  head.path = path;
  head.authority = "localhost";
  head.fields.push_back(Field{"User-Agent", "svc-ingress-readiness"});
  head.fields.push_back(Field{"Connection", "close"});
  // The attempt's own deadline: closing the socket ends whatever it waits on.
  auto done = std::make_shared<bool>(false);
  asio::steady_timer deadline(worker.io());
  deadline.expires_after(kHttpAttempt);
  deadline.async_wait([done, &up](const error_code& ec) {
    if (!ec && !*done) up.cancel();
  });
  Pieces none;
  int status = 0;
  if (co_await up.send_head(head, {}, none, true) == Io::kOk) {
    Io r = co_await up.read_head(false);
    if (r == Io::kOk)
      status = up.head().status;
    else
      why = r == Io::kCancelled ? fmt::format("GET {} took over {} ms", path, kHttpAttempt.count())
                                : up.error();
  } else {
    why = up.error();
  }
  *done = true;
  deadline.cancel();
  co_return status;
}

Task<void> probe(Worker& worker, std::shared_ptr<Instance> inst) {
  ProxyContext& ctx = worker.ctx();
  Activator& activator = ctx.activator;
  const SteadyTime start = ctx.clock.steady_now();
  asio::steady_timer timer(worker.io());
  std::string last_error = "nothing answered yet";
  int attempts = 0;
  const auto& ep = inst->endpoint;
  const auto& readiness = inst->readiness;
  for (;;) {
    if (ctx.stopping || !activator.probing(*inst)) co_return;
    SteadyTime now = ctx.clock.steady_now();
    auto elapsed = now - start;
    if (elapsed >= readiness.timeout) {
      activator.mark_not_ready(
          inst, fmt::format("port {} did not {} within {} ms ({} probes); last: {}", ep.port,
                            readiness.http_path.empty()
                                ? std::string("accept connections")
                                : fmt::format("answer GET {} with 2xx or 3xx", readiness.http_path),
                            readiness.timeout.count(), attempts, last_error));
      co_return;
    }
    ++attempts;
    auto up = std::make_unique<Http1Upstream>(worker.io(), inst, ctx.options.limits);
    if (co_await up->connect() == Io::kOk) {
      if (readiness.http_path.empty()) {
        activator.mark_ready(inst);
        worker.pool().put(std::move(up), ctx.clock.steady_now());  // the first request's
        co_return;
      }
      std::string why;
      int status = co_await http_probe(worker, *up, readiness.http_path, why);
      if (status >= 200 && status < 400) {
        activator.mark_ready(inst);
        co_return;
      }
      last_error = status ? fmt::format("GET {} answered {}", readiness.http_path, status) : why;
    } else {
      last_error = up->error();
    }
    up.reset();
    timer.expires_after(probe_interval(elapsed));
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

std::chrono::nanoseconds probe_interval(std::chrono::nanoseconds elapsed) {
  if (elapsed < kFastFor) return kFast;
  return std::clamp(elapsed / 25, kFast, kSlowest);
}

void start_probe(Worker& worker, std::shared_ptr<Instance> instance) {
  // Spawned from the worker's own thread: callers are the control plane's threads.
  asio::post(worker.io(), [&worker, instance = std::move(instance)]() mutable {
    asio::co_spawn(worker.io(), probe(worker, std::move(instance)), asio::detached);
  });
}

}  // namespace svc::ingress
