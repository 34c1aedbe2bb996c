#pragma once
// One client connection speaking HTTP/1.1 (or 1.0): the server half of the HTTP/1 codec and
// the connection manager for it. It reads request heads (pipelined ones wait in the buffer
// until the response before them is done, so responses keep their order), hands each to its
// Exchange as a Downstream, frames the response (Content-Length as given, re-chunked, or until
// close for HTTP/1.0), keeps the connection alive when both sides allow it, and enforces the
// header-read (slowloris) and keep-alive idle deadlines. Malformed requests get their 4xx/5xx
// and the connection is closed after a lingering read, so the client sees the answer.
//
// Owns its socket and buffers; lives as long as its run() coroutine (which holds a shared_ptr
// to it) and works on its worker's thread only.
#include <utility>  // before Asio with g++ 12 in C++20

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "scheduler/ingress/exchange.hpp"
#include "scheduler/ingress/http1_parser.hpp"
#include "scheduler/ingress/io_buffer.hpp"
#include "scheduler/ingress/stream.hpp"

namespace svc::ingress {

class Worker;

class Http1Connection final : public ClientConnection, public Downstream {
 public:
  Http1Connection(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Http1Connection() override;

  // Serves requests until the connection ends. Spawned on the worker that owns the socket;
  // self (this connection) is held by the coroutine's frame, which Asio starts later.
  Task<void> run(std::shared_ptr<Http1Connection> self);

  // ClientConnection
  void check_deadline(SteadyTime now) override;
  void abort_instance(std::uint64_t serial, const std::string& why) override;
  void stop(bool force) override;

  // Downstream
  const RequestHead& head() const override { return parser_.head(); }
  std::string_view client_ip() const override { return client_ip_; }
  std::string_view scheme() const override { return "http"; }
  Io take_buffered_body(Pieces& pieces) override;
  Task<Io> read_body(Pieces& pieces) override;
  void release_head() override { head_pinned_ = false; }
  Task<Io> send_continue() override;
  Task<Io> send_head(const ResponseOut& out, const Pieces& body, bool last) override;
  Task<Io> send_body(const Pieces& body, bool last) override;
  Task<Io> send_local(int status, std::string_view body, std::string_view extra_fields,
                      bool close) override;
  void cancel() override;
  void mark_unusable() override { unusable_ = true; }

 private:
  enum class State { kIdle, kHead, kExchange, kLinger };

  Task<Parse> read_head();
  Task<void> refuse(const ParseError& error);
  Task<void> linger();
  Io parse_buffered(Pieces& pieces);
  Task<Io> write(const Pieces& body, bool last, bool with_head);
  std::size_t read_limit() const;

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  IoBuffer buf_;
  RequestParser parser_;
  Exchange exchange_;
  std::string client_ip_;
  std::string out_;                             // the head being written
  std::vector<boost::asio::const_buffer> iov_;  // the gather write
  char chunk_head_[24] = {};
  State state_ = State::kIdle;
  SteadyTime deadline_{};
  std::size_t pending_ = 0;  // bytes behind the body pieces last handed out
  Framing framing_ = Framing::kNone;
  bool head_pinned_ = false;
  bool unusable_ = false;  // cannot carry another request (body unread, framing broken)
  bool continue_sent_ = false;
  bool timed_out_ = false;
  bool closing_ = false;
};

}  // namespace svc::ingress
