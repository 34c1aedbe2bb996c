#include "images/layer_ingest.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "images/unpack/byte_stream.hpp"
#include "images/unpack/decompressor.hpp"
#include "images/unpack/layer_unpacker.hpp"
#include "images/unpack/safe_root.hpp"

namespace svc::images {

namespace {

// Unpacks a layer's blob bytes into tmp and checks the diff_id, on two threads: a decoder
// (decompress + SHA-256 of the tar stream) feeding the caller's thread (tar parsing + file
// writes) through a bounded pipe, so one big layer uses both cores. abort_input wakes whoever
// feeds `compressed` when the unpack fails.
Result<unpack::UnpackStats> unpack_verified(unpack::ByteSource& compressed, const std::string& tmp,
                                            const LayerJob& job,
                                            const unpack::UnpackOptions& options,
                                            const std::function<void(const Error&)>& abort_input) {
  unpack::Decompressor dec(compressed, options.limits.max_layer_bytes);
  unpack::BytePipe tar(4 << 20);
  Result<Digest> diff_id = fail(Code::kInternal, "decoder did not run");
  std::thread decoder([&] {
    std::string buf(std::size_t{256} * 1024, '\0');
    for (;;) {
      auto n = dec.read(buf.data(), buf.size());
      if (!n) {
        tar.abort(n.error());
        diff_id = tl::unexpected(n.error());
        return;
      }
      if (*n == 0) break;
      if (auto pushed = tar.push(buf.data(), *n); !pushed) {
        diff_id = tl::unexpected(pushed.error());
        return;
      }
    }
    tar.close();
    diff_id = dec.finish();
  });
  auto stats = unpack::unpack_tar(tar, tmp, options);
  if (stats) {
    // The tar's end-of-archive padding (and anything after it) is part of the diff_id.
    char sink[64 * 1024];
    for (;;) {
      auto n = tar.read(sink, sizeof sink);
      if (!n || *n == 0) break;
    }
  } else {
    tar.abort(stats.error());
    abort_input(stats.error());
  }
  decoder.join();
  if (!diff_id) return tl::unexpected(diff_id.error());  // the decoder's error is the root cause
  if (!stats) return tl::unexpected(stats.error());
  if (*diff_id != job.diff_id)
    return fail(Code::kDataLoss,
                "layer {}: its uncompressed content hashes to {}, but the image config says {} "
                "(the image is inconsistent or was tampered with): refused",
                job.blob.digest.str(), diff_id->str(), job.diff_id.str());
  return *stats;
}

// Owns a snapshot temp dir: removed at scope exit unless committed (keep).
struct TempSnapshot {
  TempSnapshot(Snapshotter& s, std::filesystem::path p) : snaps(s), path(std::move(p)) {}
  TempSnapshot(const TempSnapshot&) = delete;
  TempSnapshot& operator=(const TempSnapshot&) = delete;
  Snapshotter& snaps;
  std::filesystem::path path;
  bool keep = false;
  ~TempSnapshot() {
    if (!keep && !path.empty()) snaps.discard(path);
  }
};

}  // namespace

Result<LayerOutcome> ingest_layer(ContentStore& store, Snapshotter& snapshots, const LayerJob& job,
                                  const BlobFetchFn& fetch, const unpack::UnpackOptions& options,
                                  const LayerProgressFn& progress) {
  const Digest& digest = job.blob.digest;
  bool need_blob = !store.has(digest);
  bool need_snap = !snapshots.has(job.chain_id);
  LayerOutcome out;
  if (!need_blob && !need_snap) {
    progress(LayerPhase::kAlreadyExists, job.blob.size);
    out.unpacked_size = disk_usage(snapshots.path(job.chain_id));
    return out;
  }
  auto ctx = [&] { return fmt::format("layer {}", digest.short_str()); };

  if (!need_blob) {
    // The blob is here, the snapshot is not: unpack from the stored file.
    progress(LayerPhase::kUnpacking, 0);
    TempSnapshot tmp{snapshots, SVC_TRY(snapshots.prepare(job.chain_id))};
    UniqueFd fd = SVC_TRY(store.open(digest));
    unpack::FdSource src(fd.get());
    auto stats = SVC_TRY_CTX(
        unpack_verified(src, tmp.path.string(), job, options, [](const Error&) {}), "{}", ctx());
    out.unpacked_size = static_cast<std::int64_t>(stats.file_bytes);
    out.implied_dirs = std::move(stats.implied_dirs);
    SVC_TRY(snapshots.commit(tmp.path, job.chain_id));
    tmp.keep = true;
    out.unpacked = true;
    progress(LayerPhase::kDone, job.blob.size);
    return out;
  }

  auto writer = SVC_TRY(store.writer(digest, job.blob.size));
  std::optional<TempSnapshot> tmp;
  unpack::BytePipe pipe;
  std::thread unpacker;
  Result<unpack::UnpackStats> unpack_result = unpack::UnpackStats{};
  bool unpack_failed = false;  // set by the download thread once the pipe refused data
  if (need_snap) {
    tmp.emplace(snapshots, SVC_TRY(snapshots.prepare(job.chain_id)));
    std::string dir = tmp->path.string();
    unpacker = std::thread([&, dir] {
      unpack_result =
          unpack_verified(pipe, dir, job, options, [&](const Error& e) { pipe.abort(e); });
      // Wake a download blocked on a full pipe; harmless after a clean end.
      pipe.abort(unpack_result ? Error(Code::kAborted, "unpack finished") : unpack_result.error());
    });
  }
  struct Join {
    std::thread& t;
    unpack::BytePipe& p;
    ~Join() {
      if (t.joinable()) {
        p.abort(Error(Code::kAborted, "download ended"));
        t.join();
      }
    }
  } join{unpacker, pipe};

  progress(LayerPhase::kDownloading, 0);
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  };
  std::int64_t got = 0;
  auto fetched = fetch([&](const char* data, std::size_t len) -> Result<> {
    SVC_TRY(writer->write(data, len));
    got += static_cast<std::int64_t>(len);
    if (need_snap && !unpack_failed) {
      auto pushed = pipe.push(data, len);
      if (!pushed) {
        // The unpacker stopped. A corrupt stream is best explained by the blob's digest, so keep
        // downloading to check it; any other failure (a limit, a hostile entry) ends the pull.
        unpack_failed = true;
        if (pushed.error().code() != Code::kDataLoss) return pushed;
      }
    }
    progress(LayerPhase::kDownloading, got);
    return {};
  });
  auto t_fetched = ms();
  if (need_snap) {
    if (fetched)
      pipe.close();
    else
      pipe.abort(fetched.error());
    progress(LayerPhase::kUnpacking, got);
    unpacker.join();
  }
  auto t_unpacked = ms();
  if (!fetched) {
    // An unpack error that stopped the download is the real cause.
    if (need_snap && !unpack_result && fetched.error().code() != Code::kCancelled &&
        unpack_result.error().code() != Code::kAborted)
      return tl::unexpected(unpack_result.error().context(ctx()));
    return tl::unexpected(fetched.error().context(ctx()));
  }
  progress(LayerPhase::kVerifying, got);
  // The blob's own digest and size first: a mismatch there explains everything after it.
  SVC_TRY_CTX(writer->commit(), "{}", ctx());
  out.fetched = true;
  if (need_snap) {
    if (!unpack_result) return tl::unexpected(unpack_result.error().context(ctx()));
    out.unpacked_size = static_cast<std::int64_t>(unpack_result->file_bytes);
    out.implied_dirs = std::move(unpack_result->implied_dirs);
    SVC_TRY(snapshots.commit(tmp->path, job.chain_id));
    tmp->keep = true;
    out.unpacked = true;
  } else {
    out.unpacked_size = disk_usage(snapshots.path(job.chain_id));
  }
  spdlog::debug("layer {}: {} bytes fetched at {} ms, unpacked at {} ms, committed at {} ms",
                digest.short_str(), got, t_fetched, t_unpacked, ms());
  progress(LayerPhase::kDone, got);
  return out;
}

