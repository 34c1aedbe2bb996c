// svc.v1.Images and svc.v1.Node handlers over fake backends.
#include <catch2/catch.hpp>

#include "api/server/services/image_service.hpp"
#include "api/server/services/node_service.hpp"
#include "svc/v1/images.pb.h"
#include "svc/v1/node.pb.h"
#include "tests/unit/api/fake_backends.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;

namespace {

struct Fixture {
  Dispatcher d;
  FakeImageBackend images;
  Fixture() { register_image_service(d, images); }
};

ImageRecord sample_image() {
  ImageRecord im;
  im.references = {"docker.io/library/alpine:3", "alpine:latest"};
  im.digest = "sha256:" + std::string(64, 'd');
  im.config_digest = "sha256:" + std::string(64, 'c');
  im.media_type = "application/vnd.oci.image.manifest.v1+json";
  im.platform = {"linux", "arm64", "v8"};
  im.layers.push_back({"sha256:l1", "sha256:d1", "sha256:c1", 1000, "tar+gzip"});
  im.size = 1234;
  im.unpacked_size = 5678;
  im.config.entrypoint = {"/bin/sh"};
  im.config.cmd = {"-c", "true"};
  im.config.env = {"PATH=/bin"};
  im.config.exposed_ports = {"8080/tcp"};
  im.config.labels = {{"k", "v"}};
  im.created = std::chrono::system_clock::time_point(std::chrono::seconds(1'600'000'000));
  im.pulled_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  return im;
}

}  // namespace

TEST_CASE("Pull streams progress, then the image - platforms are checked", "[api][images]") {
  Fixture f;
  PullUpdate first;
  first.message = "resolving";
  PullUpdate second;
  second.message = "fetching layers";
  second.layers.push_back({"sha256:l1", LayerPhase::kDownloading, 10, 100});
  f.images.updates = {first, second};
  v1::PullImageRequest req;
  req.set_reference("alpine:3");
  req.mutable_platform()->set_architecture("arm64");
  auto out = call_stream<v1::PullProgress>(f.d, "svc.v1.Images/Pull", req);
  REQUIRE(out);
  REQUIRE(out->size() == 3);
  CHECK((*out)[0].message() == "resolving");
  CHECK((*out)[1].layers(0).phase() == v1::LayerProgress::DOWNLOADING);
  CHECK((*out)[1].layers(0).current() == 10);
  CHECK((*out)[1].layers(0).total() == 100);
  CHECK((*out)[2].message() == "pulled");
  CHECK((*out)[2].image().reference() == "alpine:3");
  // An architecture alone means linux.
  REQUIRE(f.images.last_platform);
  CHECK(f.images.last_platform->os == "linux");
  CHECK(f.images.last_platform->architecture == "arm64");

  v1::PullImageRequest plain;
  plain.set_reference("alpine:3");
  REQUIRE(call_stream<v1::PullProgress>(f.d, "svc.v1.Images/Pull", plain));
  CHECK_FALSE(f.images.last_platform);  // the node's own

  v1::PullImageRequest no_arch;
  no_arch.set_reference("alpine:3");
  no_arch.mutable_platform()->set_os("linux");
  CHECK_THAT(call_stream<v1::PullProgress>(f.d, "svc.v1.Images/Pull", no_arch).error().message(),
             Catch::Contains("architecture"));
  v1::PullImageRequest empty;
  auto e = call_stream<v1::PullProgress>(f.d, "svc.v1.Images/Pull", empty);
  REQUIRE_FALSE(e);
  CHECK(e.error().code() == Code::kInvalidArgument);
  CHECK_THAT(e.error().message(), Catch::Contains("reference"));
}

TEST_CASE("a pull whose client went away is cancelled", "[api][images]") {
  Fixture f;
  f.images.updates.resize(5);
  v1::PullImageRequest req;
  req.set_reference("alpine:3");
  auto out = call_stream<v1::PullProgress>(f.d, "svc.v1.Images/Pull", req, 1);
  REQUIRE_FALSE(out);
  CHECK(out.error().code() == Code::kCancelled);
}

TEST_CASE("Get, List: every field of the image record reaches the message", "[api][images]") {
  Fixture f;
  f.images.images = {sample_image()};
  v1::GetImageRequest req;
  req.set_reference("alpine:latest");
  auto im = call<v1::Image>(f.d, "svc.v1.Images/Get", req);
  REQUIRE(im);
  CHECK(im->reference() == "docker.io/library/alpine:3");
  CHECK(im->references_size() == 2);
  CHECK(im->digest() == "sha256:" + std::string(64, 'd'));
  CHECK(im->config_digest() == "sha256:" + std::string(64, 'c'));
  CHECK(im->platform().variant() == "v8");
  REQUIRE(im->layers_size() == 1);
  CHECK(im->layers(0).chain_id() == "sha256:c1");
  CHECK(im->layers(0).size() == 1000);
  CHECK(im->size() == 1234);
  CHECK(im->unpacked_size() == 5678);
  CHECK(im->config().cmd_size() == 2);
  CHECK(im->config().exposed_ports(0) == "8080/tcp");
  CHECK(im->config().labels().at("k") == "v");
  CHECK(im->created_at().seconds() == 1'600'000'000);
  CHECK(im->pulled_at().seconds() == 1'700'000'000);

  req.set_reference("");
  CHECK(call<v1::Image>(f.d, "svc.v1.Images/Get", req).error().code() == Code::kInvalidArgument);
  req.set_reference("nope");
  CHECK(call<v1::Image>(f.d, "svc.v1.Images/Get", req).error().code() == Code::kNotFound);

  auto list = call<v1::ListImagesResponse>(f.d, "svc.v1.Images/List", v1::ListImagesRequest());
  REQUIRE(list);
  CHECK(list->images_size() == 1);
}

TEST_CASE("Remove, Prune and Import translate their outcomes", "[api][images]") {
  Fixture f;
  f.images.images = {sample_image()};
  v1::RemoveImageRequest rm;
  rm.set_reference("alpine:latest");
  rm.set_force(true);
  auto removed = call<v1::RemoveImageResponse>(f.d, "svc.v1.Images/Remove", rm);
  REQUIRE(removed);
  CHECK(removed->untagged(0) == "alpine:latest");
  CHECK(removed->deleted(0) == "forced");
  CHECK(removed->reclaimed_bytes() == 42);

  v1::PruneImagesRequest prune;
  prune.set_all(true);
  auto pruned = call<v1::PruneImagesResponse>(f.d, "svc.v1.Images/Prune", prune);
  REQUIRE(pruned);
  CHECK(pruned->deleted_images(0) == "all");
  CHECK(pruned->deleted_blobs() == 3);
  CHECK(pruned->deleted_snapshots() == 2);

  v1::ImportImageRequest imp;
  imp.set_path("relative/image.tar");
  CHECK(call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp).error().code() ==
        Code::kInvalidArgument);
  CHECK(f.images.imported_paths.empty());
  imp.set_path("/srv/image.tar");
  auto imported = call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp);
  REQUIRE(imported);
  CHECK(imported->images(0).reference() == "imported:1");
  CHECK(f.images.imported_paths == std::vector<std::string>{"/srv/image.tar"});
}

TEST_CASE("Import by path: only root on the unix socket may name one", "[api][images]") {
  Fixture f;
  v1::ImportImageRequest imp;
  imp.set_path("/root/secret.tar");
  CallContext tcp;
  tcp.transport = CallContext::Transport::kTcp;
  auto over_tcp = call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, tcp);
  REQUIRE_FALSE(over_tcp);
  CHECK(over_tcp.error().code() == Code::kPermissionDenied);
  CHECK_THAT(over_tcp.error().message(), Catch::Contains("TCP"));
  CHECK_THAT(over_tcp.error().message(), Catch::Contains("svctl image import FILE"));

  CallContext user;
  user.transport = CallContext::Transport::kUnix;
  user.unix_peer = PeerCredentials{4242, 1000, 1000};
  auto as_user = call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, user);
  REQUIRE_FALSE(as_user);
  CHECK(as_user.error().code() == Code::kPermissionDenied);
  CHECK_THAT(as_user.error().message(), Catch::Contains("uid 1000"));

