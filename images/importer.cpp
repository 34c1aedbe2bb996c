#include "images/importer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "images/unpack/decompressor.hpp"
#include "images/unpack/layer_unpacker.hpp"
#include "images/unpack/safe_root.hpp"

namespace svc::images {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Streams a file into a sink in 1 MiB chunks.
Result<> stream_file(const fs::path& path, const BlobSinkFn& sink, const Cancelled& cancelled) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(fmt::format("open {}", path.string()));
  std::string buf(1 << 20, '\0');
  for (;;) {
    if (cancelled && cancelled()) return fail(Code::kCancelled, "import cancelled");
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(fmt::format("read {}", path.string()));
    }
    if (n == 0) return {};
    SVC_TRY(sink(buf.data(), static_cast<std::size_t>(n)));
  }
}

Result<std::pair<Digest, std::int64_t>> hash_file(const fs::path& path) {
  Sha256 h;
  SVC_TRY(stream_file(path,
                      [&](const char* d, std::size_t n) -> Result<> {
                        h.update(d, n);
                        return {};
                      },
                      {}));
  auto size = static_cast<std::int64_t>(h.bytes());
  return std::make_pair(h.finish(), size);
}

fs::path blob_file(const fs::path& dir, const Digest& d) {
  return dir / "blobs" / "sha256" / d.hex();
}

Result<std::string> read_blob(const fs::path& dir, const Descriptor& d) {
  auto text = SVC_TRY(read_file(blob_file(dir, d.digest), 16 << 20));
  if (Digest::sha256_of(text) != d.digest || static_cast<std::int64_t>(text.size()) != d.size)
    return fail(Code::kDataLoss, "blob {} in the layout does not match its digest or size",
                d.digest.str());
  return text;
}

}  // namespace

Result<std::vector<std::string>> Importer::names_for(const std::map<std::string, std::string>& ann,
                                                     const std::optional<Reference>& name,
                                                     std::size_t count) {
  std::vector<std::string> out;
  if (name && count == 1) {
    out.push_back(name->str());
    return out;
  }
  std::string full;
  if (auto it = ann.find("io.containerd.image.name"); it != ann.end()) full = it->second;
  std::string tag;
  if (auto it = ann.find("org.opencontainers.image.ref.name"); it != ann.end()) {
    if (it->second.find_first_of("/:") != std::string::npos)
      full = full.empty() ? it->second : full;
    else
      tag = it->second;
  }
  if (!full.empty()) {
    auto ref = SVC_TRY_CTX(parse_reference(full, default_registry_), "image name in the archive");
    out.push_back(ref.str());
  } else if (!tag.empty() && name) {
    Reference r = *name;
    r.tag = tag;
    r.digest.reset();
    out.push_back(r.str());
  } else if (!tag.empty()) {
    return fail(Code::kInvalidArgument,
                "the image tagged \"{}\" in the archive has no repository name: give one "
                "(svctl image import PATH NAME)",
                tag);
  }
  return out;
}

