// Pulls through a real svcd (driven with svctl) from a real docker-registry fed by skopeo:
// OCI and Docker schema 2 manifests, gzip, zstd and plain layers, whiteouts, opaque dirs, hard
// links, symlinks, xattrs, modes and owners, a multi-platform index; then checks every file in
// the snapshots and what overlayfs makes of them.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/daemon_fixture.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/registry_fixture.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string xattr(const fs::path& p, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

struct StatResult {
  bool ok = false;
  struct stat st {};
};
StatResult lst(const fs::path& p) {
  StatResult r;
  r.ok = ::lstat(p.c_str(), &r.st) == 0;
  return r;
}

// Three layers that exercise what unpacking must keep.
ImageBuilder rich_image(LayerCompression top) {
  ImageBuilder b;
  b.layer(LayerBuilder(LayerCompression::kGzip)
              .dir("bin", 0755)
              .file_from("bin/busybox", "/bin/busybox", 0755)
              .symlink("bin/sh", "busybox")
              .file("bin/suid", "#!/bin/sh\n", 04755)
              .dir("etc", 0755)
              .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644)
              .file("etc/motd", "hello\n", 0640, 1000, 1000)
              .dir("tmp", 01777)
              .dir("hard", 0700, 1000, 1001)
              .file("hard/a", "linked content\n", 0600, 1000, 1001)
              .hardlink("hard/b", "hard/a")
              .dir("old", 0755)
              .file("old/x", "x")
              .file("old/y", "y")
              .dir("del", 0755)
              .file("del/me", "delete me")
              .file("tagged", "has an xattr")
              .xattr("user.svc", "yes")
              .fifo("run.fifo"));
  b.layer(LayerBuilder(LayerCompression::kGzip)
              .whiteout("del/me")
              .dir("old", 0755)
              .opaque("old")
              .file("old/new", "new")
              .file("etc/motd", "bye\n", 0644)
              .file("hard/c", "c", 0600, 1000, 1001));  // "hard/" itself is not in this tar
  b.layer(LayerBuilder(top)
              .dir("app", 0750, 1000, 1000)
              .file("app/data", std::string(100000, 'd'), 0600, 1000, 1000));
  auto& c = b.config();
  c.entrypoint = {"/bin/sh", "-c"};
  c.cmd = {"echo hi"};
  c.env = {"PATH=/bin", "GREETING=hello"};
  c.workdir = "/app";
  c.user = "1000:1000";
  c.exposed_ports = {"8080/tcp"};
  c.stop_signal = "SIGINT";
  c.labels = {{"org.example", "yes"}};
  return b;
}

struct Node {
  RegistryFixture reg;
  std::unique_ptr<DaemonFixture> svcd;
  void start() {
    reg.start();
    DaemonFixture::Options o;
    o.extra_config = "[registries]\ninsecure = [\"" + reg.host() + "\"]\n";
    svcd = std::make_unique<DaemonFixture>(o);
    svcd->start();
  }
  json pull(const std::string& ref) {
    auto r = svcd->svctl({"pull", ref}, std::chrono::seconds(120));
    INFO(r.out << r.err << svcd->log());
    REQUIRE(r.exit_code == 0);
    auto js = svcd->svctl({"image", "inspect", ref, "-o", "json"});
    REQUIRE(js.exit_code == 0);
    return json::parse(js.out);
  }
  fs::path snapshot(const json& image, std::size_t i) {
    std::string chain = image["layers"][i]["chainId"];
    return svcd->state_dir() / "snapshots" / chain.substr(7);
  }
};

