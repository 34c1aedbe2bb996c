#pragma once
// Content digests ("sha256:<64 hex>") and a streaming SHA-256 on OpenSSL's EVP interface.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc {

class Digest {
 public:
  Digest() = default;
  // Accepts "sha256:<64 lowercase hex>" (the only algorithm svc stores; OCI image spec,
  // descriptor.md "Digests"). sha512 is recognised and refused with a clear message.
  static Result<Digest> parse(std::string_view text);
  static Digest sha256_of(std::string_view data);
  static Digest from_sha256_hex(std::string hex) { return Digest(std::move(hex)); }

  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  std::string short_str() const { return hex_.substr(0, 12); }
  bool empty() const { return hex_.empty(); }
  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// Feed bytes as they stream; finish() once. Owns an EVP_MD_CTX, released with the object.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::size_t bytes() const { return bytes_; }
  Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  std::size_t bytes_ = 0;
};

// Random hex from the kernel's CSPRNG (getrandom), for ids and tokens.
std::string random_hex(std::size_t bytes);

}  // namespace svc
