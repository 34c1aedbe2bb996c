#include <catch2/catch.hpp>

#include "images/manifest.hpp"
#include "images/platform.hpp"

using namespace svc;
using namespace svc::images;

namespace {
const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
std::string manifest_json(const std::string& media_type = std::string(media::kOciManifest)) {
  return R"({"schemaVersion":2,"mediaType":")" + media_type +
         R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
         kHexA +
         R"(","size":12},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:)" +
         kHexB + R"(","size":34}]})";
}
}  // namespace

TEST_CASE("manifests, indexes and configs parse", "[images][manifest]") {
  auto m = parse_manifest(manifest_json());
  REQUIRE(m);
  CHECK(m->config.digest.hex() == kHexA);
  CHECK(m->layers.size() == 1);
  CHECK(m->layers[0].size == 34);
  CHECK(*classify_document("", manifest_json()) == DocumentKind::kManifest);
  CHECK(*classify_document(std::string(media::kDockerManifest),
                           manifest_json(std::string(media::kDockerManifest))) ==
        DocumentKind::kManifest);

  std::string index =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
      kHexA + R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})";
  CHECK(*classify_document(std::string(media::kOciIndex), index) == DocumentKind::kIndex);
  CHECK(*classify_document("application/json", index) == DocumentKind::kIndex);
  auto idx = parse_index(index);
  REQUIRE(idx);
  CHECK(idx->manifests[0].platform->variant == "v7");

  std::string config = R"({"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09.123Z",
    "config":{"Entrypoint":["/e"],"Cmd":["c"],"Env":["A=1"],"WorkingDir":"/w","User":"1:2",
    "ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGTERM","Labels":{"k":"v"}},
    "rootfs":{"type":"layers","diff_ids":["sha256:)" +
                       kHexB + R"("]}})";
  auto c = parse_image_config(config);
  REQUIRE(c);
  CHECK(c->platform.architecture == "amd64");
  CHECK(c->diff_ids.size() == 1);
  CHECK(c->config.entrypoint == std::vector<std::string>{"/e"});
  CHECK(c->config.exposed_ports == std::vector<std::string>{"80/tcp"});
  CHECK(c->config.labels.at("k") == "v");
  CHECK(c->created.has_value());
}

TEST_CASE("schema 1 and junk are refused clearly", "[images][manifest]") {
  auto s1 = classify_document(std::string(media::kDockerSchema1Signed),
                              R"({"schemaVersion":1,"name":"x"})");
  REQUIRE(!s1);
  CHECK(s1.error().message().find("schema 1") != std::string::npos);
  CHECK(!parse_manifest("not json"));
  CHECK(!parse_manifest(R"({"layers":[]})"));
  auto bad_digest = parse_manifest(R"({"config":{"digest":"md5:x","size":1},"layers":[]})");
  REQUIRE(!bad_digest);
  CHECK(bad_digest.error().message().find("config") != std::string::npos);
  CHECK(!parse_image_config(R"({"os":"linux"})"));  // no rootfs
  CHECK(!classify_document("text/html", "<html>"));
}

TEST_CASE("layer media types and chain ids", "[images][manifest]") {
  CHECK(*layer_compression(media::kOciLayerGzip) == Compression::kGzip);
  CHECK(*layer_compression(media::kDockerLayerGzip) == Compression::kGzip);
  CHECK(*layer_compression(media::kOciLayerZstd) == Compression::kZstd);
  CHECK(*layer_compression(media::kOciLayer) == Compression::kNone);
  CHECK(!layer_compression("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"));
  CHECK(!layer_compression("application/octet-stream"));
  // OCI config.md: ChainID(L0) = DiffID(L0), ChainID(L1) = sha256(ChainID(L0) + " " + DiffID(L1)).
  auto a = *Digest::parse("sha256:" + kHexA);
  auto b = *Digest::parse("sha256:" + kHexB);
  auto chains = chain_ids({a, b});
  CHECK(chains[0] == a);
  CHECK(chains[1] == Digest::sha256_of("sha256:" + kHexA + " sha256:" + kHexB));
}

TEST_CASE("platform choice from an index", "[images][platform]") {
  std::vector<std::optional<Platform>> c = {Platform{"linux", "arm", "v6"},
                                            Platform{"linux", "arm", "v7"},
                                            Platform{"linux", "arm64", ""},
                                            Platform{"linux", "amd64", ""},
                                            std::nullopt,
                                            Platform{"windows", "amd64", ""}};
  CHECK(*choose_platform(*parse_platform("linux/amd64"), c) == 3);
  CHECK(*choose_platform(*parse_platform("linux/arm64/v8"), c) == 2);
  CHECK(*choose_platform(*parse_platform("linux/arm/v7"), c) == 1);
  CHECK(*choose_platform(*parse_platform("aarch64"), c) == 2);
  CHECK(!choose_platform(*parse_platform("linux/s390x"), c));
  // An armv7 node runs v6 images when there is no v7 one.
  std::vector<std::optional<Platform>> only_v6 = {Platform{"linux", "arm", "v6"}};
  CHECK(*choose_platform(*parse_platform("linux/arm/v7"), only_v6) == 0);
  CHECK(!parse_platform("linux//x"));
  CHECK(parse_platform("x86_64")->architecture == "amd64");
  CHECK(!host_platform().architecture.empty());
}
