// The WebSocket session: one thread (the connection's, which runs the socket's io_context)
// does every Beast operation, asynchronously: a read loop that fills the inbox, and the writes
// the handler asks for, one at a time. The handler runs on a thread of its own and meets the
// session only through the inbox and write(), so no two threads ever touch the stream.
#include "api/server/rest_websocket.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/json.hpp"

namespace svc::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using Socket = asio::generic::stream_protocol::socket;

bool is_websocket_upgrade(const http::request<http::string_body>& req) {
  return websocket::is_upgrade(req);
}

namespace {

constexpr std::size_t kInbox = 16;
constexpr std::size_t kMaxMessage = 1 << 20;

class Session final : public StreamSource, public StreamSink {
 public:
  Session(Socket& socket, std::unique_ptr<google::protobuf::Message> first)
      : ws_(socket), first_(std::move(first)) {}

  websocket::stream<Socket&>& ws() { return ws_; }

  // Runs on the io thread.
  void start_reading() {
    ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) { on_read(ec); });
  }

  Result<Status> read(google::protobuf::Message& message,
                      std::chrono::milliseconds timeout) override {
    if (first_) {
      message.CopyFrom(*first_);
      first_.reset();
      return Status::kMessage;
    }
    std::string text;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return !inbox_.empty() || ended_; }))
        return Status::kTimeout;
      if (inbox_.empty()) return Status::kEnd;
      text = std::move(inbox_.front());
      inbox_.pop_front();
      if (paused_ && !ended_) {
        paused_ = false;
        asio::post(ws_.get_executor(), [this] { start_reading(); });
      }
    }
    SVC_TRY_CTX(from_json(text, &message), "a WebSocket message");
    return Status::kMessage;
  }

  bool write(const google::protobuf::Message& message) override { return send(to_json(message)); }

  bool send(std::string text) {
    {
      std::lock_guard lock(mu_);
      if (broken_) return false;
    }
    std::promise<bool> done;
    auto result = done.get_future();
    asio::post(ws_.get_executor(), [this, &text, &done] {
      ws_.text(true);
      ws_.async_write(asio::buffer(text), [this, &done](beast::error_code ec, std::size_t) {
        if (ec) {
          std::lock_guard lock(mu_);
          broken_ = true;
          cv_.notify_all();
        }
        done.set_value(!ec);
      });
    });
    return result.get();
  }

  bool ended() {
    std::lock_guard lock(mu_);
    return ended_ || broken_;
  }

 private:
  void on_read(beast::error_code ec) {
    std::lock_guard lock(mu_);
    if (ec) {
      // The client closed (or went away): no more messages, and nothing more can reach it.
      ended_ = true;
      if (ec != websocket::error::closed) broken_ = true;
      cv_.notify_all();
      return;
    }
    inbox_.push_back(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    cv_.notify_all();
    if (inbox_.size() >= kInbox) {
      paused_ = true;  // read() resumes the loop once the handler catches up
      return;
    }
    ws_.async_read(buffer_, [this](beast::error_code e, std::size_t) { on_read(e); });
  }

  websocket::stream<Socket&> ws_;
  std::unique_ptr<google::protobuf::Message> first_;
  beast::flat_buffer buffer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> inbox_;
  bool paused_ = false;
  bool ended_ = false;
  bool broken_ = false;
};

}  // namespace

void serve_websocket(Socket& socket, const http::request<http::string_body>& req,
                     const Dispatcher& dispatcher, const Dispatcher::Method& method,
                     std::unique_ptr<google::protobuf::Message> first, CallContext& context) {
  // The gateway's blocking timeouts would end a quiet session (a shell waiting for input).
  timeval none{0, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  // Beast's closing handshake ends with close() on the socket it was given, and the listener
  // closes the connection's fd once more when the gateway returns: between the two, the number
  // can belong to the next accepted connection, which then dies unread (ECONNRESET). The
  // session gets a duplicate of its own, so each close is of a descriptor its closer owns.
  beast::error_code ec;
  Socket own(socket.get_executor());
  int dup = ::fcntl(socket.native_handle(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    spdlog::warn("rest: websocket for {}: dup: {}", method.full_name, std::strerror(errno));
    return;
  }
  own.assign(socket.local_endpoint(ec).protocol(), dup, ec);
  if (ec) {
    ::close(dup);
    spdlog::warn("rest: websocket for {}: {}", method.full_name, ec.message());
    return;
  }
  Session s(own, std::move(first));
  s.ws().read_message_max(kMaxMessage);
  s.ws().accept(req, ec);
  if (ec) {
    spdlog::debug("rest: websocket accept for {}: {}", method.full_name, ec.message());
    return;
  }
  auto& io = static_cast<asio::io_context&>(socket.get_executor().context());
  io.restart();
  auto guard = asio::make_work_guard(io);
  asio::post(io, [&s] { s.start_reading(); });
  CallContext cc = context;
  auto outer = context.cancelled;
  cc.cancelled = [&s, outer] { return s.ended() || (outer && outer()); };
  std::thread handler([&] {
    auto r = dispatcher.call_bidi(method, s, s, cc);
    if (!r) s.send(fmt::format("{{\"error\":{}}}", error_json(r.error())));
    asio::post(io, [&s, &guard] {
      s.ws().async_close(websocket::close_code::normal,
                         [&guard](beast::error_code) { guard.reset(); });
    });
  });
  io.run();
  handler.join();
}

}  // namespace svc::api
