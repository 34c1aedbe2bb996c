#include <catch2/catch.hpp>

#include "common/digest.hpp"

using namespace svc;

TEST_CASE("SHA-256 of known inputs", "[digest]") {
  CHECK(Digest::sha256_of("").str() ==
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Digest::sha256_of("abc").hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("streaming SHA-256 equals one-shot", "[digest]") {
  std::string data(1 << 20, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Sha256 h;
  for (std::size_t off = 0; off < data.size(); off += 4093)
    h.update(data.data() + off, std::min<std::size_t>(4093, data.size() - off));
  CHECK(h.bytes() == data.size());
  CHECK(h.finish() == Digest::sha256_of(data));
}

TEST_CASE("digests parse strictly", "[digest]") {
  std::string good = "sha256:" + std::string(64, 'a');
  CHECK(Digest::parse(good).value().str() == good);
  CHECK(Digest::parse("sha256:" + std::string(63, 'a')).error().code() == Code::kInvalidArgument);
  CHECK(Digest::parse("sha256:" + std::string(64, 'A')).error().message().find("lowercase") !=
        std::string::npos);
  CHECK(Digest::parse("md5:abc").error().message().find("unknown algorithm") != std::string::npos);
  CHECK(Digest::parse("sha512:" + std::string(128, 'a')).error().code() == Code::kUnimplemented);
  CHECK_FALSE(Digest::parse("abc"));
}

TEST_CASE("random_hex gives distinct values of the asked length", "[digest]") {
  auto a = random_hex(16), b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(a != b);
}
