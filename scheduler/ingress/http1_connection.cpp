#include "scheduler/ingress/http1_connection.hpp"

#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <fmt/format.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "scheduler/ingress/http1_writer.hpp"
#include "scheduler/ingress/worker.hpp"

namespace svc::ingress {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

// After a final "Connection: close" answer, read and drop what the client still sends for at
// most this long (or this much), then close: closing with unread bytes makes the kernel send a
// reset that can destroy the answer before the client reads it (nginx's lingering_close).
constexpr std::chrono::milliseconds kLinger{2000};
constexpr std::size_t kLingerBytes = 1 << 20;

std::string peer_ip(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string();
  return addr.to_string();
}

}  // namespace

Http1Connection::Http1Connection(Worker& worker, tcp::socket socket)
    : worker_(worker),
      socket_(std::move(socket)),
      buf_(worker.ctx().options.limits.io_buffer_bytes),
      parser_(worker.ctx().options.limits),
      exchange_(worker) {
  worker_.ctx().counters.connections_open.fetch_add(1, std::memory_order_relaxed);
  worker_.ctx().counters.connections_total.fetch_add(1, std::memory_order_relaxed);
}

Http1Connection::~Http1Connection() {
  worker_.ctx().counters.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t Http1Connection::read_limit() const {
  const Limits& l = worker_.ctx().options.limits;
  return l.max_header_bytes + l.io_buffer_bytes;
}

Task<void> Http1Connection::run(std::shared_ptr<Http1Connection> self) {
  exchange_.bind(std::shared_ptr<Waiter>(self, &exchange_));
  worker_.attach(this);
  client_ip_ = peer_ip(socket_);
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  const Timeouts& timeouts = worker_.ctx().options.timeouts;

  for (;;) {
    state_ = State::kIdle;
    deadline_ = worker_.ctx().clock.steady_now() + timeouts.keep_alive_idle;
    if (closing_ || worker_.stopping()) break;
    Parse p = co_await read_head();
    if (p == Parse::kNeedMore) {
      // EOF, a reset, the idle deadline or a stop: quietly, unless a head was cut off by its
      // deadline (408, as nginx answers a slow client).
      if (timed_out_ && state_ == State::kHead) {
        co_await refuse(ParseError{408, "the request head did not arrive in time"});
      }
      break;
    }
    if (p == Parse::kError) {
      co_await refuse(parser_.error());
      break;
    }
    state_ = State::kExchange;
    head_pinned_ = true;
    unusable_ = false;
    continue_sent_ = false;
    pending_ = 0;
    co_await exchange_.run(*this);
    buf_.consume(pending_);
    pending_ = 0;
    if (!parser_.body_done()) unusable_ = true;  // the rest of the body would read as a request
    if (unusable_ || !exchange_.keep_alive()) break;
  }
  if (!closing_ && socket_.is_open()) co_await linger();
  socket_.close(ec);
  worker_.detach(this);
}

Task<Parse> Http1Connection::read_head() {
  parser_.reset();
  timed_out_ = false;
  for (;;) {
    // RFC 9112 2.2: empty lines before a request line are ignored (some clients send a CRLF
    // after a POST body).
    while (buf_.size() >= 2 && buf_.view().substr(0, 2) == "\r\n") buf_.consume(2);
    if (!buf_.empty()) {
      if (state_ == State::kIdle) {
        state_ = State::kHead;
        deadline_ = worker_.ctx().clock.steady_now() + worker_.ctx().options.timeouts.header_read;
      }
      Parse r = parser_.parse_head(buf_.view());
      if (r == Parse::kDone) {
        buf_.consume(parser_.head().head_bytes);  // views stay valid: pinned until sent on
        co_return r;
      }
      if (r == Parse::kError) co_return r;
    }
    auto room = buf_.prepare(read_limit(), true);
    if (room.empty()) co_return Parse::kError;  // cannot happen: parse_head refuses first
    error_code ec;
    std::size_t n = co_await socket_.async_read_some(asio::buffer(room.data(), room.size()),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Parse::kNeedMore;
    buf_.commit(n);
  }
}

Task<void> Http1Connection::refuse(const ParseError& error) {
  worker_.ctx().counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
  std::string body = fmt::format("{}\n", error.what);
  write_local_response(out_, error.status, body, {}, true, 11, false);
  error_code ec;
  co_await asio::async_write(socket_, asio::buffer(out_),
                             asio::redirect_error(asio::use_awaitable, ec));
}

Task<void> Http1Connection::linger() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  state_ = State::kLinger;
  deadline_ = worker_.ctx().clock.steady_now() + kLinger;
  std::size_t dropped = 0;
  char sink[4096];
  while (dropped < kLingerBytes && !closing_) {
    std::size_t n = co_await socket_.async_read_some(asio::buffer(sink),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    dropped += n;
  }
}

// --- deadlines, removal, stop (worker thread) -----------------------------------------------

void Http1Connection::check_deadline(SteadyTime now) {
  switch (state_) {
    case State::kIdle:
    case State::kHead:
    case State::kLinger:
      if (now >= deadline_ && !timed_out_) {
        timed_out_ = true;
        error_code ec;
        socket_.cancel(ec);
      }
      break;
    case State::kExchange:
      exchange_.check_deadline(now);
      break;
  }
}

void Http1Connection::abort_instance(std::uint64_t serial, const std::string& why) {
  if (state_ == State::kExchange) exchange_.abort_instance(serial, why);
}

void Http1Connection::stop(bool force) {
  error_code ec;
  if (force) {
    closing_ = true;
    socket_.close(ec);
    return;
  }
  // Idle: close now. Busy: the exchange finishes and the loop sees the worker stopping.
  if (state_ == State::kIdle || state_ == State::kLinger) {
    closing_ = state_ == State::kIdle;
    socket_.cancel(ec);
  }
}

// --- Downstream ----------------------------------------------------------------------------------

Io Http1Connection::parse_buffered(Pieces& pieces) {
  if (parser_.body_done()) return Io::kEnd;
  while (!buf_.empty()) {
    std::size_t used = 0;
    Parse r = parser_.parse_body(buf_.view(), pieces, used);
    if (r == Parse::kError) {
      unusable_ = true;
      return Io::kBad;
    }
    if (!pieces.empty() || r == Parse::kDone) {
      pending_ = used;
      return r == Parse::kDone ? Io::kEnd : Io::kOk;
    }
    if (used == 0) break;
    buf_.consume(used);
  }
  return Io::kOk;
}

Io Http1Connection::take_buffered_body(Pieces& pieces) {
  pieces.clear();
  return parse_buffered(pieces);
}

Task<Io> Http1Connection::read_body(Pieces& pieces) {
  pieces.clear();
  buf_.consume(pending_);
  pending_ = 0;
  for (;;) {
    Io r = parse_buffered(pieces);
    if (r != Io::kOk || !pieces.empty()) co_return r;
    auto room = buf_.prepare(read_limit(), !head_pinned_);
    if (room.empty()) {
      unusable_ = true;
      co_return Io::kBad;
    }
    error_code ec;
    std::size_t n = co_await socket_.async_read_some(asio::buffer(room.data(), room.size()),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      unusable_ = true;
      co_return ec == asio::error::operation_aborted ? Io::kCancelled : Io::kClosed;
    }
    buf_.commit(n);
  }
}

void Http1Connection::cancel() {
  error_code ec;
  socket_.cancel(ec);
}

Task<Io> Http1Connection::write(const Pieces& body, bool last, bool with_head) {
  iov_.clear();
  if (with_head) iov_.emplace_back(out_.data(), out_.size());
  bool chunked = framing_ == Framing::kChunked;
  std::size_t total = 0;
  for (auto p : body) total += p.size();
  if (chunked && total > 0) iov_.emplace_back(chunk_head_, chunk_header(chunk_head_, total));
  if (framing_ != Framing::kNone)
    for (auto p : body) iov_.emplace_back(p.data(), p.size());
  if (chunked && total > 0) iov_.emplace_back(kChunkEnd.data(), kChunkEnd.size());
  if (chunked && last) iov_.emplace_back(kLastChunk.data(), kLastChunk.size());
  if (iov_.empty()) co_return Io::kOk;
  error_code ec;
  co_await asio::async_write(socket_, iov_, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    unusable_ = true;
    co_return ec == asio::error::operation_aborted ? Io::kCancelled : Io::kClosed;
  }
  co_return Io::kOk;
}

Task<Io> Http1Connection::send_continue() {
  if (continue_sent_) co_return Io::kOk;
  continue_sent_ = true;
  static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
  error_code ec;
  co_await asio::async_write(socket_, asio::buffer(k100.data(), k100.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return ec ? Io::kClosed : Io::kOk;
}

Task<Io> Http1Connection::send_head(const ResponseOut& out, const Pieces& body, bool last) {
  ResponseOut o = out;
  if (unusable_) o.close = true;
  framing_ = o.framing;
  write_response_head(out_, o, parser_.head().version);
  co_return co_await write(body, last, true);
}

Task<Io> Http1Connection::send_body(const Pieces& body, bool last) {
  co_return co_await write(body, last, false);
}

Task<Io> Http1Connection::send_local(int status, std::string_view body,
                                     std::string_view extra_fields, bool close) {
  const RequestHead& h = parser_.head();
  if (!parser_.body_done()) unusable_ = true;  // its body was not read: no other request follows
  if (unusable_) close = true;
  write_local_response(out_, status, body, extra_fields, close, h.version, h.method == "HEAD");
  error_code ec;
  co_await asio::async_write(socket_, asio::buffer(out_),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    unusable_ = true;
    co_return Io::kClosed;
  }
  co_return Io::kOk;
}

}  // namespace svc::ingress
