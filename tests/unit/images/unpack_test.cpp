// Path resolution beneath a root, the whiteout plan and the decompressor: no root needed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/fs.hpp"
#include "images/unpack/byte_stream.hpp"
#include "images/unpack/decompressor.hpp"
#include "images/unpack/safe_root.hpp"
#include "images/unpack/whiteout.hpp"

using namespace svc;
using namespace svc::images::unpack;
namespace fs = std::filesystem;

TEST_CASE("tar entry names are cleaned - .. is refused", "[images][unpack]") {
  CHECK(*clean_entry_path("./a/b") == "a/b");
  CHECK(*clean_entry_path("/etc/passwd") == "etc/passwd");
  CHECK(*clean_entry_path("a//b/./c/") == "a/b/c");
  CHECK(*clean_entry_path("./") == "");
  CHECK(*clean_entry_path("...") == "...");
  for (const char* bad : {"../x", "a/../../x", "a/..", ".."}) {
    auto r = clean_entry_path(bad);
    REQUIRE(!r);
    CHECK(r.error().message().find("\"..\"") != std::string::npos);
  }
  CHECK(split_parent("a/b/c") == std::pair<std::string_view, std::string_view>("a/b", "c"));
  CHECK(split_parent("c") == std::pair<std::string_view, std::string_view>("", "c"));
}

TEST_CASE("whiteouts and opaque markers become an overlayfs plan", "[images][unpack]") {
  using K = EntryPlan::Kind;
  CHECK(plan_entry("a/b") == EntryPlan{K::kNormal, "a/b"});
  CHECK(plan_entry("a/.wh.b") == EntryPlan{K::kWhiteout, "a/b"});
  CHECK(plan_entry(".wh.top") == EntryPlan{K::kWhiteout, "top"});
  CHECK(plan_entry("a/.wh..wh..opq") == EntryPlan{K::kOpaque, "a"});
  CHECK(plan_entry(".wh..wh..opq") == EntryPlan{K::kOpaque, ""});
  CHECK(plan_entry("a/.wh..wh.plnk").kind == K::kSkip);
  CHECK(plan_entry("a/.wh.").kind == K::kSkip);
  CHECK(plan_entry("a/.whx").kind == K::kNormal);
}

TEST_CASE("resolution stays beneath the root whatever the symlinks say", "[images][unpack]") {
  TempDir t("svc-safe-");
  fs::path root = t.path() / "root";
  fs::path outside = t.path() / "outside";
  fs::create_directories(root / "real");
  fs::create_directories(outside);
  fs::create_symlink("/", root / "to_root");
  fs::create_symlink("../../..", root / "up");
  fs::create_symlink(outside, root / "abs_out");
  auto sr = SafeRoot::open(root.string());
  REQUIRE(sr);
  // "to_root/real" is root/real, not the host's /real.
  auto fd = sr->dir("to_root/real", false);
  REQUIRE(fd);
  struct stat a {
  }, b{};
  ::fstat(*fd, &a);
  ::stat((root / "real").c_str(), &b);
  CHECK(a.st_ino == b.st_ino);
  // An absolute symlink is followed inside the root: "/real" is root/real.
  fs::create_symlink("/real", root / "abs_in");
  REQUIRE(sr->dir("abs_in/new/deeper", true));
  CHECK(fs::is_directory(root / "real/new/deeper"));
  // A symlink to the host path of a directory outside resolves to a missing path in the root:
  // refused, and nothing is made outside.
  CHECK(!sr->dir("abs_out/new", true));
  CHECK(fs::is_empty(outside));
  auto up = sr->dir("up/made", true);
  REQUIRE(up);
  CHECK(fs::is_directory(root / "made"));
  // /proc magic links are refused.
  fs::create_symlink("/proc/self/root", root / "magic");
  CHECK(!sr->dir("magic/etc", false));
}

TEST_CASE("remove_at removes trees without following symlinks", "[images][unpack]") {
  TempDir t("svc-rm-");
  fs::create_directories(t.path() / "victim");
  std::ofstream(t.path() / "victim/keep") << "keep";
  fs::create_directories(t.path() / "tree/sub");
  fs::create_symlink(t.path() / "victim", t.path() / "tree/sub/link");
  UniqueFd dir(::open(t.path().c_str(), O_DIRECTORY | O_RDONLY));
  REQUIRE(remove_at(dir.get(), "tree"));
  CHECK(!fs::exists(t.path() / "tree"));
  CHECK(fs::exists(t.path() / "victim/keep"));
}

namespace {
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string s, std::size_t chunk = 7) : s_(std::move(s)), chunk_(chunk) {}
  Result<std::size_t> read(char* buf, std::size_t cap) override {
    std::size_t n = std::min({cap, chunk_, s_.size() - pos_});
    std::copy_n(s_.data() + pos_, n, buf);
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};
}  // namespace

TEST_CASE("the decompressor hashes plain streams and enforces its cap", "[images][unpack]") {
  std::string data(10000, 'x');
  StringSource src(data);
  Decompressor d(src, 0);
  REQUIRE(d.drain());
  CHECK(d.output_bytes() == data.size());
  CHECK(d.finish() == Digest::sha256_of(data));
  CHECK(d.format() == "tar");

  StringSource big(std::string(5000, 'y'));
  Decompressor capped(big, 4096);
  auto r = capped.drain();
  REQUIRE(!r);
  CHECK(r.error().code() == Code::kResourceExhausted);
  CHECK(r.error().message().find("decompression bomb") != std::string::npos);

  // A gzip stream cut short is an error, not a silent short layer.
  std::string gz_head = std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + "abc";
  StringSource cut(gz_head);
  Decompressor dc(cut, 0);
  CHECK(!dc.drain());
}

TEST_CASE("the byte pipe carries data in order and passes aborts both ways", "[images][unpack]") {
  BytePipe p(16);
  REQUIRE(p.push("hello ", 6));
  REQUIRE(p.push("world", 5));
  p.close();
  char buf[64];
  std::string got;
  for (;;) {
    auto n = p.read(buf, 4);
    REQUIRE(n);
    if (*n == 0) break;
    got.append(buf, *n);
  }
  CHECK(got == "hello world");
  BytePipe q(16);
  q.abort(Error(Code::kDataLoss, "reader failed"));
  auto pushed = q.push("x", 1);
  REQUIRE(!pushed);
  CHECK(pushed.error().code() == Code::kDataLoss);
}
