#pragma once
// The JSON documents of an image: index (OCI image index / Docker manifest list), manifest (OCI
// image manifest / Docker schema 2) and image config. Field names and media types are from the
// OCI image spec v1.1 (image-index.md, manifest.md, config.md) and Docker's "Image Manifest V2,
// Schema 2". Parsers never throw and say which field is wrong; they are fuzzed.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"
#include "images/platform.hpp"

namespace svc::images {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// The Accept header for manifests: every form we can read, indexes first.
std::string accept_header();
}  // namespace media

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// What the runtime needs from an image config (OCI config.md "config" object).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

struct ImageConfigFile {
  Platform platform;
  std::vector<Digest> diff_ids;
  ImageConfig config;
  std::optional<std::chrono::system_clock::time_point> created;
};

enum class DocumentKind { kIndex, kManifest };

// Which kind a fetched document is, from the Content-Type the registry sent and the body's own
// mediaType (either may be missing; OCI allows omitting it). Schema 1 and anything else are
// errors that say what was received.
Result<DocumentKind> classify_document(std::string_view content_type, std::string_view body);

Result<Index> parse_index(std::string_view json);
Result<Manifest> parse_manifest(std::string_view json);
Result<ImageConfigFile> parse_image_config(std::string_view json);

enum class Compression { kNone, kGzip, kZstd };
// From a layer media type; unknown and encrypted layer types are refused with the type named.
Result<Compression> layer_compression(std::string_view media_type);

// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
// (OCI config.md "Layer ChainID").
std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

}  // namespace svc::images
