#include "api/server/tls.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

namespace svc::api {

namespace {

using Clock = std::chrono::steady_clock;

// TLS record type 22 (handshake): the first byte of every ClientHello (RFC 8446 5.1).
constexpr unsigned char kTlsHandshakeRecord = 0x16;

std::string subject_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return s;
}

std::string not_after_of(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Picks http/1.1 when the client offers it (REST clients), else h2 (gRPC, which offers only
// h2); no ALPN at all when it offers neither.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  const unsigned char* h2 = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    std::string_view proto(reinterpret_cast<const char*>(in + i + 1), len);
    if (proto == "http/1.1") {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (proto == "h2") h2 = in + i + 1;
    i += 1 + len;
  }
  if (!h2) return SSL_TLSEXT_ERR_NOACK;
  *out = h2;
  *outlen = 2;
  return SSL_TLSEXT_ERR_OK;
}

Result<> readable_file(const char* key, const std::filesystem::path& path) {
  if (::access(path.c_str(), R_OK) != 0)
    return fail_errno(fmt::format("api.{} {}", key, path.string()));
  return {};
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Waits until fd is ready for events or the deadline passes.
Result<> wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(Code::kDeadlineExceeded, "no TLS handshake in time");
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return {};
    if (rc < 0 && errno != EINTR) return fail_errno("poll");
  }
}

// A client speaking plain HTTP to the TLS port: tell it what to use instead. What it sent is
// read first: closing a socket with unread input resets the connection, and the reset can
// destroy the answer before the client reads it.
void answer_plaintext(int fd) {
  char buf[4096];
  for (std::size_t drained = 0; drained < 65536;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;  // all that has arrived (EAGAIN), or the client closed
    drained += static_cast<std::size_t>(n);
  }
  static constexpr std::string_view kBody =
      "svcd: this address speaks TLS: use https:// (curl) or --host tcps:// (svctl)\n";
  std::string res = fmt::format(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      kBody.size(), kBody);
  ssize_t ignored = ::send(fd, res.data(), res.size(), MSG_NOSIGNAL);
  (void)ignored;
  ::shutdown(fd, SHUT_WR);
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<std::shared_ptr<SSL_CTX>> TlsContext::build(const TlsOptions& o, std::string* about) {
  if (o.cert.empty() || o.key.empty())
    return fail(Code::kInvalidArgument,
                "api.tls_cert and api.tls_key: TLS needs both a certificate and its key");
  SVC_TRY(readable_file("tls_cert", o.cert));
  SVC_TRY(readable_file("tls_key", o.key));
  if (!o.client_ca.empty()) SVC_TRY(readable_file("client_ca", o.client_ca));
  if (o.require_client_cert && o.client_ca.empty())
    return fail(Code::kInvalidArgument,
                "api.require_client_cert: needs api.client_ca, the CA that signs client "
                "certificates");

  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return fail(Code::kInternal, "SSL_CTX_new: {}", openssl_errors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(c, o.cert.c_str()) != 1)
    return fail(Code::kInvalidArgument, "api.tls_cert {}: not a usable PEM certificate (chain): {}",
                o.cert.string(), openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(c, o.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL 3 compares the key with the certificate already here.
    std::string why = openssl_errors();
    if (why.find("key values mismatch") != std::string::npos)
      return fail(Code::kInvalidArgument,
                  "api.tls_key {} is not the key of the certificate {} ({}): install the key "
                  "and the certificate together",
                  o.key.string(), o.cert.string(), why);
    return fail(Code::kInvalidArgument, "api.tls_key {}: not a usable PEM private key: {}",
                o.key.string(), why);
  }
  if (SSL_CTX_check_private_key(c) != 1)
    return fail(Code::kInvalidArgument, "api.tls_key {} is not the key of the certificate {}: {}",
                o.key.string(), o.cert.string(), openssl_errors());
  if (!o.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(c, o.client_ca.c_str(), nullptr) != 1)
      return fail(Code::kInvalidArgument, "api.client_ca {}: not a usable PEM CA certificate: {}",
                  o.client_ca.string(), openssl_errors());
    // The CA names the server sends, so a client with several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str()))
      SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(
        c, SSL_VERIFY_PEER | (o.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        nullptr);
  }
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);

  X509* cert = SSL_CTX_get0_certificate(c);
  *about = fmt::format("{}, expires {}", subject_of(cert), not_after_of(cert));
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    spdlog::warn("api: the TLS certificate {} has expired ({}): clients will refuse it",
                 o.cert.string(), *about);
  return ctx;
}

Result<std::unique_ptr<TlsContext>> TlsContext::load(const TlsOptions& options) {
  std::unique_ptr<TlsContext> t(new TlsContext(options));
  t->ctx_ = SVC_TRY(build(options, &t->about_));
  return t;
}

Result<> TlsContext::reload() {
  std::string about;
  auto ctx = SVC_TRY(build(options_, &about));
  std::lock_guard lock(mu_);
  ctx_ = std::move(ctx);
  about_ = std::move(about);
  return {};
}

std::shared_ptr<SSL_CTX> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

std::string TlsContext::describe() const {
  std::lock_guard lock(mu_);
  return about_;
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::accept(int fd, const TlsContext& context,
                                                             std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  set_nonblocking(fd);
  unsigned char first = 0;
  for (;;) {
    SVC_TRY(wait_fd(fd, POLLIN, deadline));
    ssize_t n = ::recv(fd, &first, 1, MSG_PEEK);
    if (n == 1) break;
    if (n == 0) return fail(Code::kCancelled, "closed before a TLS handshake");
    if (errno != EAGAIN && errno != EINTR) return fail_errno("recv");
  }
  if (first != kTlsHandshakeRecord) {
    answer_plaintext(fd);
    return fail(Code::kFailedPrecondition, "plain text on the TLS port (answered 400)");
  }

  std::shared_ptr<SSL_CTX> ctx = context.current();
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.get());  // takes its own reference to ctx
  if (!ssl) return fail(Code::kInternal, "SSL_new: {}", openssl_errors());
  std::unique_ptr<TlsConnection> conn(new TlsConnection(fd, ssl));
  SSL_set_fd(ssl, fd);
  for (;;) {
    int rc = SSL_accept(ssl);
    if (rc == 1) break;
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
      SVC_TRY(wait_fd(fd, POLLIN, deadline));
    } else if (err == SSL_ERROR_WANT_WRITE) {
      SVC_TRY(wait_fd(fd, POLLOUT, deadline));
    } else {
      // A refused client certificate is a failed authentication (the limiter counts it);
      // anything else (a closed connection, no common protocol) is not.
      std::string why = openssl_errors();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        return fail(Code::kUnauthenticated, "TLS handshake: client certificate refused: {}",
                    X509_verify_cert_error_string(verify));
      if (why.find("peer did not return a certificate") != std::string::npos)
        return fail(Code::kUnauthenticated,
                    "TLS handshake: no client certificate (api.require_client_cert)");
      if (why.empty()) why = err == SSL_ERROR_SYSCALL ? "connection closed" : "handshake failed";
      return fail(Code::kUnavailable, "TLS handshake: {}", why);
    }
  }
  conn->protocol_ = SSL_get_version(ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn) conn->alpn_.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* peer = SSL_get1_peer_certificate(ssl)) {
    if (SSL_get_verify_result(ssl) == X509_V_OK) conn->client_subject_ = subject_of(peer);
    X509_free(peer);
  }
  return conn;
}

