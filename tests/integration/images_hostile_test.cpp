// Hostile layers: each one fails with a clear error or is contained beneath the snapshot root,
// and a sentinel directory outside the store is byte-for-byte unchanged afterwards. Runs the
// real import path (ImageService, the same layer pipeline as a pull) as root.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <zlib.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "images/image_service.hpp"
#include "images/unpack/byte_stream.hpp"
#include "images/unpack/decompressor.hpp"
#include "images/unpack/layer_unpacker.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::test;
namespace fs = std::filesystem;

namespace {

// A digest of every name, type, mode, owner, size, link target and content under dir.
std::string tree_digest(const fs::path& dir) {
  Sha256 h;
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it)
    all.push_back(it->path());
  std::sort(all.begin(), all.end());
  for (const auto& p : all) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    h.update(fmt::format("{} {:o} {} {} {} {} {}\n", p.string(), st.st_mode, st.st_uid, st.st_gid,
                         st.st_size, st.st_nlink, st.st_mtime));
    if (S_ISLNK(st.st_mode)) h.update(fs::read_symlink(p).string());
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(p, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      h.update(data);
    }
  }
  return h.finish().str();
}

struct Fixture {
  TempDir tmp{"svc-hostile-"};
  fs::path sentinel = tmp.path() / "sentinel";
  fs::path state = tmp.path() / "state";
  std::unique_ptr<images::ImageService> svc;
  SystemClock clock;
  std::string before;
  int n = 0;

  explicit Fixture(images::unpack::UnpackLimits limits = {}) {
    fs::create_directories(sentinel / "sub");
    std::ofstream(sentinel / "victim") << "do not touch";
    std::ofstream(sentinel / "sub/file") << "nor this";
    before = tree_digest(sentinel);
    images::ImageServiceOptions o;
    o.root = state;
    o.limits = limits;
    o.platform = images::Platform{"linux", "amd64", ""};
    auto s = images::ImageService::create(o, clock);
    REQUIRE(s);
    svc = std::move(*s);
  }
  // Imports an image whose only layer is `layer`; returns the import's result.
  Result<std::vector<images::Image>> import(const LayerBuilder& layer) {
    ImageBuilder b;
    b.layer(layer);
    fs::path layout = tmp.path() / ("layout" + std::to_string(++n));
    b.write_layout(layout, "t");
    return svc->import(layout, "hostile/x:" + std::to_string(n));
  }
  void check_untouched() {
    CHECK(tree_digest(sentinel) == before);
    struct stat st {};
    ::stat((sentinel / "victim").c_str(), &st);
    CHECK(st.st_nlink == 1);
    // No half snapshot and no temp files left.
    for (const auto& e : fs::directory_iterator(state / "snapshots"))
      CHECK(!e.path().filename().string().starts_with(".tmp-"));
    CHECK(fs::is_empty(state / "content/ingest"));
  }
  std::size_t snapshot_count() {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(state / "snapshots"), {}));
  }
};

std::string rel(const fs::path& p) { return p.relative_path().string(); }

}  // namespace

