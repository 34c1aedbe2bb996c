#pragma once
// Certificates made by the tests themselves (OpenSSL, P-256): a CA, server certificates for
// 127.0.0.1 / localhost, client certificates, expired ones — written as PEM files into a
// directory, for svcd's [api] tls_* keys and svctl's --ca/--cert/--key. No fixture files to
// expire in the repository.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace svc::test {

struct PemPair {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (PKCS#8)
};

class TestCa {
 public:
  explicit TestCa(const std::string& common_name = "svc test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return ca_pem_; }

  struct Options {
    std::string common_name;
    std::string organization = "svc tests";
    bool server =
        true;  // serverAuth with SANs IP:127.0.0.1, IP:::1, DNS:localhost; else clientAuth
    std::chrono::seconds not_before = -std::chrono::hours(1);  // relative to now
    std::chrono::seconds not_after = std::chrono::hours(24);
  };
  PemPair issue(const Options& options) const;
  PemPair server(const std::string& cn = "localhost") const { return issue({.common_name = cn}); }
  PemPair client(const std::string& cn) const {
    return issue({.common_name = cn, .server = false});
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string ca_pem_;
};

// Writes text to path with mode (0600 for keys), replacing it (write-then-rename, as a careful
// operator rotating a certificate would).
void write_pem(const std::filesystem::path& path, const std::string& text, unsigned mode = 0644);

}  // namespace svc::test
