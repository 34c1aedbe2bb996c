// TLS termination without a network: the server side (TlsContext, TlsConnection) on one end of
// a socketpair, an OpenSSL client on the other, certificates made by the test (test_pki.hpp).
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <optional>
#include <thread>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <catch2/catch.hpp>

#include "api/server/tls.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "tests/support/test_pki.hpp"

using namespace svc;
using namespace svc::api;
using svc::test::PemPair;
using svc::test::TestCa;
using svc::test::write_pem;
using namespace std::chrono_literals;

namespace {

struct Files {
  TempDir dir;
  TestCa ca{"svc test CA"};
  TlsOptions options;
  Files() {
    PemPair server = ca.server("node1");
    write_pem(dir.path() / "server.pem", server.cert);
    write_pem(dir.path() / "server.key", server.key, 0600);
    write_pem(dir.path() / "ca.pem", ca.cert_pem());
    options.cert = dir.path() / "server.pem";
    options.key = dir.path() / "server.key";
  }
  std::filesystem::path path(const std::string& name) const { return dir.path() / name; }
};

struct ClientOptions {
  std::string ca_pem = {};  // trust; "" = verify nothing
  std::string alpn = {};    // wire format, e.g. "\x02h2"
  std::optional<PemPair> cert = {};
  int max_version = 0;  // e.g. TLS1_1_VERSION
};

// An OpenSSL client on fd: handshakes, sends "ping", reads up to 64 bytes back. What it saw.
struct ClientResult {
  bool handshake = false;
  std::string error, alpn, peer_subject, reply;
};

ClientResult run_client(int fd, const ClientOptions& o) {
  ClientResult r;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (o.max_version) {
    SSL_CTX_set_security_level(ctx, 0);  // let OpenSSL 3 offer an old version at all
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, o.max_version);
  }
  if (!o.ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(o.ca_pem.data(), static_cast<int>(o.ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (o.cert) {
    BIO* cb = BIO_new_mem_buf(o.cert->cert.data(), static_cast<int>(o.cert->cert.size()));
    X509* c = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO* kb = BIO_new_mem_buf(o.cert->key.data(), static_cast<int>(o.cert->key.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, c);
    SSL_CTX_use_PrivateKey(ctx, k);
    X509_free(c);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
  }
  if (!o.alpn.empty())
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                            static_cast<unsigned>(o.alpn.size()));
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) == 1) {
    r.handshake = true;
    const unsigned char* a = nullptr;
    unsigned int alen = 0;
    SSL_get0_alpn_selected(ssl, &a, &alen);
    if (a) r.alpn.assign(reinterpret_cast<const char*>(a), alen);
    SSL_write(ssl, "ping", 4);
    char buf[64];
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0) r.reply.assign(buf, static_cast<std::size_t>(n));
    // TLS 1.3 sends the server's verdict on our certificate after the handshake: read once more
    // so that a refusal shows up here.
    SSL_shutdown(ssl);
  } else {
    r.error = openssl_errors();
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::shutdown(fd, SHUT_RDWR);
  return r;
}

// One connection: the server side accepts and relays to an echo-ish plain side that answers
// "pong:" + what it got; the client runs in a thread.
struct Session {
  Result<std::unique_ptr<TlsConnection>> server = fail(Code::kUnknown, "not run");
  ClientResult client;
  std::string plain_got;
};

Session connect_once(const TlsContext& context, const ClientOptions& o) {
  // As in svcd (daemon/main.cpp): a peer that hung up is an error on a write, not a signal. A
  // refused client still writes its "ping" into a connection the server has closed.
  static const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd server_fd(sv[0]), client_fd(sv[1]);
  auto client = std::async(std::launch::async, [&] { return run_client(client_fd.get(), o); });
  Session s;
  s.server = TlsConnection::accept(server_fd.get(), context, 5s);
  if (s.server) {
    int pp[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp) == 0);
    UniqueFd app(pp[0]);
    std::thread relay([&, fd = pp[1]] {
      (*s.server)->relay(fd);
      ::close(fd);
    });
    char buf[64];
    ssize_t n = ::read(app.get(), buf, sizeof buf);
    if (n > 0) {
      s.plain_got.assign(buf, static_cast<std::size_t>(n));
      std::string reply = "pong:" + s.plain_got;
      REQUIRE(::write(app.get(), reply.data(), reply.size()) == static_cast<ssize_t>(reply.size()));
    }
    ::shutdown(app.get(), SHUT_WR);
    relay.join();
  } else {
    ::shutdown(server_fd.get(), SHUT_RDWR);
  }
  s.client = client.get();
  return s;
}

}  // namespace