Result<> inherit_implied_dirs(Snapshotter& snapshots, const std::vector<LayerJob>& jobs,
                              const std::vector<LayerOutcome>& outcomes) {
  for (std::size_t i = 1; i < jobs.size() && i < outcomes.size(); ++i) {
    if (outcomes[i].implied_dirs.empty()) continue;
    auto upper = SVC_TRY(unpack::SafeRoot::open(snapshots.path(jobs[i].chain_id).string()));
    for (const auto& dir : outcomes[i].implied_dirs) {
      for (std::size_t j = i; j-- > 0;) {
        auto lower = unpack::SafeRoot::open(snapshots.path(jobs[j].chain_id).string());
        if (!lower) break;
        auto lfd = lower->dir(dir, false);
        if (!lfd) continue;  // not in this layer: look further down
        struct stat st {};
        if (::fstat(*lfd, &st) != 0) break;
        int ufd = SVC_TRY(upper.dir(dir, false));
        if (::geteuid() == 0 && ::fchown(ufd, st.st_uid, st.st_gid) != 0)
          return fail_errno(fmt::format("chown implied directory \"{}\"", dir));
        if (::fchmod(ufd, st.st_mode & 07777) != 0)
          return fail_errno(fmt::format("chmod implied directory \"{}\"", dir));
        timespec ts[2] = {st.st_atim, st.st_mtim};
        ::futimens(ufd, ts);
        break;
      }
    }
  }
  return {};
}

}  // namespace svc::images
