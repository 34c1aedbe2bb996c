#include "scheduler/ingress/http1_upstream.hpp"

#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <sys/socket.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "scheduler/ingress/http1_writer.hpp"

namespace svc::ingress {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

Http1Upstream::Http1Upstream(asio::io_context& io, std::shared_ptr<Instance> instance,
                             const Limits& limits)
    : socket_(io),
      instance_(std::move(instance)),
      limits_(limits),
      buf_(limits.io_buffer_bytes),
      parser_(limits) {}

Io Http1Upstream::fail(const error_code& ec, std::string_view doing) {
  broken_ = true;
  if (ec == asio::error::operation_aborted) return Io::kCancelled;
  error_ = std::string(doing) + ": " + ec.message();
  return Io::kClosed;
}

void Http1Upstream::close() {
  error_code ignored;
  socket_.close(ignored);
  broken_ = true;
}

void Http1Upstream::cancel() {
  // Closing (not just cancelling) so a peer that never answers cannot keep the exchange.
  close();
}

Task<Io> Http1Upstream::connect() {
  auto fd = instance_->endpoint.make_socket
                ? instance_->endpoint.make_socket()
                : Result<UniqueFd>(svc::fail(Code::kInternal, "no make_socket given"));
  if (!fd) {
    broken_ = true;
    error_ = "cannot make a socket in the instance's network namespace: " + fd.error().message();
    co_return Io::kClosed;
  }
  error_code ec;
  int raw = fd->release();
  socket_.assign(tcp::v4(), raw, ec);
  if (ec) {
    ::close(raw);
    co_return fail(ec, "adopt the instance's socket");
  }
  tcp::endpoint to(asio::ip::address_v4::loopback(), instance_->endpoint.port);
  co_await socket_.async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
  refused_ = ec == asio::error::connection_refused;
  if (ec) co_return fail(ec, "connect to port " + std::to_string(instance_->endpoint.port));
  socket_.set_option(tcp::no_delay(true), ec);
  co_return Io::kOk;
}

bool Http1Upstream::alive() {
  if (broken_ || !socket_.is_open()) return false;
  char c;
  ssize_t n = ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool Http1Upstream::reusable() const {
  return !broken_ && request_done_ && parser_.body_done() && parser_.head().keep_alive &&
         buf_.size() == pending_ && socket_.is_open();  // nothing unasked after the body
}

Task<Io> Http1Upstream::write_pieces(const Pieces& body, bool last, bool with_head) {
  iov_.clear();
  if (with_head) iov_.emplace_back(out_.data(), out_.size());
  std::size_t total = 0;
  for (auto p : body) total += p.size();
  if (chunked_request_ && total > 0)
    iov_.emplace_back(chunk_head_, chunk_header(chunk_head_, total));
  for (auto p : body) iov_.emplace_back(p.data(), p.size());
  if (chunked_request_ && total > 0) iov_.emplace_back(kChunkEnd.data(), kChunkEnd.size());
  if (chunked_request_ && last) iov_.emplace_back(kLastChunk.data(), kLastChunk.size());
  if (last) request_done_ = true;
  if (iov_.empty()) co_return Io::kOk;
  error_code ec;
  co_await asio::async_write(socket_, iov_, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(ec, "send the request");
  co_return Io::kOk;
}

Task<Io> Http1Upstream::send_head(const RequestHead& head, std::string_view forwarding,
                                  const Pieces& body, bool last) {
  buf_.consume(pending_);  // the previous response's last body bytes
  pending_ = 0;
  chunked_request_ = head.chunked;
  request_done_ = false;
  got_bytes_ = false;
  write_request_head(out_, head, forwarding, head.chunked);
  co_return co_await write_pieces(body, last, true);
}

Task<Io> Http1Upstream::send_body(const Pieces& body, bool last) {
  co_return co_await write_pieces(body, last, false);
}

Task<Io> Http1Upstream::read_head(bool head_request) {
  parser_.reset(head_request);
  head_pinned_ = true;
  for (;;) {
    if (!buf_.empty()) {
      Parse r = parser_.parse_head(buf_.view());
      if (r == Parse::kDone) {
        buf_.consume(parser_.head().head_bytes);  // the views stay: nothing moves while pinned
        co_return Io::kOk;
      }
      if (r == Parse::kError) {
        broken_ = true;
        error_ = std::string(parser_.error().what);
        co_return Io::kBad;
      }
    }
    auto room = buf_.prepare(limits_.max_response_header_bytes + limits_.io_buffer_bytes, true);
    if (room.empty()) {
      broken_ = true;
      error_ = "response head too large";
      co_return Io::kBad;
    }
    error_code ec;
    std::size_t n = co_await socket_.async_read_some(asio::buffer(room.data(), room.size()),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::eof && got_bytes_) {
        broken_ = true;
        error_ = "closed the connection in the middle of the response head";
        co_return Io::kClosed;
      }
      if (ec == asio::error::eof) {
        broken_ = true;
        error_ = "closed the connection before responding";
        co_return Io::kClosed;
      }
      co_return fail(ec, "read the response");
    }
    got_bytes_ = true;
    buf_.commit(n);
  }
}

Io Http1Upstream::parse_buffered(Pieces& pieces) {
  if (parser_.body_done()) return Io::kEnd;
  while (!buf_.empty()) {
    std::size_t used = 0;
    Parse r = parser_.parse_body(buf_.view(), pieces, used);
    if (r == Parse::kError) {
      broken_ = true;
      error_ = std::string(parser_.error().what);
      return Io::kBad;
    }
    if (!pieces.empty() || r == Parse::kDone) {
      pending_ = used;  // consumed once the caller has sent the pieces on
      return r == Parse::kDone ? Io::kEnd : Io::kOk;
    }
    if (used == 0) break;  // needs more bytes
    buf_.consume(used);    // framing only (a chunk header)
  }
  return Io::kOk;
}

Io Http1Upstream::take_buffered_body(Pieces& pieces) { return parse_buffered(pieces); }

Task<Io> Http1Upstream::read_body(Pieces& pieces) {
  pieces.clear();
  buf_.consume(pending_);
  pending_ = 0;
  for (;;) {
    Io r = parse_buffered(pieces);
    if (r != Io::kOk || !pieces.empty()) co_return r;
    auto room =
        buf_.prepare(limits_.max_response_header_bytes + limits_.io_buffer_bytes, !head_pinned_);
    if (room.empty()) {
      broken_ = true;
      error_ = "response framing larger than the buffer";
      co_return Io::kBad;
    }
    error_code ec;
    std::size_t n = co_await socket_.async_read_some(asio::buffer(room.data(), room.size()),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) {
      broken_ = true;  // whatever happens, the connection is over
      if (parser_.finish_on_eof() == Parse::kDone) co_return Io::kEnd;
      error_ = "closed the connection in the middle of the response body";
      co_return Io::kClosed;
    }
    if (ec) co_return fail(ec, "read the response body");
    buf_.commit(n);
  }
}

}  // namespace svc::ingress