TEST_CASE("TLS: handshake, relay both ways, TLS 1.2 or newer", "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options);
  REQUIRE(ctx);
  CHECK((*ctx)->describe().find("CN=node1") != std::string::npos);
  auto s = connect_once(**ctx, {.ca_pem = f.ca.cert_pem()});
  INFO(s.client.error);
  REQUIRE(s.server);
  CHECK(s.client.handshake);
  CHECK(s.plain_got == "ping");
  CHECK(s.client.reply == "pong:ping");
  CHECK((*s.server)->protocol() == "TLSv1.3");
  CHECK((*s.server)->client_subject().empty());

  auto tls12 = connect_once(**ctx, {.ca_pem = f.ca.cert_pem(), .max_version = TLS1_2_VERSION});
  REQUIRE(tls12.server);
  CHECK((*tls12.server)->protocol() == "TLSv1.2");
  CHECK(tls12.client.reply == "pong:ping");

  auto tls11 = connect_once(**ctx, {.ca_pem = f.ca.cert_pem(), .max_version = TLS1_1_VERSION});
  CHECK_FALSE(tls11.server);
  CHECK_FALSE(tls11.client.handshake);
}

TEST_CASE("TLS: a client of another CA refuses svcd's certificate", "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options).value();
  TestCa other("another CA");
  auto s = connect_once(*ctx, {.ca_pem = other.cert_pem()});
  CHECK_FALSE(s.client.handshake);
  CHECK(s.client.error.find("certificate verify failed") != std::string::npos);
  CHECK_FALSE(s.server);
}

TEST_CASE("TLS: ALPN gives REST clients http/1.1 and gRPC h2", "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options).value();
  // curl offers h2 and http/1.1; REST is HTTP/1.1.
  auto curl = connect_once(*ctx, {.ca_pem = f.ca.cert_pem(), .alpn = "\x02h2\x08http/1.1"});
  REQUIRE(curl.server);
  CHECK(curl.client.alpn == "http/1.1");
  // gRPC offers only h2, and refuses a server that selects nothing.
  auto grpc = connect_once(*ctx, {.ca_pem = f.ca.cert_pem(), .alpn = "\x02h2"});
  REQUIRE(grpc.server);
  CHECK(grpc.client.alpn == "h2");
  CHECK((*grpc.server)->alpn() == "h2");
  auto none = connect_once(*ctx, {.ca_pem = f.ca.cert_pem()});
  REQUIRE(none.server);
  CHECK(none.client.alpn.empty());
}

TEST_CASE("TLS: plain HTTP on the TLS port gets a 400 that says to use https", "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options).value();
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd server_fd(sv[0]), client_fd(sv[1]);
  std::string req = "GET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::write(client_fd.get(), req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  auto r = TlsConnection::accept(server_fd.get(), *ctx, 5s);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  server_fd.reset();
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(client_fd.get(), buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  CHECK(got.starts_with("HTTP/1.1 400 "));
  CHECK(got.find("speaks TLS: use https://") != std::string::npos);
}

TEST_CASE("TLS: a silent client times out", "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options).value();
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd server_fd(sv[0]), client_fd(sv[1]);
  auto r = TlsConnection::accept(server_fd.get(), *ctx, 50ms);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kDeadlineExceeded);
}

