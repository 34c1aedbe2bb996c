// Import without a registry (OCI layout dir and tar, `docker save` tar) and garbage collection
// with leases: remove/prune delete exactly what no image and no lease needs, also after a
// restart, both through ImageService and through svcd + svctl.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "images/image_service.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/image_builder.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::size_t count(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (!e.path().filename().string().starts_with(".")) ++n;
  return n;
}

LayerBuilder base_layer() {
  return LayerBuilder(LayerCompression::kNone)
      .dir("bin")
      .file_from("bin/busybox", "/bin/busybox", 0755);
}

ImageBuilder image_with(const std::string& marker) {
  ImageBuilder b;
  b.layer(base_layer());
  b.layer(LayerBuilder(LayerCompression::kNone).file("marker", marker));
  b.config().cmd = {"/bin/busybox", "cat", "/marker"};
  return b;
}

// A `docker save` archive: manifest.json, <config>.json and <n>/layer.tar (plain tars).
fs::path write_docker_save(const fs::path& dir, const ImageBuilder& b,
                           const std::string& repo_tag) {
  fs::path oci = dir / "oci-for-save";
  WrittenImage w = b.write_layout(oci, "t");
  fs::path save = dir / "save";
  fs::create_directories(save);
  auto blob = [&](const std::string& d) { return oci / "blobs/sha256" / d.substr(7); };
  std::string config_name = w.config_digest.substr(7) + ".json";
  fs::copy_file(blob(w.config_digest), save / config_name);
  json layers = json::array();
  for (std::size_t i = 0; i < w.layer_digests.size(); ++i) {
    fs::create_directories(save / std::to_string(i));
    fs::copy_file(blob(w.layer_digests[i]), save / std::to_string(i) / "layer.tar");
    layers.push_back(std::to_string(i) + "/layer.tar");
  }
  std::ofstream(save / "manifest.json")
      << json::array({{{"Config", config_name}, {"RepoTags", {repo_tag}}, {"Layers", layers}}})
             .dump();
  fs::path tar = dir / "saved.tar";
  auto r = run({"tar", "-C", save.string(), "-cf", tar.string(), "."});
  REQUIRE(r.exit_code == 0);
  return tar;
}

struct Service {
  TempDir tmp{"svc-gc-"};
  SystemClock clock;
  std::unique_ptr<images::ImageService> svc;
  void open() {
    images::ImageServiceOptions o;
    o.root = tmp.path() / "state";
    o.platform = images::Platform{"linux", "amd64", ""};
    svc = std::move(*images::ImageService::create(o, clock));
  }
  images::Image import(const ImageBuilder& b, const std::string& name) {
    fs::path layout = tmp.path() / ("layout-" + random_hex(4));
    b.write_layout(layout, "t");
    auto r = svc->import(layout, name);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    return r->front();
  }
  fs::path blobs() const { return tmp.path() / "state/content/blobs/sha256"; }
  fs::path snaps() const { return tmp.path() / "state/snapshots"; }
};

}  // namespace

TEST_CASE("remove and prune delete exactly what nothing needs - leases survive restarts",
          "[images][gc]") {
  Service s;
  s.open();
  auto a = s.import(image_with("a"), "gc/a:1");
  auto b = s.import(image_with("b"), "gc/b:1");
  REQUIRE(a.layers[0].chain_id == b.layers[0].chain_id);  // the shared base layer
  CHECK(count(s.snaps()) == 3);
  CHECK(count(s.blobs()) == 7);  // 3 layers + 2 manifests + 2 configs

  // Removing a: its own blobs and snapshot go, the shared base stays for b.
  auto r = s.svc->remove("gc/a:1", false);
  REQUIRE(r);
  CHECK(r->untagged == std::vector<std::string>{"docker.io/gc/a:1"});
  CHECK(r->deleted == std::vector<std::string>{a.digest.str()});
  CHECK(r->reclaimed_bytes > 0);
  CHECK(count(s.snaps()) == 2);
  CHECK(count(s.blobs()) == 4);
  CHECK(fs::exists(s.svc->rootfs_lower_dirs(b)[0] / "bin/busybox"));
  CHECK(s.svc->get("gc/a:1").error().code() == Code::kNotFound);

  // A leased image is not removed without force, and not pruned, also after a restart.
  REQUIRE(s.svc->lease("task-42", b));
  auto refused = s.svc->remove("gc/b:1", false);
  REQUIRE(!refused);
  CHECK(refused.error().code() == Code::kFailedPrecondition);
  CHECK(refused.error().message().find("task-42") != std::string::npos);
  auto forced = s.svc->remove("gc/b:1", true);
  REQUIRE(forced);
  CHECK(forced->deleted.empty());
  s.open();  // svcd restarts
  auto pruned = s.svc->prune(true);
  REQUIRE(pruned);
  CHECK(pruned->deleted_images.empty());
  CHECK(count(s.snaps()) == 2);
  for (const auto& dir : s.svc->rootfs_lower_dirs(b)) CHECK(fs::exists(dir));
  // Released: now everything goes.
  REQUIRE(s.svc->release("task-42"));
  pruned = s.svc->prune(true);
  REQUIRE(pruned);
  CHECK(pruned->deleted_images == std::vector<std::string>{b.digest.str()});
  CHECK(pruned->deleted_snapshots == 2);
  CHECK(count(s.snaps()) == 0);
  CHECK(count(s.blobs()) == 0);
}

