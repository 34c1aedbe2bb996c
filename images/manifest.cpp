#include "images/manifest.hpp"

#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

namespace svc::images {

using json = nlohmann::json;

namespace media {
std::string accept_header() {
  return fmt::format("{}, {}, {}, {}", kOciIndex, kOciManifest, kDockerList, kDockerManifest);
}
}  // namespace media

namespace {

Result<json> parse_json(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(Code::kInvalidArgument, "{} is not valid JSON", what);
  if (!j.is_object()) return fail(Code::kInvalidArgument, "{} is not a JSON object", what);
  return j;
}

Result<std::string> opt_string(const json& j, const char* key, std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not a string", what, key);
  return it->get<std::string>();
}

Result<std::vector<std::string>> opt_strings(const json& j, const char* key,
                                             std::string_view what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array())
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not an array of strings", what, key);
  for (const auto& v : *it) {
    if (!v.is_string())
      return fail(Code::kInvalidArgument, "{}: \"{}\" is not an array of strings", what, key);
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> opt_string_map(const json& j, const char* key,
                                                          std::string_view what) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object())
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not an object of strings", what, key);
  for (auto& [k, v] : it->items()) {
    if (!v.is_string())
      return fail(Code::kInvalidArgument, "{}: \"{}\".\"{}\" is not a string", what, key, k);
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view what) {
  if (!j.is_object()) return fail(Code::kInvalidArgument, "{} is not an object", what);
  Descriptor d;
  d.media_type = SVC_TRY(opt_string(j, "mediaType", what));
  std::string digest = SVC_TRY(opt_string(j, "digest", what));
  if (digest.empty()) return fail(Code::kInvalidArgument, "{} has no digest", what);
  d.digest = SVC_TRY_CTX(Digest::parse(digest), "{}", what);
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0)
    return fail(Code::kInvalidArgument, "{} has no size (or a negative one)", what);
  d.size = size->get<std::int64_t>();
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    Platform pl;
    pl.os = SVC_TRY(opt_string(*p, "os", what));
    pl.architecture = SVC_TRY(opt_string(*p, "architecture", what));
    pl.variant = SVC_TRY(opt_string(*p, "variant", what));
    d.platform = pl;
  }
  d.annotations = SVC_TRY(opt_string_map(j, "annotations", what));
  d.urls = SVC_TRY(opt_strings(j, "urls", what));
  return d;
}

bool is_schema1(std::string_view t) {
  return t == media::kDockerSchema1 || t == media::kDockerSchema1Signed ||
         t == "application/json";  // schema 1 is also served as plain JSON by old registries
}

// RFC 3339 as image configs carry it ("2024-01-02T03:04:05.123456789Z", or with an offset).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.')
    while (*++rest >= '0' && *rest <= '9') {
    }
  long offset = 0;
  if (*rest == '+' || *rest == '-') {
    int sign = *rest == '-' ? -1 : 1;
    // "+hh:mm"
    if (std::strlen(rest) < 6 || rest[3] != ':') return std::nullopt;
    auto two = [](const char* p) -> long {
      if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return -1;
      return (p[0] - '0') * 10L + (p[1] - '0');
    };
    long hh = two(rest + 1), mm = two(rest + 4);
    if (hh < 0 || mm < 0) return std::nullopt;
    offset = sign * (hh * 3600L + mm * 60L);
  }
  std::time_t t = ::timegm(&tm) - offset;
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace

Result<DocumentKind> classify_document(std::string_view content_type, std::string_view body) {
  std::string_view ct = content_type.substr(0, content_type.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string body_type;
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) body_type = *it;
    if (auto it = j.find("schemaVersion"); it != j.end() && *it == 1)
      return fail(Code::kFailedPrecondition,
                  "the registry sent a Docker schema 1 manifest, a format retired in 2019 that "
                  "svc does not read: push the image again with a current tool (it then gets a "
                  "schema 2 or OCI manifest)");
  }
  for (std::string_view t : {std::string_view(body_type), ct}) {
    if (t == media::kOciIndex || t == media::kDockerList) return DocumentKind::kIndex;
    if (t == media::kOciManifest || t == media::kDockerManifest) return DocumentKind::kManifest;
  }
  if (is_schema1(ct) && body_type.empty() && !j.is_discarded() && j.is_object()) {
    // OCI allows omitting mediaType: tell the kinds apart by their fields.
    if (j.contains("manifests")) return DocumentKind::kIndex;
    if (j.contains("layers") && j.contains("config")) return DocumentKind::kManifest;
  }
  if (is_schema1(ct))
    return fail(Code::kFailedPrecondition,
                "the registry sent a Docker schema 1 manifest ({}), a retired format svc does not "
                "read: push the image again with a current tool",
                ct);
  if (j.is_object() && j.contains("manifests")) return DocumentKind::kIndex;
  if (j.is_object() && j.contains("layers") && j.contains("config")) return DocumentKind::kManifest;
  return fail(Code::kFailedPrecondition,
              "the registry sent a document of type \"{}\" that is neither an image index nor a "
              "manifest",
              ct.empty() ? std::string_view(body_type) : ct);
}

