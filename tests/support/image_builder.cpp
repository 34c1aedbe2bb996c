#include "tests/support/image_builder.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <zlib.h>
#include <zstd.h>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/fs.hpp"

namespace svc::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

la_ssize_t append_cb(struct archive*, void* out, const void* data, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), n);
  return static_cast<la_ssize_t>(n);
}

std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) throw std::runtime_error("zstd");
  out.resize(n);
  return out;
}

}  // namespace

std::string sha256_hex(const std::string& data) { return Digest::sha256_of(data).hex(); }

std::string put_blob(const fs::path& dir, const std::string& data) {
  std::string hex = sha256_hex(data);
  fs::create_directories(dir / "blobs" / "sha256");
  std::ofstream(dir / "blobs" / "sha256" / hex, std::ios::binary) << data;
  return "sha256:" + hex;
}

LayerBuilder& LayerBuilder::file(const std::string& path, const std::string& content, mode_t mode,
                                 uid_t uid, gid_t gid) {
  entries_.push_back({path, S_IFREG, mode, uid, gid, content, "", "", 0, 0, mtime_, {}});
  return *this;
}

LayerBuilder& LayerBuilder::file_from(const std::string& path, const fs::path& host_file,
                                      mode_t mode, uid_t uid, gid_t gid) {
  std::ifstream in(host_file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + host_file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return file(path, ss.str(), mode, uid, gid);
}

LayerBuilder& LayerBuilder::dir(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  entries_.push_back({path, S_IFDIR, mode, uid, gid, "", "", "", 0, 0, mtime_, {}});
  return *this;
}

LayerBuilder& LayerBuilder::symlink(const std::string& path, const std::string& target, uid_t uid,
                                    gid_t gid) {
  entries_.push_back({path, S_IFLNK, 0777, uid, gid, "", target, "", 0, 0, mtime_, {}});
  return *this;
}

LayerBuilder& LayerBuilder::hardlink(const std::string& path, const std::string& target) {
  entries_.push_back({path, S_IFREG, 0644, 0, 0, "", "", target, 0, 0, mtime_, {}});
  return *this;
}

LayerBuilder& LayerBuilder::whiteout(const std::string& path) {
  auto slash = path.rfind('/');
  std::string wh = slash == std::string::npos
                       ? ".wh." + path
                       : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
  return file(wh, "", 0644);
}

LayerBuilder& LayerBuilder::opaque(const std::string& dir) {
  return file(dir + "/.wh..wh..opq", "", 0644);
}

LayerBuilder& LayerBuilder::device(const std::string& path, bool block, unsigned major,
                                   unsigned minor) {
  entries_.push_back({path,
                      static_cast<mode_t>(block ? S_IFBLK : S_IFCHR),
                      0666,
                      0,
                      0,
                      "",
                      "",
                      "",
                      major,
                      minor,
                      mtime_,
                      {}});
  return *this;
}

LayerBuilder& LayerBuilder::fifo(const std::string& path) {
  entries_.push_back({path, S_IFIFO, 0644, 0, 0, "", "", "", 0, 0, mtime_, {}});
  return *this;
}

LayerBuilder& LayerBuilder::xattr(const std::string& name, const std::string& value) {
  if (entries_.empty()) throw std::logic_error("xattr before any entry");
  entries_.back().xattrs[name] = value;
  return *this;
}

LayerBuilder& LayerBuilder::mtime(std::int64_t seconds) {
  mtime_ = seconds;
  return *this;
}

std::string LayerBuilder::tar() const {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  for (const auto& e : entries_) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.mode);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, e.mtime, 0);
    if (!e.hardlink.empty()) {
      archive_entry_set_hardlink(ae, e.hardlink.c_str());
      archive_entry_set_size(ae, 0);
    } else if (e.type == S_IFREG) {
      archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    }
    if (e.type == S_IFLNK) archive_entry_set_symlink(ae, e.target.c_str());
    if (e.type == S_IFCHR || e.type == S_IFBLK) {
      archive_entry_set_rdevmajor(ae, e.major);
      archive_entry_set_rdevminor(ae, e.minor);
    }
    for (const auto& [k, v] : e.xattrs)
      archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    if (archive_write_header(a, ae) != ARCHIVE_OK)
      throw std::runtime_error(std::string("tar header: ") + archive_error_string(a));
    if (e.type == S_IFREG && e.hardlink.empty() && !e.data.empty())
      archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string LayerBuilder::blob() const {
  std::string t = tar();
  switch (compression_) {
    case LayerCompression::kGzip:
      return gzip(t);
    case LayerCompression::kZstd:
      return zstd(t);
    default:
      return t;
  }
}

