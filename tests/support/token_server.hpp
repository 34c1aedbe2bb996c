#pragma once
// A small token server for docker-registry's "token" auth (the distribution token spec): it
// answers GET /token?service=S&scope=repository:NAME:ACTIONS with a JWT (RS256, the signing
// certificate in the x5c header) granting the asked actions, to anyone (anonymous) or only to
// one user with the right Basic credentials. The key and the self-signed certificate are made
// with the openssl command line in the server's temp dir.
//
// Owns its listening socket and its accept thread (one request per connection, served inline);
// stop() or the destructor ends both.
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "common/fs.hpp"

namespace svc::test {

class TokenServer {
 public:
  // user/password empty: anonymous tokens for everyone.
  TokenServer(std::string user = "", std::string password = "");
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  void start();
  void stop();

  std::string realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  static constexpr const char* kService = "svc-test-registry";
  static constexpr const char* kIssuer = "svc-test-issuer";
  std::filesystem::path cert_path() const { return dir_.path() / "cert.pem"; }
  // The registry config's auth section for this server.
  std::string registry_auth_yaml() const;
  int tokens_issued() const { return issued_; }
  int refusals() const { return refused_; }

 private:
  void serve();
  void handle(int fd);
  std::string sign(const std::string& subject, const std::string& scopes_json) const;

  TempDir dir_;
  std::string user_, password_;
  std::string cert_der_b64_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<int> issued_{0}, refused_{0};
};

}  // namespace svc::test
