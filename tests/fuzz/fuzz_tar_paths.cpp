// libFuzzer: tar entry names through the path cleaner and the whiteout plan (invariants: no
// ".." component, no leading "/", a plan path never longer than its entry), then whole tar
// streams through the real unpacker into a scratch root (no owners), checking that nothing
// appears beside the root.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/fs.hpp"
#include "images/unpack/byte_stream.hpp"
#include "images/unpack/decompressor.hpp"
#include "images/unpack/layer_unpacker.hpp"
#include "images/unpack/safe_root.hpp"
#include "images/unpack/whiteout.hpp"

namespace {

class Bytes final : public svc::images::unpack::ByteSource {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  svc::Result<std::size_t> read(char* buf, std::size_t cap) override {
    std::size_t k = std::min(cap, n_ - pos_);
    std::copy_n(d_ + pos_, k, buf);
    pos_ += k;
    return k;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

void check_path(std::string_view name) {
  using namespace svc::images::unpack;
  auto clean = clean_entry_path(name);
  if (!clean) return;
  const std::string& p = *clean;
  if (p.starts_with('/') || p == ".." || p.starts_with("../") ||
      p.find("/../") != std::string::npos || p.ends_with("/.."))
    std::abort();
  auto plan = plan_entry(p);
  if (plan.path.size() > p.size()) std::abort();
  if (plan.path.find("..") != std::string::npos && p.find("..") == std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_path(
      std::string_view(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 4096)));

  static svc::TempDir scratch("svc-fuzz-tar-");
  std::filesystem::path root = scratch.path() / "root";
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  std::filesystem::create_directory(root);
  Bytes src(data, size);
  svc::images::unpack::Decompressor dec(src, 64 << 20);
  svc::images::unpack::UnpackOptions opts;
  opts.preserve_owners = false;
  opts.limits.max_entries = 10000;
  opts.limits.max_file_bytes = 16 << 20;
  (void)svc::images::unpack::unpack_tar(dec, root.string(), opts);
  // Only "root" may exist beside the root.
  for (const auto& e : std::filesystem::directory_iterator(scratch.path()))
    if (e.path().filename() != "root") std::abort();
  return 0;
}