Result<Index> parse_index(std::string_view text) {
  json j = SVC_TRY(parse_json(text, "image index"));
  Index idx;
  idx.media_type = SVC_TRY(opt_string(j, "mediaType", "image index"));
  auto m = j.find("manifests");
  if (m == j.end() || !m->is_array())
    return fail(Code::kInvalidArgument, "image index has no \"manifests\" array");
  std::size_t i = 0;
  for (const auto& e : *m)
    idx.manifests.push_back(
        SVC_TRY(parse_descriptor(e, fmt::format("image index manifests[{}]", i++))));
  return idx;
}

Result<Manifest> parse_manifest(std::string_view text) {
  json j = SVC_TRY(parse_json(text, "image manifest"));
  Manifest m;
  m.media_type = SVC_TRY(opt_string(j, "mediaType", "image manifest"));
  if (auto sv = j.find("schemaVersion"); sv != j.end() && *sv == 1)
    return fail(Code::kFailedPrecondition,
                "image manifest is Docker schema 1, a retired format svc does not read");
  auto c = j.find("config");
  if (c == j.end()) return fail(Code::kInvalidArgument, "image manifest has no \"config\"");
  m.config = SVC_TRY(parse_descriptor(*c, "image manifest config"));
  auto l = j.find("layers");
  if (l == j.end() || !l->is_array())
    return fail(Code::kInvalidArgument, "image manifest has no \"layers\" array");
  std::size_t i = 0;
  for (const auto& e : *l)
    m.layers.push_back(SVC_TRY(parse_descriptor(e, fmt::format("image manifest layers[{}]", i++))));
  return m;
}

Result<ImageConfigFile> parse_image_config(std::string_view text) {
  json j = SVC_TRY(parse_json(text, "image config"));
  ImageConfigFile f;
  f.platform.os = SVC_TRY(opt_string(j, "os", "image config"));
  f.platform.architecture = SVC_TRY(opt_string(j, "architecture", "image config"));
  f.platform.variant = SVC_TRY(opt_string(j, "variant", "image config"));
  std::string created = SVC_TRY(opt_string(j, "created", "image config"));
  if (!created.empty()) f.created = parse_rfc3339(created);
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object())
    return fail(Code::kInvalidArgument, "image config has no \"rootfs\" object");
  auto ids = SVC_TRY(opt_strings(*rootfs, "diff_ids", "image config rootfs"));
  for (const auto& id : ids)
    f.diff_ids.push_back(SVC_TRY_CTX(Digest::parse(id), "image config rootfs.diff_ids"));
  auto c = j.find("config");
  if (c != j.end() && c->is_object()) {
    auto& cfg = f.config;
    std::string_view w = "image config \"config\"";
    cfg.entrypoint = SVC_TRY(opt_strings(*c, "Entrypoint", w));
    cfg.cmd = SVC_TRY(opt_strings(*c, "Cmd", w));
    cfg.env = SVC_TRY(opt_strings(*c, "Env", w));
    cfg.workdir = SVC_TRY(opt_string(*c, "WorkingDir", w));
    cfg.user = SVC_TRY(opt_string(*c, "User", w));
    cfg.stop_signal = SVC_TRY(opt_string(*c, "StopSignal", w));
    cfg.labels = SVC_TRY(opt_string_map(*c, "Labels", w));
    if (auto p = c->find("ExposedPorts"); p != c->end() && p->is_object())
      for (auto& [port, v] : p->items()) cfg.exposed_ports.push_back(port);
  } else if (c != j.end() && !c->is_null()) {
    return fail(Code::kInvalidArgument, "image config: \"config\" is not an object");
  }
  return f;
}

Result<Compression> layer_compression(std::string_view t) {
  if (t.find("encrypted") != std::string_view::npos)
    return fail(Code::kUnimplemented, "layer media type \"{}\" is encrypted; svc cannot decrypt it",
                t);
  if (t == media::kOciLayer || t == media::kDockerLayerTar ||
      t == "application/vnd.oci.image.layer.nondistributable.v1.tar")
    return Compression::kNone;
  if (t == media::kOciLayerGzip || t == media::kDockerLayerGzip ||
      t == media::kDockerForeignLayer ||
      t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
    return Compression::kGzip;
  if (t == media::kOciLayerZstd ||
      t == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
    return Compression::kZstd;
  return fail(Code::kUnimplemented, "layer media type \"{}\" is not a tar layer svc can unpack", t);
}

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (std::size_t i = 0; i < diff_ids.size(); ++i) {
    if (i == 0)
      out.push_back(diff_ids[0]);
    else
      out.push_back(Digest::sha256_of(out.back().str() + " " + diff_ids[i].str()));
  }
  return out;
}

}  // namespace svc::images
