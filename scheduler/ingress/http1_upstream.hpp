#pragma once
// One HTTP/1.1 connection to an instance: the client half of the HTTP/1 codec. It writes the
// request head (hop-by-hop fields dropped, forwarding fields added, Host set to the routed
// authority) and body (re-chunked when the client sent chunked), and reads the response through
// ResponseParser. Made through InstanceEndpoint::make_socket, so the socket lives in the
// instance's network namespace; kept in its worker's pool between requests.
// Owns its socket; used on its worker's thread only.
#include <utility>  // before Asio with g++ 12 in C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "scheduler/ingress/activator.hpp"
#include "scheduler/ingress/http1_parser.hpp"
#include "scheduler/ingress/io_buffer.hpp"
#include "scheduler/ingress/stream.hpp"

namespace svc::ingress {

class Http1Upstream final : public Upstream {
 public:
  Http1Upstream(boost::asio::io_context& io, std::shared_ptr<Instance> instance,
                const Limits& limits);

  // make_socket, then a TCP connect to 127.0.0.1:<port> in the instance's namespace.
  Task<Io> connect();
  // The last connect() was refused (ECONNREFUSED): nothing listens on the instance's port.
  bool refused() const { return refused_; }
  const std::shared_ptr<Instance>& instance() const { return instance_; }
  // For the pool: the instance has not closed it and sent nothing unasked (one recv with
  // MSG_PEEK, no blocking).
  bool alive();
  void set_reused() { reused_ = true; }
  SteadyTime idle_since() const { return idle_since_; }
  void set_idle_since(SteadyTime t) { idle_since_ = t; }
  void close();

  Task<Io> send_head(const RequestHead& head, std::string_view forwarding, const Pieces& body,
                     bool last) override;
  Task<Io> send_body(const Pieces& body, bool last) override;
  Task<Io> read_head(bool head_request) override;
  const ResponseHead& head() const override { return parser_.head(); }
  Io take_buffered_body(Pieces& pieces) override;
  Task<Io> read_body(Pieces& pieces) override;
  void release_head() override { head_pinned_ = false; }
  bool reusable() const override;
  bool got_response_bytes() const override { return got_bytes_; }
  bool reused() const override { return reused_; }
  void cancel() override;
  std::string error() const override { return error_; }

 private:
  Io fail(const boost::system::error_code& ec, std::string_view doing);
  Io parse_buffered(Pieces& pieces);
  Task<Io> write_pieces(const Pieces& body, bool last, bool with_head);

  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<Instance> instance_;
  const Limits& limits_;
  IoBuffer buf_;
  ResponseParser parser_;
  std::string out_;                             // the request head being written
  std::vector<boost::asio::const_buffer> iov_;  // the gather write
  char chunk_head_[24] = {};
  std::size_t pending_ = 0;  // bytes behind the pieces last handed out, consumed on the next read
  bool chunked_request_ = false;
  bool head_pinned_ = false;
  bool got_bytes_ = false;
  bool reused_ = false;
  bool broken_ = false;  // an error or cut message: never reused
  bool refused_ = false;
  bool request_done_ = false;
  SteadyTime idle_since_{};
  std::string error_;
};

}  // namespace svc::ingress
