#include "scheduler/ingress/exchange.hpp"

#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "scheduler/ingress/cold_start.hpp"
#include "scheduler/ingress/host_routing.hpp"
#include "scheduler/ingress/http1_upstream.hpp"
#include "scheduler/ingress/http_rules.hpp"
#include "scheduler/ingress/worker.hpp"

namespace svc::ingress {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// The status recorded for a client that left before its response ended (nginx's convention;
// never sent on the wire).
constexpr int kClientClosed = 499;

std::string human(Millis d) {
  auto ms = d.count();
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace

Exchange::Exchange(Worker& worker) : worker_(worker), wake_(worker.io()), pump_join_(worker.io()) {}

Exchange::~Exchange() = default;

SteadyTime Exchange::now() const { return worker_.ctx().clock.steady_now(); }

// --- Waiter: any thread -------------------------------------------------------------------------

void Exchange::granted(std::uint64_t wait_id, Lease lease) {
  auto self = self_.lock();
  if (!self) return;  // the connection is gone: the lease frees itself
  asio::post(worker_.io(), [this, self, wait_id, lease = std::move(lease)]() mutable {
    if (phase_ != Phase::kQueued || wait_id != wait_id_ || outcome_ready_) return;
    lease_ = std::move(lease);
    outcome_ready_ = true;
    wake_.cancel();
  });
}

void Exchange::rejected(std::uint64_t wait_id, int status, std::string reason) {
  auto self = self_.lock();
  if (!self) return;
  asio::post(worker_.io(), [this, self, wait_id, status, reason = std::move(reason)]() mutable {
    if (phase_ != Phase::kQueued || wait_id != wait_id_ || outcome_ready_) return;
    rejected_status_ = status;
    rejected_reason_ = std::move(reason);
    outcome_ready_ = true;
    wake_.cancel();
  });
}

// --- worker thread ------------------------------------------------------------------------------

void Exchange::check_deadline(SteadyTime t) {
  switch (phase_) {
    case Phase::kQueued:
      if (t >= deadline_ && !timed_out_) {
        timed_out_ = true;
        wake_.cancel();
      }
      break;
    case Phase::kConnecting:
    case Phase::kAwaitingResponse:
      if ((t >= deadline_ || t >= phase_deadline_) && !timed_out_) {
        timed_out_ = true;
        if (up_) up_->cancel();
        if (pump_running_) down_->cancel();
      }
      break;
    case Phase::kStreaming:
      if (t >= phase_deadline_ && !timed_out_) {
        timed_out_ = true;
        if (up_) up_->cancel();
        down_->cancel();
      }
      break;
    case Phase::kIdle:
      break;
  }
}

void Exchange::abort_instance(std::uint64_t serial, const std::string& why) {
  if (phase_ == Phase::kIdle || phase_ == Phase::kQueued || !lease_) return;
  if (lease_.instance()->serial != serial) return;
  instance_gone_ = why.empty() ? "the instance was removed" : why;
  if (up_) up_->cancel();
}

// --- the request --------------------------------------------------------------------------------

Task<void> Exchange::run(Downstream& down) {
  down_ = &down;
  const RequestHead& head = down.head();
  ProxyContext& ctx = worker_.ctx();
  arrival_ = now();
  wall_arrival_ = ctx.clock.now();
  metrics_.reset();
  revision_.reset();
  outcome_ready_ = false;
  rejected_status_ = 0;
  rejected_reason_.clear();
  timed_out_ = false;
  instance_gone_.clear();
  response_started_ = false;
  keep_alive_ = head.keep_alive && !ctx.stopping;
  request_bytes_ = response_bytes_ = 0;
  server_timing_.clear();
  record_ = RequestRecord{};
  record_.time = wall_arrival_;
  record_.method.assign(head.method);
  record_.path.assign(head.path_only());
  record_.client.assign(down.client_ip());

  auto service = service_for_host(head.authority, ctx.domain);
  if (!service && !ctx.options.metrics_path.empty() &&
      head.path_only() == ctx.options.metrics_path &&
      (head.method == "GET" || head.method == "HEAD")) {
    // Computed before the co_await: g++ 12 evaluates both arms of a conditional inside a
    // co_await's arguments (it called the empty std::function: bad_function_call).
    std::string text;
    if (ctx.options.metrics)
      text = ctx.options.metrics();
    else
      text = render_metrics(ctx.activator.gauges(), ctx.counters);
    co_await respond(200, std::move(text));
    phase_ = Phase::kIdle;
    co_return;
  }
  if (!service) {
    ctx.counters.unrouted.fetch_add(1, std::memory_order_relaxed);
    std::string body = head.authority.empty()
                           ? fmt::format(
                                 "no service: the request names no host (services answer at "
                                 "NAME.{})\n",
                                 ctx.domain)
                           : fmt::format(
                                 "no service answers at {}: services answer at NAME.{} "
                                 "(svctl services lists them)\n",
                                 head.authority, ctx.domain);
    co_await respond(404, std::move(body));
    phase_ = Phase::kIdle;
    co_return;  // no record: the request belongs to no service
  }
  record_.service.assign(service->view());

  Admit a = co_await admit();
  if (a == Admit::kProceed) co_await proxy();
  lease_ = Lease{};  // frees the slot (and hands it to the next held request)
  up_.reset();
  revision_.reset();
  phase_ = Phase::kIdle;
  if (metrics_) worker_.ctx().control.on_request(record_);
  metrics_.reset();
}

Task<Exchange::Admit> Exchange::admit() {
  ProxyContext& ctx = worker_.ctx();
  const std::string service = record_.service;
  // A grant can turn stale (the instance was removed before anything was sent to it): admit
  // again, a bounded number of times.
  for (int attempt = 0; attempt < 4; ++attempt) {
    ++wait_id_;
    outcome_ready_ = false;
    Admission adm = ctx.activator.admit(service, self_.lock(), wait_id_, arrival_);
    if (adm.metrics) metrics_ = adm.metrics;
    if (adm.revision) {
      revision_ = adm.revision;
      record_.revision = revision_->name;
    }
    deadline_ = arrival_ + adm.request_timeout;
    switch (adm.kind) {
      case Admission::Kind::kUnknownService:
        ctx.counters.unrouted.fetch_add(1, std::memory_order_relaxed);
        co_await respond(404, fmt::format("no service answers at {}: services answer at "
                                          "NAME.{} (svctl services lists them)\n",
                                          down_->head().authority, ctx.domain));
        metrics_.reset();  // not a request of a known service: no record
        co_return Admit::kAnswered;
      case Admission::Kind::kNoRevision:
        co_await respond(503, fmt::format("service {} has no revision to route to (svctl service "
                                          "describe {})\n",
                                          service, service));
        co_return Admit::kAnswered;
      case Admission::Kind::kShuttingDown:
        co_await respond(503, "the ingress is shutting down: retry shortly\n", "Retry-After: 1\r\n",
                         true);
        co_return Admit::kAnswered;
      case Admission::Kind::kQueueFull:
        co_await respond(503,
                         fmt::format("service {} is at capacity: its queue of requests waiting for "
                                     "an instance is full; retry shortly\n",
                                     service),
                         "Retry-After: 1\r\n");
        co_return Admit::kAnswered;
      case Admission::Kind::kGranted:
        lease_ = std::move(adm.lease);
        break;
      case Admission::Kind::kQueued: {
        phase_ = Phase::kQueued;
        while (!outcome_ready_) {
          if (timed_out_) {
            if (ctx.activator.cancel(*revision_, this, wait_id_)) {
              phase_ = Phase::kIdle;
              metrics_->timeouts.fetch_add(1, std::memory_order_relaxed);
              co_await respond(504, fmt::format("service {} had no instance free to answer within "
                                                "{} (its request timeout)\n",
                                                service, human(adm.request_timeout)));
              co_return Admit::kAnswered;
            }
            timed_out_ = false;  // the outcome is on its way: wait for it
          }
          wake_.expires_at(SteadyTime::max());
          error_code ec;
          co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        phase_ = Phase::kIdle;
        if (!lease_) {
          // Built before the co_await: g++ 12 destroys a conditional's temporary twice when it
          // is a coroutine's argument (found by ASan).
          std::string body;
          std::string_view extra;
          if (rejected_status_ == 502) {
            body = fmt::format("service {} could not start an instance: {}\n", service,
                               rejected_reason_);
          } else {
            body = fmt::format("service {}: {}\n", service, rejected_reason_);
            if (rejected_status_ == 503) extra = "Retry-After: 1\r\n";
          }
          co_await respond(rejected_status_, std::move(body), extra);
          co_return Admit::kAnswered;
        }
        break;
      }
    }
    if (!lease_.instance()->gone) co_return Admit::kProceed;
    lease_ = Lease{};
  }
  co_await respond(503,
                   fmt::format("service {}: its instances left while the request waited; "
                               "retry shortly\n",
                               service),
                   "Retry-After: 1\r\n");
  co_return Admit::kAnswered;
}

bool Exchange::retryable(bool write_failed) const {
  // A pooled connection the instance closed meanwhile: go again on a fresh one when the
  // instance cannot have acted on the request: nothing of a response came back, the whole
  // request is still at hand, and either the write itself failed or the method is idempotent.
  if (!up_ || !up_->reused() || up_->got_response_bytes() || !request_sent_whole_) return false;
  if (!instance_gone_.empty() || timed_out_) return false;
  return write_failed || is_idempotent(down_->head().method);
}

Task<Io> Exchange::connect_and_send(bool pooled_ok) {
  ProxyContext& ctx = worker_.ctx();
  const RequestHead& head = down_->head();
  connect_failed_ = false;
  for (int attempt = 0;; ++attempt) {
    up_ = attempt == 0 && pooled_ok ? worker_.pool().take(*lease_.instance()) : nullptr;
    if (!up_) {
      up_ = std::make_unique<Http1Upstream>(worker_.io(), lease_.instance(), ctx.options.limits);
      phase_ = Phase::kConnecting;
      phase_deadline_ = now() + ctx.options.timeouts.upstream_connect;
      Io c = co_await up_->connect();
      if (c != Io::kOk) {
        connect_failed_ = true;
        co_return c;
      }
    }
    phase_ = Phase::kAwaitingResponse;
    phase_deadline_ = SteadyTime::max();
    sent_at_ = now();
    Io w = co_await up_->send_head(head, forwarding_, request_pieces_, request_sent_whole_);
    if (w == Io::kOk) co_return w;
    if (attempt == 0 && retryable(true)) continue;
    co_return w;
  }
}

Task<void> Exchange::proxy() {
  ProxyContext& ctx = worker_.ctx();
  const RequestHead& head = down_->head();
  std::string id = lease_.instance()->endpoint.id;
  record_.instance = id;
  forwarding_.clear();
  append_forwarding(forwarding_, head.fields, down_->client_ip(), head.authority, down_->scheme());
  request_pieces_.clear();
  Io first = down_->take_buffered_body(request_pieces_);
  if (first == Io::kBad) {
    down_->mark_unusable();
    co_await respond(400, "malformed request body\n", {}, true);
    co_return;
  }
  request_sent_whole_ = !head.has_body() || first == Io::kEnd;
  for (auto p : request_pieces_) request_bytes_ += p.size();

  bool moved = false;
  for (int attempt = 0;; ++attempt) {
    Io sent = co_await connect_and_send(attempt == 0);
    if (sent != Io::kOk && connect_failed_ && !moved && !timed_out_) {
      // The instance could not be reached (its app stopped listening, or it is exiting):
      // nothing of the request reached it, so any method may go to another ready instance
      // with a free slot, once.
      std::string why = !instance_gone_.empty() ? instance_gone_ : up_->error();
      // Refused: nothing listens on its port. Nothing new goes to it, and the control plane
      // hears so (and replaces it).
      const bool refused = instance_gone_.empty() && up_ && up_->refused();
      if (refused) ctx.activator.refused(*lease_.instance(), why);
      if (Lease other = ctx.activator.grant_other(*revision_, *lease_.instance())) {
        ctx.activator.report_upstream_error(*lease_.instance(),
                                            why + " (the request went to another instance)");
        moved = true;
        up_.reset();
        lease_ = std::move(other);
        instance_gone_.clear();
        id = lease_.instance()->endpoint.id;
        record_.instance = id;
        attempt = -1;  // the new instance from its first attempt: pooled connections first
        continue;
      }
      if (refused) {
        // No other instance has room: the request waits for one, as a request at zero does
        // (it was never sent), instead of failing. Its deadline is still its arrival's.
        moved = true;
        up_.reset();
        lease_ = Lease{};
        Admit again = co_await admit();
        if (again != Admit::kProceed) co_return;  // admit() answered it (504, 503, ...)
        id = lease_.instance()->endpoint.id;
        record_.instance = id;
        attempt = -1;
        continue;
      }
    }
    if (sent == Io::kOk) {
      if (attempt == 0 && !request_sent_whole_) {
        down_->release_head();
        if (head.expect_continue && (co_await down_->send_continue()) != Io::kOk) {
          finish_record(kClientClosed);
          co_return;
        }
        start_pump();
      }
      // The response head, past interim 1xx ones (the proxy answered 100-continue itself).
      Io r;
      for (;;) {
        r = co_await up_->read_head(head.method == "HEAD");
        if (r != Io::kOk || up_->head().status >= 200) break;
      }
      if (r == Io::kOk) break;
      if (attempt == 0 && retryable(false)) {
        up_.reset();
        continue;
      }
    }
    // No response: answer for the instance.
    co_await stop_pump();
    if (pump_client_gone_) {
      metrics_->client_aborts.fetch_add(1, std::memory_order_relaxed);
      finish_record(kClientClosed);
      co_return;
    }
    if (pump_bad_body_) {
      co_await respond(400, "malformed request body (bad chunked framing)\n", {}, true);
      co_return;
    }
    if (timed_out_) {
      metrics_->timeouts.fetch_add(1, std::memory_order_relaxed);
      co_await respond(504,
                       fmt::format("service {}: instance {} did not start answering within "
                                   "the request timeout\n",
                                   record_.service, id),
                       {}, !request_sent_whole_);
      co_return;
    }
    std::string why = !instance_gone_.empty() ? instance_gone_ : up_ ? up_->error() : "";
    metrics_->upstream_errors.fetch_add(1, std::memory_order_relaxed);
    ctx.activator.report_upstream_error(*lease_.instance(), why);
    co_await respond(
        502,
        fmt::format("service {}: instance {} failed the request: {}\n", record_.service, id, why),
        {}, !request_sent_whole_);
    co_return;
  }
  co_await stream_response();
}

Task<void> Exchange::stream_response() {
  ProxyContext& ctx = worker_.ctx();
  const RequestHead& req = down_->head();
  const ResponseHead& resp = up_->head();
  first_byte_at_ = now();
  phase_ = Phase::kStreaming;
  phase_deadline_ = first_byte_at_ + ctx.options.timeouts.body_idle;

  ResponseOut out;
  out.head = &resp;
  if (resp.no_body)
    out.framing = Framing::kNone;
  else if (resp.content_length)
    out.framing = Framing::kLength;
  else if (req.version >= 11)
    out.framing = Framing::kChunked;
  else
    out.framing = Framing::kUntilClose;
  if (out.framing == Framing::kUntilClose) keep_alive_ = false;
  out.close = !keep_alive_;
  if (lease_.cold()) {
    ColdPhases phases = *lease_.cold();
    phases.first_byte = first_byte_at_ - sent_at_;
    append_server_timing(server_timing_, phases);
    out.server_timing = server_timing_;
    record_.cold_start = to_cold_start(phases);
    if (lease_.cold_primary()) {
      metrics_->cold_starts.fetch_add(1, std::memory_order_relaxed);
      metrics_->cold_phases[static_cast<int>(ColdPhase::kQueue)].observe(phases.queue);
      metrics_->cold_phases[static_cast<int>(ColdPhase::kSandbox)].observe(phases.sandbox);
      metrics_->cold_phases[static_cast<int>(ColdPhase::kReadiness)].observe(phases.readiness);
      metrics_->cold_phases[static_cast<int>(ColdPhase::kFirstByte)].observe(phases.first_byte);
    }
  }

  response_pieces_.clear();
  Io b = out.framing == Framing::kNone ? Io::kEnd : up_->take_buffered_body(response_pieces_);
  bool upstream_failed = b == Io::kBad;
  bool last = b == Io::kEnd;
  for (auto p : response_pieces_) response_bytes_ += p.size();
  response_started_ = true;
  Io w = co_await down_->send_head(out, response_pieces_, last);
  up_->release_head();
  while (w == Io::kOk && !last && !upstream_failed) {
    b = co_await up_->read_body(response_pieces_);
    if (b != Io::kOk && b != Io::kEnd) {
      upstream_failed = true;
      break;
    }
    last = b == Io::kEnd;
    phase_deadline_ = now() + ctx.options.timeouts.body_idle;
    for (auto p : response_pieces_) response_bytes_ += p.size();
    w = co_await down_->send_body(response_pieces_, last);
  }
  int status = resp.status;
  // The pump cuts the instance off when the client leaves mid-body: that read failed because of
  // the client, not the instance, which must not be blamed for it.
  if (w != Io::kOk || (upstream_failed && pump_client_gone_)) {
    // The client left (or was cut off by the body-idle deadline) mid-response.
    down_->mark_unusable();
    keep_alive_ = false;
    metrics_->client_aborts.fetch_add(1, std::memory_order_relaxed);
    status = kClientClosed;
  } else if (upstream_failed) {
    // Too late for a 502: the client sees the connection end before the body does.
    down_->mark_unusable();
    down_->cancel();
    keep_alive_ = false;
    if (timed_out_) {
      // Nothing moved either way for body_idle: neither side is known to have failed.
      metrics_->timeouts.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::string why = !instance_gone_.empty() ? instance_gone_ : up_->error();
      metrics_->upstream_errors.fetch_add(1, std::memory_order_relaxed);
      ctx.activator.report_upstream_error(*lease_.instance(), why);
    }
  }
  if (pump_running_) {
    // The instance answered before the client finished its body: stop reading it.
    keep_alive_ = false;
    down_->mark_unusable();
  }
  co_await stop_pump();
  if (pump_client_gone_ || pump_bad_body_) keep_alive_ = false;
  if (status != kClientClosed) metrics_->count_response(status, now() - arrival_);
  finish_record(status);
  if (up_ && up_->reusable() && !upstream_failed && !pump_upstream_failed_)
    worker_.pool().put(std::move(up_), now());
}

// --- the request body, pumped up while the response is read ------------------------------------

void Exchange::start_pump() {
  pump_running_ = true;
  pump_client_gone_ = pump_bad_body_ = pump_upstream_failed_ = false;
  auto self = self_.lock();
  asio::co_spawn(worker_.io(), pump_body(), [this, self](std::exception_ptr) {
    pump_running_ = false;
    pump_join_.cancel();
  });
}

Task<void> Exchange::pump_body() {
  Pieces pieces;
  for (;;) {
    Io r = co_await down_->read_body(pieces);
    if (r == Io::kClosed || r == Io::kCancelled) {
      pump_client_gone_ = r == Io::kClosed;
      if (up_) up_->cancel();  // the instance must not take a cut body as a whole one
      co_return;
    }
    if (r == Io::kBad) {
      pump_bad_body_ = true;
      if (up_) up_->cancel();
      co_return;
    }
    for (auto p : pieces) request_bytes_ += p.size();
    // A body still moving keeps a streaming exchange alive (an /echo-like app answers only
    // as fast as the client uploads).
    if (phase_ == Phase::kStreaming)
      phase_deadline_ = now() + worker_.ctx().options.timeouts.body_idle;
    Io w = co_await up_->send_body(pieces, r == Io::kEnd);
    if (w != Io::kOk) {
      pump_upstream_failed_ = true;
      down_->mark_unusable();  // the rest of the body stays unread
      co_return;
    }
    if (r == Io::kEnd) co_return;
  }
}

Task<void> Exchange::stop_pump() {
  if (!pump_running_) co_return;
  // Ends it if it is still blocked on either side.
  if (up_) up_->cancel();
  down_->cancel();
  while (pump_running_) {
    pump_join_.expires_at(SteadyTime::max());
    error_code ec;
    co_await pump_join_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// --- answers of the proxy's own -----------------------------------------------------------------

Task<void> Exchange::respond(int status, std::string body, std::string_view extra, bool close) {
  if (close) {
    keep_alive_ = false;
    down_->mark_unusable();
  }
  if (!keep_alive_) close = true;
  if (metrics_) metrics_->count_response(status, now() - arrival_);
  Io w = co_await down_->send_local(status, body, extra, close);
  if (w != Io::kOk) keep_alive_ = false;
  finish_record(status);
}

void Exchange::finish_record(int status) {
  record_.status = status;
  record_.duration = std::chrono::duration_cast<Millis>(now() - arrival_);
  record_.request_bytes = request_bytes_;
  record_.response_bytes = response_bytes_;
}

}  // namespace svc::ingress
