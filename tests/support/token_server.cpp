#include "tests/support/token_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "tests/support/process.hpp"

namespace svc::test {

namespace {

std::string b64(const std::string& in, bool url) {
  static const char* std_tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* url_tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* t = url ? url_tab : std_tab;
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
  };
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = byte(i) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63]};
    if (!url) out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63]};
    if (!url) out += "=";
  }
  return out;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void send_str(int fd, const std::string& s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

}  // namespace

TokenServer::TokenServer(std::string user, std::string password)
    : dir_("svc-token-"), user_(std::move(user)), password_(std::move(password)) {}

TokenServer::~TokenServer() { stop(); }

std::string TokenServer::registry_auth_yaml() const {
  return "auth:\n  token:\n    realm: " + realm() + "\n    service: " + kService +
         "\n    issuer: " + kIssuer + "\n    rootcertbundle: " + cert_path().string() + "\n";
}

void TokenServer::start() {
  auto key = (dir_.path() / "key.pem").string();
  auto r = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                cert_path().string(), "-days", "2", "-subj", "/CN=svc-test-token"});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  auto der = (dir_.path() / "cert.der").string();
  r = run({"openssl", "x509", "-in", cert_path().string(), "-outform", "DER", "-out", der});
  if (r.exit_code != 0) throw std::runtime_error("openssl x509 failed: " + r.err);
  auto der_bytes = read_file(der);
  if (!der_bytes) throw std::runtime_error("read cert.der");
  cert_der_b64_ = b64(*der_bytes, false);

  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("token server: bind/listen");
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { serve(); });
}

void TokenServer::stop() {
  if (stop_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(stop_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen_fd_, &stop_pipe_[0], &stop_pipe_[1]})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void TokenServer::serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    handle(c);
    ::close(c);
  }
}

std::string TokenServer::sign(const std::string& subject, const std::string& access_json) const {
  nlohmann::json header{{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
  auto now = static_cast<long>(std::time(nullptr));
  nlohmann::json claims{{"iss", kIssuer},       {"sub", subject},
                        {"aud", kService},      {"exp", now + 600},
                        {"nbf", now - 60},      {"iat", now},
                        {"jti", random_hex(8)}, {"access", nlohmann::json::parse(access_json)}};
  std::string signing_input = b64(header.dump(), true) + "." + b64(claims.dump(), true);
  FILE* f = std::fopen((dir_.path() / "key.pem").c_str(), "r");
  if (!f) throw std::runtime_error("open key.pem");
  EVP_PKEY* pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t siglen = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
  EVP_DigestSign(ctx, nullptr, &siglen,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  std::string sig(siglen, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &siglen,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  sig.resize(siglen);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return signing_input + "." + b64(sig, true);
}

void TokenServer::handle(int fd) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<std::size_t>(n));
  }
  std::string line = req.substr(0, req.find("\r\n"));
  std::string target = line.substr(line.find(' ') + 1);
  target = target.substr(0, target.find(' '));
  std::string subject = "anonymous";
  if (!user_.empty()) {
    std::string lower_req;
    for (char c : req)
      lower_req.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    // Compare the credentials case-sensitively: find the header, then the exact value.
    auto p = lower_req.find("\r\nauthorization: basic ");
    bool ok =
        p != std::string::npos && req.compare(p + 23, b64(user_ + ":" + password_, false).size(),
                                              b64(user_ + ":" + password_, false)) == 0;
    if (!ok) {
      ++refused_;
      send_str(
          fd,
          "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 69\r\n"
          "Connection: close\r\n\r\n"
          R"({"errors":[{"code":"UNAUTHORIZED","message":"bad user or password"}]})");
      return;
    }
    subject = user_;
  }
  // scope=repository:NAME:pull,push (possibly several).
  nlohmann::json access = nlohmann::json::array();
  std::string query =
      target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? amp : amp - pos);
    if (kv.starts_with("scope=")) {
      std::string scope = url_decode(kv.substr(6));
      auto c1 = scope.find(':'), c2 = scope.rfind(':');
      if (c1 != std::string::npos && c2 > c1) {
        nlohmann::json actions = nlohmann::json::array();
        std::string acts = scope.substr(c2 + 1);
        std::size_t s = 0;
        while (s <= acts.size()) {
          auto comma = acts.find(',', s);
          actions.push_back(acts.substr(s, comma == std::string::npos ? comma : comma - s));
          if (comma == std::string::npos) break;
          s = comma + 1;
        }
        access.push_back({{"type", scope.substr(0, c1)},
                          {"name", scope.substr(c1 + 1, c2 - c1 - 1)},
                          {"actions", actions}});
      }
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::string token = sign(subject, access.dump());
  ++issued_;
  std::string body =
      nlohmann::json{{"token", token}, {"access_token", token}, {"expires_in", 600}}.dump();
  send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace svc::test
