#include "api/server/services/image_service.hpp"

#include <atomic>
#include <mutex>

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"

#include "svc/v1/images.pb.h"

namespace svc::api {

namespace {

using google::protobuf::util::TimeUtil;

void to_proto(const PlatformRecord& p, v1::Platform* out) {
  out->set_os(p.os);
  out->set_architecture(p.architecture);
  out->set_variant(p.variant);
}

void to_proto(const ImageRecord& im, v1::Image* out) {
  if (!im.references.empty()) out->set_reference(im.references.front());
  for (const auto& r : im.references) out->add_references(r);
  out->set_digest(im.digest);
  out->set_config_digest(im.config_digest);
  out->set_media_type(im.media_type);
  to_proto(im.platform, out->mutable_platform());
  for (const auto& l : im.layers) {
    auto* pl = out->add_layers();
    pl->set_digest(l.digest);
    pl->set_diff_id(l.diff_id);
    pl->set_chain_id(l.chain_id);
    pl->set_size(l.size);
    pl->set_media_type(l.media_type);
  }
  out->set_size(im.size);
  out->set_unpacked_size(im.unpacked_size);
  auto* c = out->mutable_config();
  for (const auto& s : im.config.entrypoint) c->add_entrypoint(s);
  for (const auto& s : im.config.cmd) c->add_cmd(s);
  for (const auto& s : im.config.env) c->add_env(s);
  c->set_workdir(im.config.workdir);
  c->set_user(im.config.user);
  for (const auto& s : im.config.exposed_ports) c->add_exposed_ports(s);
  c->set_stop_signal(im.config.stop_signal);
  for (const auto& [k, v] : im.config.labels) (*c->mutable_labels())[k] = v;
  if (im.created) *out->mutable_created_at() = to_timestamp(*im.created);
  *out->mutable_pulled_at() = to_timestamp(im.pulled_at);
}

v1::LayerProgress::Phase to_proto(LayerPhase p) {
  using P = LayerPhase;
  switch (p) {
    case P::kWaiting:
      return v1::LayerProgress::WAITING;
    case P::kDownloading:
      return v1::LayerProgress::DOWNLOADING;
    case P::kVerifying:
      return v1::LayerProgress::VERIFYING;
    case P::kUnpacking:
      return v1::LayerProgress::UNPACKING;
    case P::kDone:
      return v1::LayerProgress::DONE;
    case P::kAlreadyExists:
      return v1::LayerProgress::ALREADY_EXISTS;
  }
  return v1::LayerProgress::PHASE_UNSPECIFIED;
}

void to_proto(const PullUpdate& p, v1::PullProgress* out) {
  out->set_message(p.message);
  for (const auto& l : p.layers) {
    auto* pl = out->add_layers();
    pl->set_digest(l.digest);
    pl->set_phase(to_proto(l.phase));
    pl->set_current(l.current);
    pl->set_total(l.total);
  }
}

// A chunk of Images.Upload: well under the 32 MiB a gRPC or REST message may carry.
constexpr std::size_t kMaxUploadChunk = 4 << 20;

// Import by path makes svcd open a file with its own (root) rights: only a caller who could
// read anything anyway may ask that. Everyone else sends the archive (Upload), which proves
// they could read it.
Result<> may_name_a_path(const CallContext& ctx) {
  constexpr std::string_view kInstead =
      "send the archive instead (`svctl image import FILE` does; the API: Images.Upload, then "
      "Import with its uploadId)";
  switch (ctx.transport) {
    case CallContext::Transport::kInProcess:
      return {};
    case CallContext::Transport::kTcp:
      return fail(Code::kPermissionDenied,
                  "import by path reads a file on the node as svcd (root), which a caller over "
                  "TCP may not ask: {}",
                  kInstead);
    case CallContext::Transport::kUnix:
      if (!ctx.unix_peer)
        return fail(Code::kPermissionDenied,
                    "import by path: svcd could not tell who called (no peer credentials on "
                    "this connection): {}",
                    kInstead);
      if (ctx.unix_peer->uid != 0)
        return fail(Code::kPermissionDenied,
                    "import by path reads a file on the node as svcd (root), and only root may "
                    "ask that (you are uid {}): {}",
                    ctx.unix_peer->uid, kInstead);
      return {};
  }
  return fail(Code::kPermissionDenied, "import by path: {}", kInstead);
}

Result<std::optional<PlatformRecord>> from_proto(const v1::Platform& p) {
  if (p.os().empty() && p.architecture().empty() && p.variant().empty())
    return std::optional<PlatformRecord>();
  if (p.architecture().empty())
    return fail(Code::kInvalidArgument, "platform: architecture is required (e.g. amd64)");
  return std::optional<PlatformRecord>(
      PlatformRecord{p.os().empty() ? "linux" : p.os(), p.architecture(), p.variant()});
}

}  // namespace

void register_image_service(Dispatcher& d, ImageBackend& images) {
  d.server_stream<v1::PullImageRequest, v1::PullProgress>(
      "svc.v1.Images/Pull",
      [&images](const v1::PullImageRequest& req, TypedSink<v1::PullProgress>& sink,
                CallContext& ctx) -> Result<> {
        if (req.reference().empty())
          return fail(Code::kInvalidArgument, "reference: name the image to pull (e.g. alpine:3)");
        auto platform = SVC_TRY(from_proto(req.platform()));
        std::atomic<bool> gone{false};
        // The images module calls progress one call at a time; the sink is ours alone.
        auto progress = [&](const PullUpdate& p) {
          v1::PullProgress msg;
          to_proto(p, &msg);
          if (!sink.write(msg)) gone = true;
        };
        auto cancelled = [&] { return gone.load() || ctx.cancelled(); };
        auto image = SVC_TRY(images.pull(req.reference(), platform, progress, cancelled));
        v1::PullProgress last;
        last.set_message("pulled");
        to_proto(image, last.mutable_image());
        sink.write(last);
        return {};
      });
  d.unary<v1::ListImagesRequest, v1::ListImagesResponse>(
      "svc.v1.Images/List",
      [&images](const v1::ListImagesRequest&, v1::ListImagesResponse& resp,
                CallContext&) -> Result<> {
        for (const auto& im : SVC_TRY(images.list())) to_proto(im, resp.add_images());
        return {};
      });
  d.unary<v1::GetImageRequest, v1::Image>(
      "svc.v1.Images/Get",
      [&images](const v1::GetImageRequest& req, v1::Image& resp, CallContext&) -> Result<> {
        if (req.reference().empty())
          return fail(Code::kInvalidArgument, "reference: name an image or a digest");
        to_proto(SVC_TRY(images.get(req.reference())), &resp);
        return {};
      });
  d.unary<v1::RemoveImageRequest, v1::RemoveImageResponse>(
      "svc.v1.Images/Remove",
      [&images](const v1::RemoveImageRequest& req, v1::RemoveImageResponse& resp,
                CallContext&) -> Result<> {
        if (req.reference().empty())
          return fail(Code::kInvalidArgument, "reference: name an image or a digest");
        auto r = SVC_TRY(images.remove(req.reference(), req.force()));
        for (const auto& s : r.untagged) resp.add_untagged(s);
        for (const auto& s : r.deleted) resp.add_deleted(s);
        resp.set_reclaimed_bytes(r.reclaimed_bytes);
        return {};
      });
  d.unary<v1::ImportImageRequest, v1::ImportImageResponse>(
      "svc.v1.Images/Import",
      [&images](const v1::ImportImageRequest& req, v1::ImportImageResponse& resp,
                CallContext& ctx) -> Result<> {
        if (!req.path().empty() && !req.upload_id().empty())
          return fail(Code::kInvalidArgument, "give path or uploadId, not both");
        std::vector<ImageRecord> list;
        if (!req.upload_id().empty()) {
          list = SVC_TRY(images.import_upload(req.upload_id(), req.reference(), ctx.cancelled));
        } else {
          if (req.path().empty() || req.path().front() != '/')
            return fail(Code::kInvalidArgument,
                        "path: give the absolute path of the archive on the node, or send the "
                        "archive with Upload and import its uploadId");
          SVC_TRY(may_name_a_path(ctx));
          list = SVC_TRY(images.import(req.path(), req.reference(), ctx.cancelled));
        }
        for (const auto& im : list) to_proto(im, resp.add_images());
        return {};
      });
  d.unary<v1::UploadRequest, v1::UploadResponse>(
      "svc.v1.Images/Upload",
      [&images](const v1::UploadRequest& req, v1::UploadResponse& resp, CallContext&) -> Result<> {
        if (req.data().size() > kMaxUploadChunk)
          return fail(Code::kInvalidArgument,
                      "data: {} bytes in one call, more than the {} allowed", req.data().size(),
                      kMaxUploadChunk);
        if (req.offset() < 0) return fail(Code::kInvalidArgument, "offset: must not be negative");
        std::string id = req.upload_id();
        if (id.empty()) {
          if (req.offset() != 0)
            return fail(Code::kInvalidArgument,
                        "offset: a new upload starts at 0 (give uploadId to go on with one)");
          id = SVC_TRY(images.open_upload());
        }
        resp.set_size(SVC_TRY(images.append_upload(id, req.offset(), req.data())));
        resp.set_upload_id(id);
        return {};
      });
  d.unary<v1::PruneImagesRequest, v1::PruneImagesResponse>(
      "svc.v1.Images/Prune",
      [&images](const v1::PruneImagesRequest& req, v1::PruneImagesResponse& resp,
                CallContext&) -> Result<> {
        auto r = SVC_TRY(images.prune(req.all()));
        for (const auto& s : r.deleted_images) resp.add_deleted_images(s);
        resp.set_deleted_blobs(r.deleted_blobs);
        resp.set_deleted_snapshots(r.deleted_snapshots);
        resp.set_reclaimed_bytes(r.reclaimed_bytes);
        return {};
      });
}

}  // namespace svc::api
