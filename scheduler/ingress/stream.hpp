#pragma once
// The seams of the proxy core, so protocols slot in without touching it (Envoy's split between
// the connection manager and its codecs):
//
//   ClientConnection  one client connection, whatever it speaks (HTTP/1.1 now; HTTP/2 with
//                     many streams next). The worker's sweep, instance removal and stop reach
//                     every connection through it.
//   Downstream        the client side of one request/response exchange (an HTTP/1.1 connection
//                     carries one at a time; an HTTP/2 stream would be one).
//   Upstream          the instance side of one exchange (a pooled HTTP/1.1 connection now; an
//                     h2c stream next).
//
// The Exchange (exchange.hpp) proxies between a Downstream and an Upstream and knows neither
// wire format. Bodies move as Pieces: views into the codec's read buffer, valid until the next
// read on that side, so a body is never copied or held whole.
#include <utility>  // before Asio with g++ 12 in C++20 (DEPENDENCIES.md)

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/ingress/message.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::ingress {

template <class T = void>
using Task = boost::asio::awaitable<T>;

using Pieces = std::vector<std::string_view>;

enum class Io {
  kOk,         // done; for reads: pieces hold more of the body
  kEnd,        // a read: the body ended (pieces hold its last bytes, if any)
  kClosed,     // the peer closed or reset the connection
  kBad,        // the peer sent something malformed (the codec's error() says what)
  kCancelled,  // our own abort: a deadline passed or the instance was removed
};

class Downstream {
 public:
  virtual ~Downstream() = default;
  virtual const RequestHead& head() const = 0;
  virtual std::string_view client_ip() const = 0;
  virtual std::string_view scheme() const = 0;  // "http"
  // Body bytes already received with the head, without waiting (the first write upstream
  // carries them with the head). kEnd when they are the whole body.
  virtual Io take_buffered_body(Pieces& pieces) = 0;
  // Waits for more of the body. Pieces from an earlier call are consumed first.
  virtual Task<Io> read_body(Pieces& pieces) = 0;
  // The head (and pieces taken so far) were sent on: the codec may now reuse their bytes.
  virtual void release_head() = 0;
  virtual Task<Io> send_continue() = 0;
  virtual Task<Io> send_head(const ResponseOut& out, const Pieces& body, bool last) = 0;
  virtual Task<Io> send_body(const Pieces& body, bool last) = 0;
  // A response the proxy makes itself (404, 502, 503, 504...): text body, extra fields
  // ("Retry-After: 1\r\n"), and whether the connection ends after it.
  virtual Task<Io> send_local(int status, std::string_view body, std::string_view extra_fields,
                              bool close) = 0;
  // Aborts what is pending on the client side (timeouts); the pending calls return kCancelled.
  virtual void cancel() = 0;
  // The request body was not read to its end: the client connection cannot carry another.
  virtual void mark_unusable() = 0;
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  // The request head (method, path, fields minus hop-by-hop ones, plus forwarding) and the
  // first body pieces in one write.
  virtual Task<Io> send_head(const RequestHead& head, std::string_view forwarding,
                             const Pieces& body, bool last) = 0;
  virtual Task<Io> send_body(const Pieces& body, bool last) = 0;
  // Reads the next response head (1xx interim ones too: the caller loops).
  virtual Task<Io> read_head(bool head_request) = 0;
  virtual const ResponseHead& head() const = 0;
  virtual Io take_buffered_body(Pieces& pieces) = 0;
  virtual Task<Io> read_body(Pieces& pieces) = 0;
  virtual void release_head() = 0;
  // Another request may follow on it (the response ended cleanly, nothing forbids reuse).
  virtual bool reusable() const = 0;
  // Some byte of a response arrived (after that, a failure is not retried).
  virtual bool got_response_bytes() const = 0;
  // It came from the pool (it may have been closed by the instance meanwhile).
  virtual bool reused() const = 0;
  virtual void cancel() = 0;
  virtual std::string error() const = 0;  // what went wrong, for 502 bodies and logs
};

// One client connection, as its worker sees it. Called on the worker's thread only.
class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // Deadlines (header read, idle, request timeout, body idle): the worker sweeps them.
  virtual void check_deadline(SteadyTime now) = 0;
  // The instance with this serial is gone: what is in flight on it fails (502 if unanswered).
  virtual void abort_instance(std::uint64_t serial, const std::string& why) = 0;
  // Graceful: finish the exchange in progress, then close; force: close now.
  virtual void stop(bool force) = 0;
};

}  // namespace svc::ingress
