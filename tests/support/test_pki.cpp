#include "tests/support/test_pki.hpp"

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace svc::test {

namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

EVP_PKEY* new_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  check(k != nullptr, "EVP_EC_gen");
  return k;
}

std::string pem_of(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return s;
}

std::string pem_of(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return s;
}

void add_ext(X509* issuer, X509* x, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* new_cert(EVP_PKEY* key, const std::string& cn, const std::string& org,
               std::chrono::seconds not_before, std::chrono::seconds not_after) {
  X509* x = X509_new();
  X509_set_version(x, 2);  // v3
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(not_before.count()));
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(not_after.count()));
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

}  // namespace

struct TestCa::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Impl() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TestCa::TestCa(const std::string& common_name) : impl_(std::make_unique<Impl>()) {
  impl_->key = new_key();
  impl_->cert = new_cert(impl_->key, common_name, "svc tests", -std::chrono::hours(1),
                         std::chrono::hours(24 * 30));
  X509_set_issuer_name(impl_->cert, X509_get_subject_name(impl_->cert));
  add_ext(impl_->cert, impl_->cert, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(impl_->cert, impl_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(impl_->cert, impl_->cert, NID_subject_key_identifier, "hash");
  check(X509_sign(impl_->cert, impl_->key, EVP_sha256()) > 0, "sign the CA");
  ca_pem_ = pem_of(impl_->cert);
}

TestCa::~TestCa() = default;

PemPair TestCa::issue(const Options& o) const {
  EVP_PKEY* key = new_key();
  X509* x = new_cert(key, o.common_name, o.organization, o.not_before, o.not_after);
  X509_set_issuer_name(x, X509_get_subject_name(impl_->cert));
  add_ext(impl_->cert, x, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(impl_->cert, x, NID_key_usage, "critical,digitalSignature");
  add_ext(impl_->cert, x, NID_authority_key_identifier, "keyid");
  if (o.server) {
    add_ext(impl_->cert, x, NID_ext_key_usage, "serverAuth");
    add_ext(impl_->cert, x, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost");
  } else {
    add_ext(impl_->cert, x, NID_ext_key_usage, "clientAuth");
  }
  check(X509_sign(x, impl_->key, EVP_sha256()) > 0, "sign a certificate");
  PemPair p{pem_of(x), pem_of(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  return p;
}

void write_pem(const std::filesystem::path& path, const std::string& text, unsigned mode) {
  auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    check(static_cast<bool>(out), "write a PEM file");
  }
  ::chmod(tmp.c_str(), mode);
  std::filesystem::rename(tmp, path);
}

}  // namespace svc::test
