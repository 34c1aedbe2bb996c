// Content store, snapshotter, image store, leases and the GC plan, on temp dirs.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/fs.hpp"
#include "images/content_store.hpp"
#include "images/gc.hpp"
#include "images/image_store.hpp"
#include "images/leases.hpp"
#include "images/snapshotter.hpp"

using namespace svc;
using namespace svc::images;
namespace fs = std::filesystem;

namespace {
std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
// c must be a hex digit.
Digest d(char c) { return Digest::from_sha256_hex(std::string(64, c)); }
}  // namespace

TEST_CASE("a blob enters the store only when digest and size match", "[images][content]") {
  TempDir t("svc-cs-");
  ContentStore cs(t.path());
  REQUIRE(cs.init());
  std::string data = "some layer bytes";
  Digest good = Digest::sha256_of(data);

  SECTION("verified write") {
    auto w = cs.writer(good, static_cast<std::int64_t>(data.size()));
    REQUIRE(w);
    REQUIRE((*w)->write(data.data(), 5));
    CHECK(!cs.has(good));  // nothing visible while streaming
    REQUIRE((*w)->write(data.data() + 5, data.size() - 5));
    REQUIRE((*w)->commit());
    CHECK(cs.has(good));
    CHECK(*cs.read(good) == data);
    CHECK(count_files(cs.dir() / "ingest") == 0);
  }
  SECTION("wrong content: refused, no temp left") {
    {
      auto w = cs.writer(good, static_cast<std::int64_t>(data.size()));
      std::string other = "SOME layer bytes";
      REQUIRE((*w)->write(other.data(), other.size()));
      auto r = (*w)->commit();
      REQUIRE(!r);
      CHECK(r.error().code() == Code::kDataLoss);
      CHECK(r.error().message().find("hash to") != std::string::npos);
    }
    CHECK(!cs.has(good));
    CHECK(count_files(cs.dir() / "ingest") == 0);
  }
  SECTION("too long or too short: refused") {
    auto w = cs.writer(good, 4);
    CHECK(!(*w)->write(data.data(), data.size()));
    auto w2 = cs.writer(good, static_cast<std::int64_t>(data.size()) + 1);
    REQUIRE((*w2)->write(data.data(), data.size()));
    auto r = (*w2)->commit();
    REQUIRE(!r);
    CHECK(r.error().message().find("descriptor states") != std::string::npos);
  }
  SECTION("abandoned writer leaves nothing; init cleans crash leftovers") {
    { auto w = cs.writer(good, 100); }
    CHECK(count_files(cs.dir() / "ingest") == 0);
    std::ofstream(cs.dir() / "ingest" / "leftover") << "x";
    REQUIRE(cs.init());
    CHECK(count_files(cs.dir() / "ingest") == 0);
  }
  SECTION("put verifies against an expected digest") {
    CHECK(!cs.put("x", good));
    CHECK(*cs.put(data, good) == good);
    CHECK(cs.list() == std::vector<Digest>{good});
    CHECK(*cs.remove(good) == static_cast<std::int64_t>(data.size()));
    CHECK(!cs.has(good));
  }
}

TEST_CASE("snapshots commit atomically and leftovers are cleaned", "[images][snapshots]") {
  TempDir t("svc-snap-");
  Snapshotter s(t.path());
  REQUIRE(s.init());
  auto tmp = s.prepare(d('1'));
  REQUIRE(tmp);
  std::ofstream(*tmp / "f") << "data";
  CHECK(!s.has(d('1')));
  REQUIRE(s.commit(*tmp, d('1')));
  CHECK(s.has(d('1')));
  // A second unpack of the same chain (a lost race) is dropped, the first stays.
  auto tmp2 = s.prepare(d('1'));
  std::ofstream(*tmp2 / "g") << "other";
  REQUIRE(s.commit(*tmp2, d('1')));
  CHECK(fs::exists(s.path(d('1')) / "f"));
  CHECK(!fs::exists(*tmp2));
  CHECK(disk_usage(s.path(d('1'))) == 4);
  auto left = s.prepare(d('2'));
  REQUIRE(s.init());
  CHECK(!fs::exists(*left));
  CHECK(s.list() == std::vector<Digest>{d('1')});
  CHECK(*s.remove(d('1')) == 4);
  CHECK(s.list().empty());
}