void check_rich_snapshots(Node& n, const json& im) {
  REQUIRE(im["layers"].size() == 3);
  fs::path l1 = n.snapshot(im, 0), l2 = n.snapshot(im, 1), l3 = n.snapshot(im, 2);
  // Layer 1: content, modes, owners, links, xattrs, fifo.
  CHECK(slurp(l1 / "bin/busybox") == slurp("/bin/busybox"));
  CHECK((lst(l1 / "bin/busybox").st.st_mode & 07777) == 0755);
  CHECK(fs::read_symlink(l1 / "bin/sh") == "busybox");
  CHECK((lst(l1 / "bin/suid").st.st_mode & 07777) == 04755);
  auto motd = lst(l1 / "etc/motd");
  CHECK(motd.st.st_uid == 1000);
  CHECK(motd.st.st_gid == 1000);
  CHECK((motd.st.st_mode & 07777) == 0640);
  CHECK(slurp(l1 / "etc/motd") == "hello\n");
  CHECK((lst(l1 / "tmp").st.st_mode & 07777) == 01777);
  auto hard = lst(l1 / "hard");
  CHECK((hard.st.st_mode & 07777) == 0700);
  CHECK(hard.st.st_uid == 1000);
  CHECK(hard.st.st_gid == 1001);
  auto a = lst(l1 / "hard/a"), b = lst(l1 / "hard/b");
  CHECK(a.st.st_ino == b.st.st_ino);
  CHECK(a.st.st_nlink == 2);
  CHECK(slurp(l1 / "hard/b") == "linked content\n");
  CHECK(xattr(l1 / "tagged", "user.svc") == "yes");
  CHECK(S_ISFIFO(lst(l1 / "run.fifo").st.st_mode));
  CHECK(lst(l1 / "etc/passwd").st.st_mtime == 1700000000);
  CHECK(lst(l1 / "etc").st.st_mtime == 1700000000);
  // Layer 2: overlayfs whiteout (char 0:0) and opaque xattr.
  auto wh = lst(l2 / "del/me");
  REQUIRE(wh.ok);
  CHECK(S_ISCHR(wh.st.st_mode));
  CHECK(wh.st.st_rdev == makedev(0, 0));
  CHECK(!fs::exists(l2 / "del/.wh.me"));
  CHECK(xattr(l2 / "old", "trusted.overlay.opaque") == "y");
  CHECK(!fs::exists(l2 / "old/.wh..wh..opq"));
  CHECK(slurp(l2 / "old/new") == "new");
  // A directory this layer's tar never named takes its metadata from the layer below, so the
  // overlay does not turn it into root:root 0755.
  auto implied = lst(l2 / "hard");
  CHECK((implied.st.st_mode & 07777) == 0700);
  CHECK(implied.st.st_uid == 1000);
  CHECK(implied.st.st_gid == 1001);
  CHECK(lst(l2 / "etc").st.st_mtime == 1700000000);
  // Layer 3.
  CHECK(slurp(l3 / "app/data") == std::string(100000, 'd'));
  CHECK(lst(l3 / "app").st.st_uid == 1000);

  // What the kernel's overlayfs shows for the stack: the whiteout hides, the opaque dir hides.
  TempDir mnt("svc-ovl-");
  std::string opts = "lowerdir=" + l3.string() + ":" + l2.string() + ":" + l1.string();
  REQUIRE(::mount("overlay", mnt.path().c_str(), "overlay", MS_RDONLY, opts.c_str()) == 0);
  CHECK(!fs::exists(mnt.path() / "del/me"));
  CHECK(!fs::exists(mnt.path() / "old/x"));
  CHECK(fs::exists(mnt.path() / "old/new"));
  CHECK(slurp(mnt.path() / "etc/motd") == "bye\n");
  CHECK(slurp(mnt.path() / "bin/busybox") == slurp("/bin/busybox"));
  CHECK(slurp(mnt.path() / "app/data").size() == 100000);
  CHECK((lst(mnt.path() / "hard").st.st_mode & 07777) == 0700);
  CHECK(lst(mnt.path() / "hard").st.st_uid == 1000);
  ::umount2(mnt.path().c_str(), MNT_DETACH);
}

}  // namespace