  CallContext unknown;
  unknown.transport = CallContext::Transport::kUnix;
  auto no_creds = call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, unknown);
  REQUIRE_FALSE(no_creds);
  CHECK(no_creds.error().code() == Code::kPermissionDenied);
  CHECK(f.images.imported_paths.empty());  // nothing was read

  CallContext root;
  root.transport = CallContext::Transport::kUnix;
  root.unix_peer = PeerCredentials{1, 0, 0};
  REQUIRE(call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, root));
  CHECK(f.images.imported_paths == std::vector<std::string>{"/root/secret.tar"});
}

TEST_CASE("Upload then Import: an archive sent in chunks, from anywhere", "[api][images]") {
  Fixture f;
  CallContext tcp;
  tcp.transport = CallContext::Transport::kTcp;
  v1::UploadRequest first;
  first.set_data("hello ");
  auto opened = call<v1::UploadResponse>(f.d, "svc.v1.Images/Upload", first, tcp);
  REQUIRE(opened);
  CHECK(opened->size() == 6);
  std::string id = opened->upload_id();
  CHECK_FALSE(id.empty());

  v1::UploadRequest next;
  next.set_upload_id(id);
  next.set_offset(6);
  next.set_data("world");
  auto more = call<v1::UploadResponse>(f.d, "svc.v1.Images/Upload", next, tcp);
  REQUIRE(more);
  CHECK(more->size() == 11);
  // The same chunk again (a retry whose answer was lost) is refused, not appended twice.
  auto again = call<v1::UploadResponse>(f.d, "svc.v1.Images/Upload", next, tcp);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Code::kFailedPrecondition);

  v1::UploadRequest big;
  big.set_upload_id(id);
  big.set_offset(11);
  big.set_data(std::string((4 << 20) + 1, 'x'));
  auto too_big = call<v1::UploadResponse>(f.d, "svc.v1.Images/Upload", big, tcp);
  REQUIRE_FALSE(too_big);
  CHECK_THAT(too_big.error().message(), Catch::Contains("data"));
  v1::UploadRequest skip;
  skip.set_offset(5);
  CHECK(call<v1::UploadResponse>(f.d, "svc.v1.Images/Upload", skip, tcp).error().code() ==
        Code::kInvalidArgument);

  v1::ImportImageRequest both;
  both.set_upload_id(id);
  both.set_path("/srv/x.tar");
  CHECK(call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", both, tcp).error().code() ==
        Code::kInvalidArgument);
  v1::ImportImageRequest imp;
  imp.set_upload_id(id);
  auto imported = call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, tcp);
  REQUIRE(imported);
  CHECK(imported->images(0).reference() == "uploaded:1");
  CHECK(f.images.imported_uploads == std::vector<std::string>{"hello world"});
  // An upload is imported once.
  CHECK(call<v1::ImportImageResponse>(f.d, "svc.v1.Images/Import", imp, tcp).error().code() ==
        Code::kNotFound);
}

