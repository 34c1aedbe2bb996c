#pragma once
// Builds OCI images for tests from local data only (busybox-static, small files, the project's
// own binaries): layers written with libarchive as tars, compressed with gzip or zstd (or not at
// all), and an OCI image layout directory (oci-layout, index.json, blobs/sha256/...) that skopeo
// can push and svcd can import. Hostile entries (".." names, devices, links out of the layer) are
// available for the security tests.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svc::test {

enum class LayerCompression { kNone, kGzip, kZstd };

class LayerBuilder {
 public:
  explicit LayerBuilder(LayerCompression c = LayerCompression::kGzip) : compression_(c) {}

  LayerBuilder& file(const std::string& path, const std::string& content, mode_t mode = 0644,
                     uid_t uid = 0, gid_t gid = 0);
  // Content read from a file on this machine (e.g. /bin/busybox).
  LayerBuilder& file_from(const std::string& path, const std::filesystem::path& host_file,
                          mode_t mode = 0755, uid_t uid = 0, gid_t gid = 0);
  LayerBuilder& dir(const std::string& path, mode_t mode = 0755, uid_t uid = 0, gid_t gid = 0);
  LayerBuilder& symlink(const std::string& path, const std::string& target, uid_t uid = 0,
                        gid_t gid = 0);
  LayerBuilder& hardlink(const std::string& path, const std::string& target);
  // An OCI whiteout hiding path from the layers below (".wh.<name>").
  LayerBuilder& whiteout(const std::string& path);
  // Marks dir opaque ("<dir>/.wh..wh..opq").
  LayerBuilder& opaque(const std::string& dir);
  LayerBuilder& device(const std::string& path, bool block, unsigned major, unsigned minor);
  LayerBuilder& fifo(const std::string& path);
  // An xattr on the last entry added.
  LayerBuilder& xattr(const std::string& name, const std::string& value);
  LayerBuilder& mtime(std::int64_t seconds);  // for entries added after this call

  // The uncompressed tar, and the blob as it would be pushed.
  std::string tar() const;
  std::string blob() const;
  LayerCompression compression() const { return compression_; }
  std::string media_type() const;

 private:
  struct Entry {
    std::string path;
    mode_t type;  // S_IFREG, S_IFDIR, ...
    mode_t mode;
    uid_t uid;
    gid_t gid;
    std::string data;    // file content
    std::string target;  // symlink target
    std::string hardlink;
    unsigned major = 0, minor = 0;
    std::int64_t mtime;
    std::map<std::string, std::string> xattrs;
  };
  LayerCompression compression_;
  std::int64_t mtime_ = 1700000000;
  std::vector<Entry> entries_;
};

struct ImageConfigSpec {
  std::vector<std::string> entrypoint, cmd, env;
  std::string workdir, user, stop_signal;
  std::vector<std::string> exposed_ports;
  std::map<std::string, std::string> labels;
  std::string os = "linux", architecture = "amd64", variant;
};

struct WrittenImage {
  std::string manifest_digest;  // "sha256:…"
  std::string config_digest;
  std::vector<std::string> layer_digests;
  std::vector<std::string> diff_ids;
  std::int64_t manifest_size = 0;
};

class ImageBuilder {
 public:
  ImageBuilder() = default;
  ImageBuilder& layer(LayerBuilder layer) {
    layers_.push_back(std::move(layer));
    return *this;
  }
  ImageConfigSpec& config() { return config_; }
  const ImageConfigSpec& config() const { return config_; }
  ImageBuilder& platform(std::string os, std::string arch, std::string variant = "") {
    config_.os = std::move(os);
    config_.architecture = std::move(arch);
    config_.variant = std::move(variant);
    return *this;
  }

  // Writes blobs into layout_dir (creating the layout) and returns the image's digests, without
  // touching index.json.
  WrittenImage write_blobs(const std::filesystem::path& layout_dir) const;
  // Writes an OCI layout holding this one image, tagged tag (annotation ref.name).
  WrittenImage write_layout(const std::filesystem::path& layout_dir, const std::string& tag) const;

 private:
  std::vector<LayerBuilder> layers_;
  ImageConfigSpec config_;
};

// A multi-platform image: an OCI index over several images, in one layout, tagged tag.
// Returns the index digest.
std::string write_index_layout(const std::filesystem::path& layout_dir, const std::string& tag,
                               const std::vector<ImageBuilder>& images);

// Writes a blob into a layout's blobs/sha256 and returns its digest.
std::string put_blob(const std::filesystem::path& layout_dir, const std::string& data);
std::string sha256_hex(const std::string& data);

}  // namespace svc::test
