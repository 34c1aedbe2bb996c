#include "images/unpack/decompressor.hpp"

#include <cstring>

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "common/units.hpp"

namespace svc::images::unpack {

namespace {
constexpr std::size_t kInBuf = std::size_t{256} * 1024;
}

// gzip through ISA-L's igzip (about twice zlib's inflate speed, with the CRC check built in);
// the inflate state is large (~50 KiB), so it lives on the heap.
struct Decompressor::Codec {
  std::unique_ptr<inflate_state> gz;
  ZSTD_DStream* zs = nullptr;
  ~Codec() {
    if (zs) ZSTD_freeDStream(zs);
  }
};

Decompressor::Decompressor(ByteSource& input, std::uint64_t max_output)
    : input_(input),
      max_output_(max_output),
      in_(kInBuf, '\0'),
      codec_(std::make_unique<Codec>()) {}

Decompressor::~Decompressor() = default;

std::string_view Decompressor::format() const {
  switch (format_) {
    case Format::kGzip:
      return "gzip";
    case Format::kZstd:
      return "zstd";
    case Format::kPlain:
      return "tar";
    default:
      return "unknown";
  }
}

Result<> Decompressor::fill_input() {
  if (in_pos_ < in_len_ || in_eof_) return {};
  in_pos_ = 0;
  in_len_ = SVC_TRY(input_.read(in_.data(), in_.size()));
  if (in_len_ == 0) in_eof_ = true;
  return {};
}

Result<> Decompressor::detect() {
  // Gather 4 bytes (or the whole stream if shorter) to recognise the format.
  while (in_len_ - in_pos_ < 4 && !in_eof_) {
    if (in_pos_ > 0) {
      std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
      in_len_ -= in_pos_;
      in_pos_ = 0;
    }
    auto n = SVC_TRY(input_.read(in_.data() + in_len_, in_.size() - in_len_));
    if (n == 0) in_eof_ = true;
    in_len_ += n;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + in_pos_);
  std::size_t avail = in_len_ - in_pos_;
  if (avail >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
    format_ = Format::kGzip;
    codec_->gz = std::make_unique<inflate_state>();
    isal_inflate_init(codec_->gz.get());
    codec_->gz->crc_flag = ISAL_GZIP;  // parse the gzip header, verify CRC32 and size
  } else if (avail >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
    format_ = Format::kZstd;
    codec_->zs = ZSTD_createDStream();
    if (!codec_->zs) return fail(Code::kInternal, "zstd: cannot initialise");
  } else {
    format_ = Format::kPlain;
  }
  return {};
}

Result<std::size_t> Decompressor::decode(char* buf, std::size_t cap) {
  if (format_ == Format::kPlain) {
    SVC_TRY(fill_input());
    std::size_t n = std::min(cap, in_len_ - in_pos_);
    std::memcpy(buf, in_.data() + in_pos_, n);
    in_pos_ += n;
    return n;
  }
  std::size_t produced = 0;
  while (produced == 0) {
    SVC_TRY(fill_input());
    bool at_eof = in_pos_ == in_len_ && in_eof_;
    if (at_eof && done_) return std::size_t{0};
    if (format_ == Format::kGzip) {
      inflate_state* z = codec_->gz.get();
      if (done_) {
        // Concatenated gzip members are one stream (RFC 1952 2.2): start the next member.
        isal_inflate_reset(z);
        z->crc_flag = ISAL_GZIP;
        done_ = false;
      }
      z->next_in = reinterpret_cast<std::uint8_t*>(in_.data() + in_pos_);
      z->avail_in = static_cast<std::uint32_t>(in_len_ - in_pos_);
      z->next_out = reinterpret_cast<std::uint8_t*>(buf);
      z->avail_out = static_cast<std::uint32_t>(cap);
      int rc = isal_inflate(z);
      in_pos_ = in_len_ - z->avail_in;
      produced = cap - z->avail_out;
      if (rc < 0)
        return fail(Code::kDataLoss, "the layer's gzip data is corrupt ({})",
                    rc == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch" : "invalid deflate data");
      if (z->block_state == ISAL_BLOCK_FINISH) done_ = true;
    } else {
      ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
      ZSTD_outBuffer out{buf, cap, 0};
      std::size_t rc = ZSTD_decompressStream(codec_->zs, &out, &in);
      if (ZSTD_isError(rc))
        return fail(Code::kDataLoss, "the layer's zstd data is corrupt: {}", ZSTD_getErrorName(rc));
      in_pos_ += in.pos;
      produced = out.pos;
      done_ = rc == 0;  // a frame ended exactly here
    }
    if (produced == 0 && at_eof && !done_)
      return fail(Code::kDataLoss, "the {} stream of the layer ends early (truncated blob)",
                  format());
  }
  return produced;
}

Result<std::size_t> Decompressor::read(char* buf, std::size_t cap) {
  if (format_ == Format::kUnknown) SVC_TRY(detect());
  std::size_t n = SVC_TRY(decode(buf, cap));
  out_bytes_ += n;
  if (max_output_ && out_bytes_ > max_output_)
    return fail(Code::kResourceExhausted,
                "the layer unpacks to more than {} (the limit for one layer): refused as a "
                "possible decompression bomb; raise [images] max_layer_size if the image is real",
                format_size_human(max_output_));
  hash_.update(buf, n);
  return n;
}

Result<> Decompressor::drain() {
  std::string buf(std::size_t{64} * 1024, '\0');
  while (SVC_TRY(read(buf.data(), buf.size())) > 0) {
  }
  return {};
}

}  // namespace svc::images::unpack