TEST_CASE("Node.Info: the host record and the daemon's status", "[api][node]") {
  Dispatcher d;
  NodeHost host;
  host.hostname = "box";
  host.kernel = "6.18.0";
  host.cpus = 2;
  host.memory_bytes = 24ULL << 30;
  host.cgroup_mode = NodeHost::CgroupMode::kHybrid;
  host.cgroup_driver = "v1";
  host.controllers = {{"memory", "v1", true}, {"hugetlb", "v2", false}};
  host.seccomp = {true, "filter mode"};
  host.kvm_device_present = true;
  host.kvm_flavour = "kvm_pvm";
  int calls = 0;
  struct Control : NodeControl {
    std::vector<std::chrono::milliseconds> drains;
    bool draining = false;
    Result<Drained> drain(std::chrono::milliseconds timeout) override {
      drains.push_back(timeout);
      draining = true;
      return Drained{3, 2, 1, std::chrono::milliseconds(1250)};
    }
    void resume() override { draining = false; }
  } control;
  register_node_service(
      d, host,
      [&] {
        ++calls;
        NodeStatus s;
        s.node_id = "n1";
        s.allocatable_cpu_millis = 1500;
        s.running_tasks = 4;
        s.started_at = std::chrono::system_clock::now() - std::chrono::seconds(5);
        if (control.draining) s.draining = "the node is draining";
        return s;
      },
      control);
  auto info = call<v1::NodeInfo>(d, "svc.v1.Node/Info", v1::NodeInfoRequest());
  REQUIRE(info);
  CHECK(calls == 1);  // the status is read per call, not at registration
  CHECK(info->hostname() == "box");
  CHECK(info->kernel() == "6.18.0");
  CHECK(info->cpus() == 2);
  CHECK(info->memory_bytes() == static_cast<std::int64_t>(24ULL << 30));
  CHECK(info->cgroup().mode() == v1::CgroupInfo::HYBRID);
  CHECK(info->cgroup().controllers_size() == 2);
  CHECK_FALSE(info->cgroup().controllers(1).usable());
  CHECK(info->seccomp().usable());
  CHECK(info->kvm().flavour() == "kvm_pvm");
  CHECK(info->node_id() == "n1");
  CHECK(info->allocatable_cpu_millis() == 1500);
  CHECK(info->running_tasks() == 4);
  CHECK(info->uptime().seconds() >= 5);
  CHECK(info->draining().empty());

  SECTION("Drain: the default wait, a given one, and a bad one changes nothing") {
    auto drained = call<v1::DrainNodeResponse>(d, "svc.v1.Node/Drain", v1::DrainNodeRequest());
    REQUIRE(drained);
    CHECK(drained->tasks_stopped() == 3);
    CHECK(drained->instances_drained() == 2);
    CHECK(drained->still_running() == 1);
    CHECK(drained->waited().seconds() == 1);
    CHECK(drained->waited().nanos() == 250'000'000);
    v1::DrainNodeRequest req;
    req.mutable_timeout()->set_seconds(5);
    REQUIRE(call<v1::DrainNodeResponse>(d, "svc.v1.Node/Drain", req));
    CHECK(control.drains == std::vector<std::chrono::milliseconds>{std::chrono::seconds(60),
                                                                   std::chrono::seconds(5)});
    auto now = call<v1::NodeInfo>(d, "svc.v1.Node/Info", v1::NodeInfoRequest());
    REQUIRE(now);
    CHECK(now->draining() == "the node is draining");

    req.mutable_timeout()->set_seconds(-1);
    auto bad = call<v1::DrainNodeResponse>(d, "svc.v1.Node/Drain", req);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == Code::kInvalidArgument);
    CHECK(control.drains.size() == 2);

    auto resumed = call<v1::NodeInfo>(d, "svc.v1.Node/Resume", v1::ResumeNodeRequest());
    REQUIRE(resumed);
    CHECK(resumed->draining().empty());
    CHECK(resumed->node_id() == "n1");
  }
}