TEST_CASE("pull OCI, Docker schema 2 and zstd images through svcd - snapshots keep everything",
          "[images][pull]") {
  if (!is_root()) SVC_SKIP("needs root (owners, whiteout devices, trusted xattrs, overlay mount)");
  Node n;
  n.start();
  std::string oci = n.reg.push(rich_image(LayerCompression::kGzip), "rich/oci:1");
  std::string v2 =
      n.reg.push(rich_image(LayerCompression::kGzip), "rich/docker:1", PushFormat::kDockerV2S2);
  std::string zst = n.reg.push(rich_image(LayerCompression::kZstd), "rich/zstd:1");
  std::string plain = n.reg.push(rich_image(LayerCompression::kNone), "rich/plain:1");

  SECTION("OCI manifest") {
    json im = n.pull(oci);
    CHECK(im["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
    CHECK(im["reference"] == oci);
    CHECK(im["config"]["entrypoint"] == json({"/bin/sh", "-c"}));
    CHECK(im["config"]["cmd"] == json({"echo hi"}));
    CHECK(im["config"]["workdir"] == "/app");
    CHECK(im["config"]["user"] == "1000:1000");
    CHECK(im["config"]["exposedPorts"] == json({"8080/tcp"}));
    CHECK(im["config"]["stopSignal"] == "SIGINT");
    CHECK(im["config"]["labels"]["org.example"] == "yes");
    CHECK(im["platform"]["architecture"] == "amd64");
    check_rich_snapshots(n, im);
    // Blobs are in the content store under their digests.
    for (const auto& l : im["layers"])
      CHECK(fs::exists(n.svcd->state_dir() / "content/blobs/sha256" /
                       l["digest"].get<std::string>().substr(7)));
    // A second pull fetches nothing.
    auto again = n.svcd->svctl({"pull", oci});
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("already exists") != std::string::npos);
  }
  SECTION("Docker schema 2 manifest") {
    json im = n.pull(v2);
    CHECK(im["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json");
    CHECK(im["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip");
    check_rich_snapshots(n, im);
  }
  SECTION("zstd and uncompressed layers") {
    json z = n.pull(zst);
    CHECK(z["layers"][2]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd");
    check_rich_snapshots(n, z);
    json p = n.pull(plain);
    check_rich_snapshots(n, p);
    // Same first two layers: the same snapshots, unpacked once and shared.
    CHECK(z["layers"][1]["chainId"] == p["layers"][1]["chainId"]);
  }
  SECTION("svctl images, REST and -o json show the pulled image") {
    n.pull(oci);
    auto table = n.svcd->svctl({"images"});
    CHECK(table.exit_code == 0);
    CHECK(table.out.find(oci) != std::string::npos);
    auto rest = n.svcd->curl("GET", "/v1/images");
    REQUIRE(rest.exit_code == 200);
    CHECK(json::parse(rest.out)["images"][0]["reference"] == oci);
  }
  SECTION("REST pull streams progress as NDJSON and ends with the image") {
    auto r = n.svcd->curl("POST", "/v1/images:pull", json{{"reference", v2}}.dump());
    REQUIRE(r.exit_code == 200);
    std::vector<json> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(json::parse(line));
    REQUIRE(lines.size() >= 3);
    CHECK(lines.front()["message"].get<std::string>().find("resolving") != std::string::npos);
    CHECK(lines.back()["image"]["reference"] == v2);
    bool saw_layers = false;
    for (const auto& l : lines) saw_layers = saw_layers || l.contains("layers");
    CHECK(saw_layers);
    auto missing = n.svcd->curl("GET", "/v1/images/nothing:here");
    CHECK(missing.exit_code == 404);
    auto got = n.svcd->curl("GET", "/v1/images/" + v2);
    CHECK(got.exit_code == 200);
    auto del = n.svcd->curl("DELETE", "/v1/images/" + v2);
    CHECK(del.exit_code == 200);
    CHECK(json::parse(del.out)["untagged"][0] == v2);
  }
}

TEST_CASE("a multi-platform index: the node's platform is picked, another on request",
          "[images][pull]") {
  if (!is_root()) SVC_SKIP("needs root (svcd unpacks layers with their owners)");
  Node n;
  n.start();
  ImageBuilder amd, arm;
  amd.layer(LayerBuilder().file("which", "amd64\n")).platform("linux", "amd64");
  arm.layer(LayerBuilder().file("which", "arm64\n")).platform("linux", "arm64", "v8");
  fs::path layout = n.reg.dir() / "multi";
  write_index_layout(layout, "m", {amd, arm});
  std::string ref = n.reg.push_layout(layout, "m", "multi:1", PushFormat::kOci, true);

  json im = n.pull(ref);
  CHECK(im["platform"]["architecture"] == "amd64");
  CHECK(slurp(n.snapshot(im, 0) / "which") == "amd64\n");

  auto r = n.svcd->svctl({"pull", "--platform", "linux/arm64", ref, "-o", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json other = json::parse(r.out);
  CHECK(other["platform"]["architecture"] == "arm64");
  CHECK(other["digest"] != im["digest"]);

  auto none = n.svcd->svctl({"pull", "--platform", "linux/s390x", ref});
  CHECK(none.exit_code != 0);
  CHECK(none.err.find("no image for this node's platform linux/s390x") != std::string::npos);
  CHECK(none.err.find("linux/arm64/v8") != std::string::npos);
}