TEST_CASE("prune without --all removes only images that lost their name", "[images][gc]") {
  Service s;
  s.open();
  auto old_one = s.import(image_with("v1"), "gc/app:latest");
  auto new_one = s.import(image_with("v2"), "gc/app:latest");  // the name moves on
  REQUIRE(old_one.digest != new_one.digest);
  auto list = s.svc->list();
  REQUIRE(list);
  CHECK(list->size() == 2);
  auto pruned = s.svc->prune(false);
  REQUIRE(pruned);
  CHECK(pruned->deleted_images == std::vector<std::string>{old_one.digest.str()});
  CHECK(s.svc->get("gc/app:latest")->digest == new_one.digest);
  CHECK(s.svc->get(new_one.digest.hex().substr(0, 8))->digest == new_one.digest);
  CHECK(s.svc->get("sha256:" + new_one.digest.hex())->digest == new_one.digest);
}

TEST_CASE("svctl image import: OCI layout dir and tar, docker save, multi-platform",
          "[images][import]") {
  DaemonFixture d;
  d.start();
  TempDir t("svc-import-");

  fs::path layout = t.path() / "layout";
  image_with("dir").write_layout(layout, "v1");
  auto no_name = d.svctl({"image", "import", layout.string()});
  CHECK(no_name.exit_code == 1);
  CHECK(no_name.err.find("has no repository name") != std::string::npos);
  auto dir = d.svctl({"image", "import", layout.string(), "imported/dir:1"});
  INFO(dir.err << d.log());
  REQUIRE(dir.exit_code == 0);
  CHECK(dir.out.find("docker.io/imported/dir:1") != std::string::npos);

  fs::path tarball = t.path() / "layout.tar";
  REQUIRE(run({"tar", "-C", layout.string(), "-cf", tarball.string(), "."}).exit_code == 0);
  auto tar = d.svctl({"image", "import", tarball.string(), "imported/tar:1", "-o", "json"});
  INFO(tar.err);
  REQUIRE(tar.exit_code == 0);
  auto tar_json = json::parse(tar.out);
  CHECK(tar_json["images"][0]["reference"] == "docker.io/imported/tar:1");
  CHECK(tar_json["images"][0]["config"]["cmd"][2] == "/marker");

  fs::path saved = write_docker_save(t.path(), image_with("saved"), "saved/app:2");
  auto ds = d.svctl({"image", "import", saved.string(), "-o", "json"});
  INFO(ds.err << d.log());
  REQUIRE(ds.exit_code == 0);
  auto ds_json = json::parse(ds.out);
  CHECK(ds_json["images"][0]["reference"] == "docker.io/saved/app:2");
  CHECK(ds_json["images"][0]["mediaType"] ==
        "application/vnd.docker.distribution.manifest.v2+json");
  std::string chain = ds_json["images"][0]["layers"][1]["chainId"];
  std::ifstream marker(d.state_dir() / "snapshots" / chain.substr(7) / "marker");
  CHECK(std::string(std::istreambuf_iterator<char>(marker), {}) == "saved");

  ImageBuilder amd = image_with("amd64"), arm = image_with("arm64");
  arm.platform("linux", "arm64", "v8");
  fs::path multi = t.path() / "multi";
  write_index_layout(multi, "m", {amd, arm});
  auto mp = d.svctl({"image", "import", multi.string(), "multi/app:1", "-o", "json"});
  INFO(mp.err);
  REQUIRE(mp.exit_code == 0);
  CHECK(json::parse(mp.out)["images"][0]["platform"]["architecture"] == "amd64");

  auto list = d.svctl({"images"});
  CHECK(list.out.find("docker.io/saved/app:2") != std::string::npos);
  auto rm = d.svctl({"image", "rm", "saved/app:2"});
  CHECK(rm.exit_code == 0);
  CHECK(rm.out.find("Deleted: sha256:") != std::string::npos);
  auto gone = d.svctl({"image", "inspect", "saved/app:2"});
  CHECK(gone.exit_code == 5);
  auto prune = d.svctl({"image", "prune", "--all", "-o", "json"});
  REQUIRE(prune.exit_code == 0);
  // dir:1 and tar:1 are one image (same layout) with two names, plus multi/app:1.
  CHECK(json::parse(prune.out)["deletedImages"].size() == 2);
  CHECK(fs::is_empty(d.state_dir() / "content/blobs/sha256"));
  auto rest = d.curl("GET", "/v1/images");
  CHECK(rest.exit_code == 200);
}

