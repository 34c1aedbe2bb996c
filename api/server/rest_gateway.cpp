// Boost.Beast is heavy to compile (~25 s): it is included here and nowhere else.
#include <utility>  // before Asio: g++ 12 in C++20 (DEPENDENCIES.md)

#include "api/server/rest_gateway.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/json.hpp"
#include "api/server/openapi.hpp"
#include "api/server/peer_credentials.hpp"
#include "api/server/rest_websocket.hpp"
#include "api/server/status.hpp"
#include "common/version.hpp"

namespace svc::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::generic::stream_protocol::socket;

namespace {

constexpr std::size_t kBodyLimit = 32 * 1024 * 1024;
constexpr int kIdleSeconds = 60;

bool peer_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

http::response<http::string_body> json_response(unsigned version, bool keep_alive, int status,
                                                std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, fmt::format("svcd/{}", svc::version()));
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.body().push_back('\n');
  res.prepare_payload();
  return res;
}

http::response<http::string_body> error_response(unsigned version, bool keep_alive,
                                                 const Error& e) {
  return json_response(version, keep_alive, http_status(e.code()), error_json(e));
}

// Writes each streamed message as a chunk: one JSON line (NDJSON) or one SSE event. The "200"
// and its headers go out at begin() or with the first message, not before: a handler that
// fails first (an unknown task) still answers with its own status (StreamSink's contract).
class ChunkSink final : public StreamSink {
 public:
  ChunkSink(Socket& socket, unsigned version, bool keep_alive, bool sse)
      : socket_(socket), version_(version), keep_alive_(keep_alive), sse_(sse) {}

  void begin() override { (void)send_head(); }

  bool write(const google::protobuf::Message& message) override {
    if (!send_head()) return false;
    std::string line =
        sse_ ? fmt::format("data: {}\n\n", to_json(message)) : to_json(message) + "\n";
    beast::error_code ec;
    asio::write(socket_, http::make_chunk(asio::buffer(line)), ec);
    if (ec) broken_ = true;
    return !broken_;
  }

  bool started() const { return started_; }
  bool broken() const { return broken_; }

 private:
  bool send_head() {
    if (broken_) return false;
    if (started_) return true;
    started_ = true;
    http::response<http::empty_body> head{http::status::ok, version_};
    head.set(http::field::server, fmt::format("svcd/{}", svc::version()));
    head.set(http::field::content_type, sse_ ? "text/event-stream" : "application/x-ndjson");
    head.set(http::field::cache_control, "no-cache");
    head.chunked(true);
    head.keep_alive(keep_alive_);
    http::response_serializer<http::empty_body> sr{head};
    beast::error_code ec;
    http::write_header(socket_, sr, ec);
    if (ec) broken_ = true;
    return !broken_;
  }

  Socket& socket_;
  unsigned version_;
  bool keep_alive_;
  bool sse_;
  bool started_ = false;
  bool broken_ = false;
};

}  // namespace

RestGateway::RestGateway(const Dispatcher& dispatcher, Authenticator authenticator,
                         MetricsFn metrics)
    : dispatcher_(dispatcher),
      router_(dispatcher),
      authenticator_(std::move(authenticator)),
      metrics_(std::move(metrics)) {}

