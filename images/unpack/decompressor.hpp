#pragma once
// Turns a layer blob's bytes into the uncompressed tar stream, hashing that stream as it goes:
// its digest is the layer's diff_id, which the image config promises and we check (podman does
// not). The format is recognised from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd, else a
// plain tar), so a registry that mislabels a layer still works. A cap on the uncompressed size
// stops decompression bombs before they fill the disk.
#include <cstdint>
#include <memory>
#include <string>

#include "common/digest.hpp"
#include "images/unpack/byte_stream.hpp"

namespace svc::images::unpack {

class Decompressor final : public ByteSource {
 public:
  // Borrows input. max_output: the most uncompressed bytes allowed (0 = no limit).
  Decompressor(ByteSource& input, std::uint64_t max_output);
  ~Decompressor() override;
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  Result<std::size_t> read(char* buf, std::size_t cap) override;
  // Reads (and hashes) whatever is left, e.g. the tar's end-of-archive padding.
  Result<> drain();
  std::uint64_t output_bytes() const { return out_bytes_; }
  // The diff_id; call once, after the stream ended.
  Digest finish() { return hash_.finish(); }
  std::string_view format() const;

 private:
  enum class Format { kUnknown, kPlain, kGzip, kZstd };
  Result<> fill_input();
  Result<> detect();
  Result<std::size_t> decode(char* buf, std::size_t cap);

  struct Codec;
  ByteSource& input_;
  std::uint64_t max_output_;
  std::uint64_t out_bytes_ = 0;
  Format format_ = Format::kUnknown;
  std::string in_;  // input buffer
  std::size_t in_pos_ = 0;
  std::size_t in_len_ = 0;
  bool in_eof_ = false;
  bool done_ = false;
  std::unique_ptr<Codec> codec_;
  Sha256 hash_;
};

}  // namespace svc::images::unpack