TEST_CASE("hostile layer paths fail or stay inside the snapshot", "[images][security]") {
  if (!is_root()) SVC_SKIP("needs root (file owners, device nodes and trusted xattrs in layers)");
  Fixture f;
  const std::string sent = f.sentinel.string();

  SECTION("../ paths are refused") {
    auto r = f.import(LayerBuilder().file("../../../../../../" + rel(f.sentinel) + "/pwned", "x"));
    REQUIRE(!r);
    CHECK(r.error().message().find("\"..\"") != std::string::npos);
    CHECK(f.snapshot_count() == 0);
  }
  SECTION("absolute paths land inside the snapshot") {
    auto r = f.import(LayerBuilder().file(sent + "/pwned", "x"));
    REQUIRE(r);
    fs::path snap = f.svc->rootfs_lower_dirs(r->front())[0];
    CHECK(fs::exists(snap / rel(f.sentinel) / "pwned"));
  }
  SECTION("a symlink to / and then a file through it land inside") {
    auto r = f.import(
        LayerBuilder().symlink("root", "/").file("root/" + rel(f.sentinel) + "/pwned", "x"));
    REQUIRE(r);
    fs::path snap = f.svc->rootfs_lower_dirs(r->front())[0];
    CHECK(fs::exists(snap / rel(f.sentinel) / "pwned"));
    CHECK(fs::read_symlink(snap / "root") == "/");
  }
  SECTION("a symlink pointing outside, then a file through it") {
    auto r = f.import(LayerBuilder().symlink("out", sent).file("out/pwned", "x"));
    // The symlink resolves to <snapshot>/<sentinel path>, which does not exist: refused.
    CHECK(!r);
  }
  SECTION("a hard link to a host file is refused") {
    auto r = f.import(LayerBuilder().hardlink("h", sent + "/victim").file("h", "overwritten"));
    REQUIRE(!r);
    CHECK(r.error().message().find("not in the layer") != std::string::npos);
  }
  SECTION("a directory swapped for a symlink between entries") {
    auto r =
        f.import(LayerBuilder().dir("d").file("d/a", "a").symlink("d", sent).file("d/pwned", "x"));
    CHECK(!r);
  }
  SECTION("a symlink swapped for a directory between entries") {
    auto r = f.import(LayerBuilder().symlink("d", sent).dir("d").file("d/x", "inside"));
    REQUIRE(r);
    fs::path snap = f.svc->rootfs_lower_dirs(r->front())[0];
    CHECK(fs::is_directory(fs::symlink_status(snap / "d")));
    CHECK(fs::exists(snap / "d/x"));
  }
  SECTION("a symlink to a parent chain and a file through it") {
    auto r = f.import(LayerBuilder()
                          .dir("a")
                          .symlink("a/up", "../../../../../../..")
                          .file("a/up/" + rel(f.sentinel) + "/pwned", "x"));
    // "up" resolves to the snapshot root (".." stops there), so the file lands inside.
    REQUIRE(r);
    fs::path snap = f.svc->rootfs_lower_dirs(r->front())[0];
    CHECK(fs::exists(snap / rel(f.sentinel) / "pwned"));
  }
  SECTION("device nodes are refused, whiteout devices allowed") {
    auto dev = f.import(LayerBuilder().device("dev/mem", false, 1, 1));
    REQUIRE(!dev);
    CHECK(dev.error().message().find("device nodes are refused") != std::string::npos);
    auto blk = f.import(LayerBuilder().device("sda", true, 8, 0));
    CHECK(!blk);
    auto wh = f.import(LayerBuilder().device("gone", false, 0, 0));
    REQUIRE(wh);
    struct stat st {};
    REQUIRE(::lstat((f.svc->rootfs_lower_dirs(wh->front())[0] / "gone").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
  }
  SECTION("layers cannot set overlayfs xattrs themselves") {
    auto r = f.import(
        LayerBuilder().dir("d").xattr("trusted.overlay.redirect", "/etc").file("d/f", "x"));
    REQUIRE(r);
    char buf[64];
    fs::path d = f.svc->rootfs_lower_dirs(r->front())[0] / "d";
    CHECK(::lgetxattr(d.c_str(), "trusted.overlay.redirect", buf, sizeof buf) < 0);
  }
  f.check_untouched();
}

TEST_CASE("entry-count, file-size and decompression-bomb limits", "[images][security]") {
  if (!is_root()) SVC_SKIP("needs root (file owners, device nodes and trusted xattrs in layers)");
  SECTION("too many entries for a configured limit") {
    images::unpack::UnpackLimits limits;
    limits.max_entries = 1000;
    Fixture f(limits);
    LayerBuilder many;
    for (int i = 0; i < 2000; ++i) many.file("f/" + std::to_string(i), "");
    auto r = f.import(many);
    REQUIRE(!r);
    CHECK(r.error().code() == Code::kResourceExhausted);
    CHECK(r.error().message().find("more than 1000 entries") != std::string::npos);
    CHECK(f.snapshot_count() == 0);
    f.check_untouched();
  }
  SECTION("a file larger than the per-file limit") {
    images::unpack::UnpackLimits limits;
    limits.max_file_bytes = 1 << 20;
    Fixture f(limits);
    auto r = f.import(LayerBuilder().file("big", std::string(2 << 20, 'b')));
    REQUIRE(!r);
    CHECK(r.error().message().find("allowed for one file") != std::string::npos);
    f.check_untouched();
  }
  SECTION("a decompression bomb: 256 MiB of zeros in a 256 KiB gzip, 64 MiB limit") {
    images::unpack::UnpackLimits limits;
    limits.max_layer_bytes = 64 << 20;
    Fixture f(limits);
    auto r =
        f.import(LayerBuilder(LayerCompression::kGzip).file("zeros", std::string(256 << 20, '\0')));
    REQUIRE(!r);
    CHECK(r.error().code() == Code::kResourceExhausted);
    CHECK(r.error().message().find("decompression bomb") != std::string::npos);
    f.check_untouched();
  }
}

namespace {
// A tar stream generated on the fly: `count` ustar headers of whiteout entries for one name
// (cheap to apply), then the end-of-archive blocks. 10^6 entries are 512 MB of stream that
// never exists in memory or on disk.
class ManyEntries final : public images::unpack::ByteSource {
 public:
  explicit ManyEntries(std::uint64_t count) : count_(count) {
    std::memset(header_, 0, sizeof header_);
    std::strcpy(header_, ".wh.x");
    std::strcpy(header_ + 100, "0000644");
    std::strcpy(header_ + 108, "0000000");
    std::strcpy(header_ + 116, "0000000");
    std::strcpy(header_ + 124, "00000000000");
    std::strcpy(header_ + 136, "14000000000");
    header_[156] = '0';
    std::memcpy(header_ + 257,
                "ustar\0"
                "00",
                8);
    std::memset(header_ + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header_) sum += c;
    std::snprintf(header_ + 148, 8, "%06o", sum);
  }
  Result<std::size_t> read(char* buf, std::size_t cap) override {
    std::size_t out = 0;
    while (out + 512 <= cap) {
      if (emitted_ < count_) {
        std::memcpy(buf + out, header_, 512);
      } else if (emitted_ < count_ + 2) {
        std::memset(buf + out, 0, 512);
      } else {
        break;
      }
      ++emitted_;
      out += 512;
    }
    return out;
  }

 private:
  std::uint64_t count_;
  std::uint64_t emitted_ = 0;
  char header_[512];
};
}  // namespace

TEST_CASE("the default entry limit stops a layer of 10^6 + 1 entries", "[images][security]") {
  if (!is_root()) SVC_SKIP("needs root (file owners, device nodes and trusted xattrs in layers)");
  TempDir t("svc-many-");
  ManyEntries src(1'000'001);
  images::unpack::Decompressor dec(src, images::unpack::UnpackLimits{}.max_layer_bytes);
  images::unpack::UnpackOptions opts;  // the defaults svcd uses
  auto r = images::unpack::unpack_tar(dec, t.path().string(), opts);
  REQUIRE(!r);
  CHECK(r.error().code() == Code::kResourceExhausted);
  CHECK(r.error().message().find("more than 1000000 entries") != std::string::npos);
}