Result<std::vector<Image>> Importer::import(const fs::path& path,
                                            const std::optional<Reference>& name,
                                            const Platform& platform, ProgressTracker& progress,
                                            const Cancelled& cancelled) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno(fmt::format("import {}", path.string()));
  if (S_ISDIR(st.st_mode)) return import_dir(path, name, platform, progress, cancelled);
  if (!S_ISREG(st.st_mode))
    return fail(Code::kInvalidArgument, "import {}: not a directory or a file", path.string());
  // A tar: unpack its files (safely, as a layer) into a scratch dir in the content store's
  // ingest area (same file system, cleaned at start-up after a crash), then import the
  // directory. The scratch dir is removed whatever happens.
  progress.message(fmt::format("reading {}", path.string()));
  fs::path scratch = store_.dir() / "ingest" / ("import-" + random_hex(6));
  if (::mkdir(scratch.c_str(), 0700) != 0)
    return fail_errno(fmt::format("create scratch dir {}", scratch.string()));
  struct Remove {
    fs::path p;
    ~Remove() {
      UniqueFd parent(::open(p.parent_path().c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
      if (parent) (void)unpack::remove_at(parent.get(), p.filename().string());
    }
  } remove_scratch{scratch};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(fmt::format("open {}", path.string()));
  unpack::FdSource src(fd.get());
  unpack::Decompressor dec(src, 0);
  unpack::UnpackOptions uo = runner_.options();
  uo.preserve_owners = false;
  uo.cancelled = cancelled;
  SVC_TRY_CTX(unpack::unpack_tar(dec, scratch.string(), uo), "import {}", path.string());
  return SVC_TRY_CTX(import_dir(scratch, name, platform, progress, cancelled), "import {}",
                     path.string());
}

Result<std::vector<Image>> Importer::import_dir(const fs::path& dir,
                                                const std::optional<Reference>& name,
                                                const Platform& platform, ProgressTracker& progress,
                                                const Cancelled& cancelled) {
  std::error_code ec;
  if (fs::exists(dir / "index.json", ec))
    return import_oci_layout(dir, name, platform, progress, cancelled);
  if (fs::exists(dir / "manifest.json", ec))
    return import_docker_save(dir, name, progress, cancelled);
  return fail(Code::kInvalidArgument,
              "{} is neither an OCI image layout (no index.json) nor a `docker save` archive (no "
              "manifest.json)",
              dir.string());
}

Result<std::vector<Image>> Importer::import_oci_layout(const fs::path& dir,
                                                       const std::optional<Reference>& name,
                                                       const Platform& platform,
                                                       ProgressTracker& progress,
                                                       const Cancelled& cancelled) {
  auto index_text = SVC_TRY(read_file(dir / "index.json", 16 << 20));
  Index top = SVC_TRY_CTX(parse_index(index_text), "{}/index.json", dir.string());
  std::vector<Image> out;
  for (const auto& entry : top.manifests) {
    std::optional<std::pair<Digest, std::string>> index;
    Descriptor chosen = entry;
    if (entry.media_type == media::kOciIndex || entry.media_type == media::kDockerList) {
      std::string body = SVC_TRY(read_blob(dir, entry));
      Index inner = SVC_TRY(parse_index(body));
      std::vector<std::optional<Platform>> platforms;
      for (const auto& m : inner.manifests) platforms.push_back(m.platform);
      auto pick = choose_platform(platform, platforms);
      if (!pick)
        return fail(Code::kNotFound, "the index {} in {} has no image for {}", entry.digest.str(),
                    dir.string(), platform.str());
      chosen = inner.manifests[*pick];
      index = std::make_pair(entry.digest, std::move(body));
    } else if (entry.platform && !platform_matches(platform, *entry.platform)) {
      continue;  // an image for another platform in a multi-image layout
    }
    std::string manifest = SVC_TRY(read_blob(dir, chosen));
    Manifest m = SVC_TRY(parse_manifest(manifest));
    std::string config = SVC_TRY(read_blob(dir, m.config));
    ResolvedImage r = SVC_TRY(resolve_documents(std::move(manifest), std::move(config)));
    r.index = std::move(index);
    r.names = SVC_TRY(names_for(entry.annotations, name, top.manifests.size()));
    auto fetch_for = [&](const Descriptor& d) -> BlobFetchFn {
      fs::path file = blob_file(dir, d.digest);
      return
          [file, &cancelled](const BlobSinkFn& sink) { return stream_file(file, sink, cancelled); };
    };
    out.push_back(SVC_TRY(commit_image(std::move(r), runner_, store_, images_, fetch_for, progress,
                                       cancelled, clock_)));
  }
  if (out.empty())
    return fail(Code::kNotFound, "{} holds no image for {}", dir.string(), platform.str());
  return out;
}

Result<std::vector<Image>> Importer::import_docker_save(const fs::path& dir,
                                                        const std::optional<Reference>& name,
                                                        ProgressTracker& progress,
                                                        const Cancelled& cancelled) {
  auto text = SVC_TRY(read_file(dir / "manifest.json", 16 << 20));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return fail(Code::kInvalidArgument, "{}/manifest.json is not a JSON array", dir.string());
  std::vector<Image> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string() ||
        !e.contains("Layers") || !e["Layers"].is_array())
      return fail(Code::kInvalidArgument,
                  "{}/manifest.json: an entry lacks \"Config\" or \"Layers\"", dir.string());
    auto clean = [&](const std::string& rel) -> Result<fs::path> {
      if (rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos)
        return fail(Code::kInvalidArgument, "manifest.json names the path \"{}\"", rel);
      return dir / rel;
    };
    fs::path config_path = SVC_TRY(clean(e["Config"].get<std::string>()));
    std::string config = SVC_TRY(read_file(config_path, 16 << 20));
    json manifest{{"schemaVersion", 2},
                  {"mediaType", media::kDockerManifest},
                  {"config",
                   {{"mediaType", media::kDockerConfig},
                    {"size", config.size()},
                    {"digest", Digest::sha256_of(config).str()}}},
                  {"layers", json::array()}};
    std::map<Digest, fs::path> files;
    for (const auto& l : e["Layers"]) {
      if (!l.is_string()) return fail(Code::kInvalidArgument, "manifest.json: bad Layers entry");
      fs::path file = SVC_TRY(clean(l.get<std::string>()));
      auto [digest, size] = SVC_TRY(hash_file(file));
      files[digest] = file;
      // docker save writes uncompressed tars; newer versions may store gzip blobs, which the
      // pipeline recognises by their magic bytes whatever the media type says.
      manifest["layers"].push_back(
          {{"mediaType", media::kDockerLayerTar}, {"size", size}, {"digest", digest.str()}});
    }
    ResolvedImage r = SVC_TRY(resolve_documents(manifest.dump(), std::move(config)));
    std::size_t count = j.size();
    if (name && count == 1) {
      r.names.push_back(name->str());
    } else if (e.contains("RepoTags") && e["RepoTags"].is_array()) {
      for (const auto& t : e["RepoTags"])
        if (t.is_string())
          r.names.push_back(SVC_TRY_CTX(parse_reference(t.get<std::string>(), default_registry_),
                                        "RepoTags in manifest.json")
                                .str());
    }
    auto fetch_for = [&](const Descriptor& d) -> BlobFetchFn {
      fs::path file = files.at(d.digest);
      return
          [file, &cancelled](const BlobSinkFn& sink) { return stream_file(file, sink, cancelled); };
    };
    out.push_back(SVC_TRY(commit_image(std::move(r), runner_, store_, images_, fetch_for, progress,
                                       cancelled, clock_)));
  }
  return out;
}

}  // namespace svc::images