TEST_CASE("svctl image import as a user: the archive is sent, a path is refused",
          "[images][import]") {
  if (!is_root()) SVC_SKIP("needs root (runs svctl as another user with setpriv)");
  DaemonFixture d;
  d.start();
  // Let uid 65534 reach this svcd's socket (the test's own temp dirs; a real node would put the
  // user in group svc).
  for (const fs::path& p : {d.dir(), d.run_dir()})
    fs::permissions(p, fs::perms::others_exec, fs::perm_options::add);
  fs::permissions(d.socket(), fs::perms::others_read | fs::perms::others_write,
                  fs::perm_options::add);
  TempDir t("svc-import-user-");
  fs::permissions(t.path(), fs::perms::others_exec, fs::perm_options::add);
  fs::path layout = t.path() / "layout";
  image_with("user").write_layout(layout, "v1");
  fs::path tarball = t.path() / "layout.tar";
  REQUIRE(run({"tar", "-C", layout.string(), "-cf", tarball.string(), "."}).exit_code == 0);
  fs::permissions(tarball, fs::perms::others_read, fs::perm_options::add);
  auto as_nobody = [&](std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {"setpriv",        "--reuid=65534", "--regid=65534",
                                     "--clear-groups", svctl_path(),    "--host",
                                     d.host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(60), {}, input);
  };

  // The tar it can read is sent over the API and imported.
  auto sent = as_nobody({"image", "import", tarball.string(), "user/sent:1"});
  INFO(sent.err << d.log());
  CHECK(sent.exit_code == 0);
  CHECK(sent.out.find("docker.io/user/sent:1") != std::string::npos);
  // So is one piped in.
  auto piped = as_nobody({"image", "import", "-", "user/piped:1"}, read_file(tarball).value());
  INFO(piped.err);
  CHECK(piped.exit_code == 0);
  CHECK(d.svctl({"image", "inspect", "user/piped:1"}).exit_code == 0);

  // A directory would be read by svcd as root: refused, with what to do instead.
  auto by_path = as_nobody({"image", "import", layout.string(), "user/dir:1"});
  CHECK(by_path.exit_code == 4);
  CHECK(by_path.err.find("only root may ask") != std::string::npos);
  CHECK(by_path.err.find("uid 65534") != std::string::npos);
  CHECK(by_path.err.find("tar -C") != std::string::npos);
  CHECK(d.svctl({"image", "inspect", "user/dir:1"}).exit_code == 5);

  // A file the user cannot read stays unread: svctl itself cannot open it.
  fs::path secret = t.path() / "secret.tar";
  fs::copy_file(tarball, secret);
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  auto unreadable = as_nobody({"image", "import", secret.string(), "user/secret:1"});
  CHECK(unreadable.exit_code == 4);
  CHECK(unreadable.err.find("Permission denied") != std::string::npos);
  CHECK(d.svctl({"image", "inspect", "user/secret:1"}).exit_code == 5);
  // Nothing is left in the upload area.
  CHECK(fs::is_empty(d.state_dir() / "uploads"));
}