TEST_CASE("TLS: client certificates name the caller, and required ones are enforced", "[tls]") {
  Files f;
  TestCa clients("clients CA");
  write_pem(f.path("clients.pem"), clients.cert_pem());
  f.options.client_ca = f.path("clients.pem");
  auto optional = TlsContext::load(f.options).value();

  auto with = connect_once(*optional, {.ca_pem = f.ca.cert_pem(), .cert = clients.client("ops")});
  REQUIRE(with.server);
  CHECK((*with.server)->client_subject() == "CN=ops,O=svc tests");
  CHECK(with.client.reply == "pong:ping");

  auto without = connect_once(*optional, {.ca_pem = f.ca.cert_pem()});
  REQUIRE(without.server);  // optional: a token will have to do
  CHECK((*without.server)->client_subject().empty());

  TestCa rogue("rogue CA");
  auto bad = connect_once(*optional, {.ca_pem = f.ca.cert_pem(), .cert = rogue.client("ops")});
  REQUIRE_FALSE(bad.server);
  CHECK(bad.server.error().code() == Code::kUnauthenticated);
  CHECK(bad.server.error().message().find("client certificate refused") != std::string::npos);

  f.options.require_client_cert = true;
  auto required = TlsContext::load(f.options).value();
  auto none = connect_once(*required, {.ca_pem = f.ca.cert_pem()});
  REQUIRE_FALSE(none.server);
  CHECK(none.server.error().code() == Code::kUnauthenticated);
  CHECK(none.server.error().message().find("no client certificate") != std::string::npos);
  auto good = connect_once(*required, {.ca_pem = f.ca.cert_pem(), .cert = clients.client("ci")});
  REQUIRE(good.server);
  CHECK((*good.server)->client_subject() == "CN=ci,O=svc tests");

  // An expired client certificate is refused too.
  auto expired = clients.issue({.common_name = "old",
                                .server = false,
                                .not_before = -std::chrono::hours(48),
                                .not_after = -std::chrono::hours(24)});
  auto late = connect_once(*required, {.ca_pem = f.ca.cert_pem(), .cert = expired});
  REQUIRE_FALSE(late.server);
  CHECK(late.server.error().message().find("expired") != std::string::npos);
}

TEST_CASE("TLS: bad files are refused with the key and the path", "[tls]") {
  Files f;
  TlsOptions o = f.options;
  o.cert = f.path("missing.pem");
  auto missing = TlsContext::load(o);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("api.tls_cert") != std::string::npos);
  CHECK(missing.error().message().find("missing.pem") != std::string::npos);

  write_pem(f.path("junk.pem"), "not a certificate\n");
  o.cert = f.path("junk.pem");
  auto junk = TlsContext::load(o);
  REQUIRE_FALSE(junk);
  CHECK(junk.error().message().find("not a usable PEM certificate") != std::string::npos);

  PemPair other = f.ca.server("other");
  write_pem(f.path("other.key"), other.key, 0600);
  o = f.options;
  o.key = f.path("other.key");
  auto mismatch = TlsContext::load(o);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message().find("is not the key of the certificate") != std::string::npos);

  o = f.options;
  o.require_client_cert = true;
  auto no_ca = TlsContext::load(o);
  REQUIRE_FALSE(no_ca);
  CHECK(no_ca.error().message().find("api.client_ca") != std::string::npos);
}

TEST_CASE("TLS: reload swaps the certificate for new connections, and a bad reload keeps the old",
          "[tls]") {
  Files f;
  auto ctx = TlsContext::load(f.options).value();
  CHECK(ctx->describe().find("CN=node1") != std::string::npos);

  // Rotation: a certificate from a new CA replaces the files.
  TestCa next("next CA");
  PemPair rotated = next.server("node1-rotated");
  write_pem(f.options.cert, rotated.cert);
  write_pem(f.options.key, rotated.key, 0600);
  // Not yet reloaded: clients of the new CA still see the old certificate.
  CHECK_FALSE(connect_once(*ctx, {.ca_pem = next.cert_pem()}).client.handshake);
  REQUIRE(ctx->reload());
  CHECK(ctx->describe().find("CN=node1-rotated") != std::string::npos);
  CHECK(connect_once(*ctx, {.ca_pem = next.cert_pem()}).client.handshake);
  CHECK_FALSE(connect_once(*ctx, {.ca_pem = f.ca.cert_pem()}).client.handshake);

  // A half-written rotation (the key does not match): the reload fails, the old one stays.
  write_pem(f.options.key, f.ca.server("x").key, 0600);
  auto bad = ctx->reload();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("is not the key") != std::string::npos);
  CHECK(ctx->describe().find("CN=node1-rotated") != std::string::npos);
  CHECK(connect_once(*ctx, {.ca_pem = next.cert_pem()}).client.handshake);
}