std::string LayerBuilder::media_type() const {
  switch (compression_) {
    case LayerCompression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case LayerCompression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
      return "application/vnd.oci.image.layer.v1.tar";
  }
}

WrittenImage ImageBuilder::write_blobs(const fs::path& dir) const {
  fs::create_directories(dir / "blobs" / "sha256");
  { std::ofstream(dir / "oci-layout") << R"({"imageLayoutVersion":"1.0.0"})"; }
  WrittenImage w;
  json layers = json::array();
  json diff_ids = json::array();
  for (const auto& l : layers_) {
    std::string tar = l.tar();
    std::string blob = l.compression() == LayerCompression::kNone ? tar : l.blob();
    std::string digest = put_blob(dir, blob);
    std::string diff = "sha256:" + sha256_hex(tar);
    w.layer_digests.push_back(digest);
    w.diff_ids.push_back(diff);
    layers.push_back({{"mediaType", l.media_type()}, {"digest", digest}, {"size", blob.size()}});
    diff_ids.push_back(diff);
  }
  const auto& c = config_;
  json cfg{{"Env", c.env}, {"WorkingDir", c.workdir}, {"User", c.user}, {"Labels", c.labels}};
  if (!c.entrypoint.empty()) cfg["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) cfg["Cmd"] = c.cmd;
  if (!c.stop_signal.empty()) cfg["StopSignal"] = c.stop_signal;
  json ports = json::object();
  for (const auto& p : c.exposed_ports) ports[p] = json::object();
  if (!c.exposed_ports.empty()) cfg["ExposedPorts"] = ports;
  json config{{"created", "2024-05-06T07:08:09Z"},
              {"architecture", c.architecture},
              {"os", c.os},
              {"config", cfg},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  if (!c.variant.empty()) config["variant"] = c.variant;
  std::string config_text = config.dump();
  w.config_digest = put_blob(dir, config_text);
  json manifest{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", w.config_digest},
                  {"size", config_text.size()}}},
                {"layers", layers}};
  std::string manifest_text = manifest.dump();
  w.manifest_digest = put_blob(dir, manifest_text);
  w.manifest_size = static_cast<std::int64_t>(manifest_text.size());
  return w;
}

WrittenImage ImageBuilder::write_layout(const fs::path& dir, const std::string& tag) const {
  WrittenImage w = write_blobs(dir);
  json index{{"schemaVersion", 2},
             {"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"manifests",
              {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"digest", w.manifest_digest},
                {"size", w.manifest_size},
                {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  std::ofstream(dir / "index.json") << index.dump();
  return w;
}

std::string write_index_layout(const fs::path& dir, const std::string& tag,
                               const std::vector<ImageBuilder>& images) {
  json manifests = json::array();
  for (const auto& im : images) {
    WrittenImage w = im.write_blobs(dir);
    json platform{{"os", im.config().os}, {"architecture", im.config().architecture}};
    if (!im.config().variant.empty()) platform["variant"] = im.config().variant;
    manifests.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"digest", w.manifest_digest},
                         {"size", w.manifest_size},
                         {"platform", platform}});
  }
  json inner{{"schemaVersion", 2},
             {"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"manifests", manifests}};
  std::string inner_text = inner.dump();
  std::string inner_digest = put_blob(dir, inner_text);
  json index{{"schemaVersion", 2},
             {"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"manifests",
              {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"digest", inner_digest},
                {"size", inner_text.size()},
                {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  std::ofstream(dir / "index.json") << index.dump();
  return inner_digest;
}

}  // namespace svc::test