void RestGateway::serve(int fd, bool trusted, const std::atomic<bool>& stopping,
                        const PeerIdentity& peer) const {
  // Idle keep-alive connections and stalled readers end after a while.
  timeval tv{kIdleSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  asio::io_context io;  // never run: only blocking operations on this socket
  Socket socket(io);
  beast::error_code ec;
  socket.assign(asio::generic::stream_protocol(addr.ss_family, SOCK_STREAM), fd, ec);
  if (ec) return;
  beast::flat_buffer buffer;
  auto read_failed = [&](beast::error_code& e) {
    if (e == http::error::end_of_stream || e == asio::error::eof ||
        e == asio::error::connection_reset || e == asio::error::would_block ||
        e == asio::error::try_again || e == asio::error::bad_descriptor ||
        e == asio::error::operation_aborted)
      return true;
    if (!e) return false;
    int status = e == http::error::body_limit ? 413 : 400;
    Error err(Code::kInvalidArgument,
              e == http::error::body_limit
                  ? fmt::format("request body larger than {} bytes", kBodyLimit)
                  : fmt::format("malformed HTTP request: {}", e.message()));
    auto res = json_response(11, false, status, error_json(err));
    http::write(socket, res, e);
    return true;
  };
  while (!stopping.load()) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.header_limit(64 * 1024);
    // The headers first: on TCP the token is checked before a byte of the body is read, so a
    // caller without one cannot make svcd buffer 32 MiB.
    http::read_header(socket, buffer, parser, ec);
    if (read_failed(ec)) break;
    auto& req = parser.get();
    const unsigned version = req.version();
    bool keep_alive = req.keep_alive();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query;
    if (auto q = target.find('?'); q != std::string_view::npos) query = target.substr(q + 1);
    std::string_view method(req.method_string().data(), req.method_string().size());
    spdlog::debug("rest: {} {}", method, target);

    auto send = [&](http::response<http::string_body> res) {
      http::write(socket, res, ec);
      return !ec;
    };

    if (path == "/healthz" && (method == "GET" || method == "HEAD")) {
      keep_alive = keep_alive && parser.is_done();  // a body it sent is not read: end here
      http::response<http::string_body> res{http::status::ok, version};
      res.set(http::field::content_type, "text/plain");
      res.keep_alive(keep_alive);
      res.body() = "ok\n";
      res.prepare_payload();
      if (!send(std::move(res)) || !keep_alive) break;
      continue;
    }

    CallContext cc;
    cc.transport = trusted ? CallContext::Transport::kUnix : CallContext::Transport::kTcp;
    cc.principal = peer.principal;
    cc.peer = peer.address;
    cc.unix_peer = trusted ? peer.credentials : std::nullopt;
    cc.cancelled = [&] { return stopping.load() || peer_gone(fd); };
    if (!trusted && peer.principal.empty()) {  // TCP without a verified client certificate
      auto auth = req[http::field::authorization];
      std::string_view header(auth.data(), auth.size());
      Result<std::string> who =
          header.starts_with("Bearer ")
              ? authenticator_(header.substr(7), peer)
              : Result<std::string>(tl::unexpected(
                    Error(Code::kUnauthenticated,
                          "this address needs a token: send \"Authorization: Bearer <token>\" "
                          "(create one with `svctl token create` on the node)")));
      if (!who) {
        // The body (if any) is never read: the connection ends with this answer.
        auto res = error_response(version, false, who.error());
        res.set(http::field::www_authenticate, "Bearer realm=\"svcd\"");
        // The limiter's window: an upper bound of the wait (the message has the exact one).
        if (who.error().code() == Code::kResourceExhausted) res.set(http::field::retry_after, "60");
        send(std::move(res));
        break;
      }
      cc.principal = *who;
    }
    if (!parser.is_done()) {
      // A client that waits for "100 Continue" (curl does for large bodies) gets it now.
      auto expect = req[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, version};
        http::write(socket, cont, ec);
        if (ec) break;
      }
      http::read(socket, buffer, parser, ec);
      if (read_failed(ec)) break;
    }

    if (path == "/metrics" && method == "GET") {
      http::response<http::string_body> res{http::status::ok, version};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.keep_alive(keep_alive);
      res.body() = metrics_ ? metrics_() : std::string();
      res.prepare_payload();
      if (!send(std::move(res)) || !keep_alive) break;
      continue;
    }

    if (path == "/v1/openapi.json" && method == "GET") {
      // Made once: it depends only on the route table and the descriptors.
      static const std::string kDocument = openapi_document(svc::version());
      http::response<http::string_body> res{http::status::ok, version};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(keep_alive);
      res.body() = kDocument;
      res.prepare_payload();
      if (!send(std::move(res)) || !keep_alive) break;
      continue;
    }

    auto match = router_.match(method, path);
    if (!match) {
      // A path that exists with another method: 405 with UNIMPLEMENTED (as grpc-gateway
      // answers it) and the Allow header; no such path: 404 NOT_FOUND.
      int status =
          match.error().code() == Code::kUnimplemented ? 405 : http_status(match.error().code());
      auto res = json_response(version, keep_alive, status, error_json(match.error()));
      if (status == 405) res.set(http::field::allow, router_.allowed_methods(path));
      if (!send(std::move(res)) || !keep_alive) break;
      continue;
    }
    auto request = router_.build_request(*match, query, req.body());
    if (!request) {
      if (!send(error_response(version, keep_alive, request.error())) || !keep_alive) break;
      continue;
    }
    const Dispatcher::Method& m = *match->method;
    if (m.client_streaming) {
      // Both directions at once: only over a WebSocket (rest_websocket.hpp).
      if (!is_websocket_upgrade(req)) {
        Error e(Code::kInvalidArgument,
                fmt::format("{} {} is a WebSocket: send \"Connection: Upgrade\" and \"Upgrade: "
                            "websocket\" (as docker and kubectl exec do)",
                            method, path));
        if (!send(error_response(version, false, e))) break;
        break;
      }
      serve_websocket(socket, req, dispatcher_, m, std::move(*request), cc);
      break;  // the connection was the session's
    }
    if (!m.server_streaming) {
      auto response = dispatcher_.new_response(m);
      auto r = dispatcher_.call_unary(m, **request, *response, cc);
      auto res = r ? json_response(version, keep_alive, 200, to_json(*response))
                   : error_response(version, keep_alive, r.error());
      if (!send(std::move(res)) || !keep_alive) break;
      continue;
    }
    // Streaming: a chunk per message. An error after the stream was answered arrives as a
    // last line {"error": {...}}, since the status line is already sent; an error before
    // that is the response's status.
    auto accept = req[http::field::accept];
    bool sse = std::string_view(accept.data(), accept.size()).find("text/event-stream") !=
               std::string_view::npos;
    ChunkSink sink(socket, version, keep_alive, sse);
    auto r = dispatcher_.call_stream(m, **request, sink, cc);
    if (sink.broken()) break;
    if (!r && !sink.started()) {
      if (!send(error_response(version, keep_alive, r.error())) || !keep_alive) break;
      continue;
    }
    sink.begin();  // a stream that ended with no message is still an (empty) stream
    if (sink.broken()) break;
    if (!r) {
      std::string line = fmt::format("{{\"error\":{}}}", error_json(r.error()));
      line = sse ? fmt::format("event: error\ndata: {}\n\n", line) : line + "\n";
      asio::write(socket, http::make_chunk(asio::buffer(line)), ec);
    }
    if (!ec) asio::write(socket, http::make_chunk_last(), ec);
    if (ec || !keep_alive) break;
  }
  socket.shutdown(asio::socket_base::shutdown_both, ec);
  socket.release(ec);  // the caller closes fd
}

}  // namespace svc::api