TlsConnection::~TlsConnection() {
  if (ssl_) SSL_free(ssl_);
}

void TlsConnection::relay(int plain_fd) {
  set_nonblocking(fd_);
  set_nonblocking(plain_fd);
  // Two bounded buffers: up = from the client (TLS) to svcd (plain), down = the other way.
  constexpr std::size_t kBuf = 16 * 1024;
  char up[kBuf], down[kBuf];
  std::size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
  bool tls_eof = false, plain_eof = false;
  for (;;) {
    // What each side waits for; decided by the calls below.
    short tls_events = 0, plain_events = 0;
    bool progress = true;
    while (progress) {
      progress = false;
      if (up_len == 0 && !tls_eof) {
        int n = SSL_read(ssl_, up, sizeof up);
        if (n > 0) {
          up_len = static_cast<std::size_t>(n);
          up_off = 0;
          progress = true;
        } else {
          int err = SSL_get_error(ssl_, n);
          if (err == SSL_ERROR_WANT_READ) {
            tls_events |= POLLIN;
          } else if (err == SSL_ERROR_WANT_WRITE) {
            tls_events |= POLLOUT;
          } else if (err == SSL_ERROR_ZERO_RETURN) {
            tls_eof = true;  // close_notify: the client sends no more
            ::shutdown(plain_fd, SHUT_WR);
          } else {
            ERR_clear_error();
            return;  // reset, or a broken record
          }
        }
      }
      if (up_len > 0) {
        ssize_t n = ::send(plain_fd, up + up_off, up_len - up_off, MSG_NOSIGNAL);
        if (n > 0) {
          up_off += static_cast<std::size_t>(n);
          if (up_off == up_len) up_len = up_off = 0;
          progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          plain_events |= POLLOUT;
        } else {
          return;  // svcd's side is gone
        }
      }
      if (down_len == 0 && !plain_eof) {
        ssize_t n = ::recv(plain_fd, down, sizeof down, 0);
        if (n > 0) {
          down_len = static_cast<std::size_t>(n);
          down_off = 0;
          progress = true;
        } else if (n == 0) {
          plain_eof = true;
        } else if (errno == EAGAIN || errno == EINTR) {
          plain_events |= POLLIN;
        } else {
          return;
        }
      }
      if (down_len > 0) {
        int n = SSL_write(ssl_, down + down_off, static_cast<int>(down_len - down_off));
        if (n > 0) {
          down_off += static_cast<std::size_t>(n);
          if (down_off == down_len) down_len = down_off = 0;
          progress = true;
        } else {
          int err = SSL_get_error(ssl_, n);
          if (err == SSL_ERROR_WANT_WRITE) {
            tls_events |= POLLOUT;
          } else if (err == SSL_ERROR_WANT_READ) {
            tls_events |= POLLIN;
          } else {
            ERR_clear_error();
            return;
          }
        }
      }
      if (plain_eof && down_len == 0) {
        // svcd closed its side and everything it said went out: end the TLS session.
        SSL_shutdown(ssl_);
        return;
      }
      if (progress) tls_events = plain_events = 0;  // recomputed on the next pass
    }
    pollfd p[2] = {{fd_, tls_events, 0}, {plain_fd, plain_events, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    // A hang-up or error on either socket ends the relay once nothing is left to move.
    if ((p[0].revents & (POLLERR | POLLNVAL)) || (p[1].revents & (POLLERR | POLLNVAL))) return;
    if ((p[0].revents & POLLHUP) && !(p[0].revents & POLLIN)) return;
  }
}

}  // namespace svc::api
