#include "common/digest.hpp"

#include <sys/random.h>

#include <array>
#include <stdexcept>

#include <openssl/evp.h>

namespace svc {

namespace {
bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}
}  // namespace

Result<Digest> Digest::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return fail(Code::kInvalidArgument,
                "invalid digest \"{}\": expected \"sha256:<64 hex digits>\"", text);
  std::string_view algo = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  if (algo == "sha512" || algo == "sha384")
    return fail(Code::kUnimplemented, "digest \"{}\": algorithm {} is not supported, only sha256",
                text, algo);
  if (algo != "sha256")
    return fail(Code::kInvalidArgument, "invalid digest \"{}\": unknown algorithm \"{}\"", text,
                algo);
  if (hex.size() != 64 || !is_lower_hex(hex))
    return fail(Code::kInvalidArgument,
                "invalid digest \"{}\": a sha256 digest has 64 lowercase hex digits", text);
  return Digest(std::string(hex));
}

Digest Digest::sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(ctx_->md, data, size);
  bytes_ += size;
}

Digest Sha256::finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &len);
  return Digest::from_sha256_hex(to_hex(out.data(), len));
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

}  // namespace svc
