#pragma once
// TLS for the API's TCP listener (OpenSSL). svcd ends TLS itself, before the gRPC/REST sniff:
// each accepted connection does its handshake here, and from then on a relay moves the
// plaintext between the TLS socket and one end of a socketpair; the other end goes to the
// sniff and the gateways exactly as a plain connection would. So gRPC and REST share the TLS
// port as they share the plain one, and neither gateway knows TLS exists.
//
// TLS 1.2 and 1.3 only. ALPN: a client that offers http/1.1 (curl, browsers) gets it, since
// REST is HTTP/1.1; a client that offers only h2 (gRPC) gets h2 — gRPC's client refuses a
// server that selects no ALPN protocol.
//
// Client certificates, when [api] client_ca is set: a client that presents one signed by that
// CA is the caller "cert:<subject>" (RFC 2253, "CN=ops,O=example") and needs no token; with
// require_client_cert, a client without one fails the handshake.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace svc::api {

struct TlsOptions {
  std::filesystem::path cert;       // PEM: the server certificate, then its chain
  std::filesystem::path key;        // PEM private key
  std::filesystem::path client_ca;  // PEM CA(s) for client certificates; "" = not asked for
  bool require_client_cert = false;
};

// The server's certificate, key and client CA as loaded from their files. reload() reads the
// same files again (certificate rotation on SIGHUP); a reload that fails keeps the context in
// use. Connections keep the context they started with.
class TlsContext {
 public:
  static Result<std::unique_ptr<TlsContext>> load(const TlsOptions& options);

  Result<> reload();
  std::shared_ptr<SSL_CTX> current() const;
  // "CN=node1, expires 2027-01-01T00:00:00Z": for the log.
  std::string describe() const;
  const TlsOptions& options() const { return options_; }

 private:
  explicit TlsContext(TlsOptions options) : options_(std::move(options)) {}
  static Result<std::shared_ptr<SSL_CTX>> build(const TlsOptions& options, std::string* about);

  TlsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_;
  std::string about_;
};

// One accepted TLS connection. Owns its SSL; the TCP fd stays the caller's (the listener closes
// it, and shuts it down at stop() to wake the relay).
class TlsConnection {
 public:
  // The handshake, on a connected TCP socket, within timeout. A client that speaks plain HTTP
  // gets a 400 that says to use https:// (and the call fails); one that speaks plain HTTP/2
  // (gRPC without TLS) is closed.
  static Result<std::unique_ptr<TlsConnection>> accept(int tcp_fd, const TlsContext& context,
                                                       std::chrono::milliseconds timeout);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // The verified client certificate's subject (RFC 2253); "" without one.
  const std::string& client_subject() const { return client_subject_; }
  const std::string& protocol() const { return protocol_; }  // "TLSv1.3"
  const std::string& alpn() const { return alpn_; }          // "h2", "http/1.1" or ""

  // Moves bytes both ways between the TLS socket and plain_fd (a connected stream socket)
  // until either side closes or fails; sends close_notify at the end. Blocks; both fds are
  // made non-blocking.
  void relay(int plain_fd);

 private:
  TlsConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  int fd_;
  SSL* ssl_;
  std::string client_subject_, protocol_, alpn_;
};

// The latest OpenSSL errors of this thread as one line ("" when none); clears them.
std::string openssl_errors();

}  // namespace svc::api