TEST_CASE(
    "a snapshot's files are synced before the rename that names it, and a failed sync "
    "commits nothing",
    "[images][snapshots]") {
  TempDir t("svc-snap-");
  std::vector<std::string> seen;  // for each sync: what existed then
  int fail_with = 0;
  Snapshotter* self = nullptr;
  Snapshotter s(t.path(), [&](int fd) {
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    std::error_code ec;
    fs::path synced = fs::read_symlink(link, ec);
    seen.push_back(synced.filename().string() + (self->has(d('3')) ? " named" : " unnamed"));
    return fail_with;
  });
  self = &s;
  REQUIRE(s.init());
  auto tmp = s.prepare(d('3'));
  std::ofstream(*tmp / "f") << "data";
  REQUIRE(s.commit(*tmp, d('3')));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == tmp->filename().string() + " unnamed");  // the temp dir, before the rename
  // A disk that fails the flush: the layer is not committed (the unpack is retried later).
  fail_with = EIO;
  auto tmp4 = s.prepare(d('4'));
  std::ofstream(*tmp4 / "f") << "data";
  auto r = s.commit(*tmp4, d('4'));
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("sync snapshot") != std::string::npos);
  CHECK_FALSE(s.has(d('4')));
}

TEST_CASE("image records and names are files", "[images][store]") {
  TempDir t("svc-is-");
  ImageStore st(t.path());
  REQUIRE(st.init());
  Image im;
  im.digest = d('a');
  im.config_digest = d('c');
  im.platform = {"linux", "amd64", ""};
  im.layers.push_back({d('1'), d('2'), d('2'), 10, 20, "application/vnd.oci.image.layer.v1.tar"});
  im.config.cmd = {"sh"};
  im.config.labels = {{"k", "v"}};
  REQUIRE(st.put(im));
  REQUIRE(st.set_ref("docker.io/library/a:1", im.digest));
  REQUIRE(st.set_ref("docker.io/library/a:2", im.digest));
  auto got = st.get(im.digest);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->references.size() == 2);
  CHECK((*got)->layers == im.layers);
  CHECK((*got)->config == im.config);
  CHECK(*st.resolve("docker.io/library/a:1") == im.digest);
  REQUIRE(st.remove_ref("docker.io/library/a:1"));
  CHECK(!st.resolve("docker.io/library/a:1"));
  CHECK(st.list()->front().references == std::vector<std::string>{"docker.io/library/a:2"});
}

TEST_CASE("leases persist and merge - holders are validated", "[images][leases]") {
  TempDir t("svc-lease-");
  LeaseStore ls(t.path());
  REQUIRE(ls.init());
  REQUIRE(ls.add({"task-1", {d('a')}, {d('1')}}));
  REQUIRE(ls.add({"task-1", {d('b')}, {d('1'), d('2')}}));
  LeaseStore again(t.path());  // as after a restart
  auto all = again.list();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().images.size() == 2);
  CHECK(all->front().chain_ids.size() == 2);
  CHECK(!ls.add({"../evil", {}, {}}));
  CHECK(!ls.add({"", {}, {}}));
  REQUIRE(ls.release("task-1"));
  CHECK(ls.release("task-1").error().code() == Code::kNotFound);
}

TEST_CASE("GC keeps what images and leases reach, removes the rest", "[images][gc]") {
  Image im;
  im.digest = d('e');
  im.index_digest = d('f');
  im.config_digest = d('c');
  im.layers.push_back({d('1'), d('3'), d('3'), 1, 1, ""});
  im.layers.push_back({d('2'), d('4'), d('4'), 1, 1, ""});
  GcInput in;
  in.images = {im};
  in.leases = {Lease{"t", {}, {d('5')}}};
  in.blobs = {d('e'), d('f'), d('c'), d('1'), d('2'), d('9'), d('8')};
  in.snapshots = {d('3'), d('4'), d('5'), d('6')};
  GcPlan p = plan_gc(in);
  CHECK(p.blobs == std::vector<Digest>{d('9'), d('8')});
  CHECK(p.snapshots == std::vector<Digest>{d('6')});
  // Without the image, only the leased snapshot stays.
  in.images.clear();
  p = plan_gc(in);
  CHECK(p.blobs.size() == 7);
  CHECK(p.snapshots == std::vector<Digest>{d('3'), d('4'), d('6')});
  CHECK(image_leased(im, {Lease{"t", {d('e')}, {}}}));
  CHECK(image_leased(im, {Lease{"t", {}, {d('4')}}}));
  CHECK(!image_leased(im, {Lease{"t", {}, {d('3')}}}));
}
