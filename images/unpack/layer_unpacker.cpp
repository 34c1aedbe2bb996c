#include "images/unpack/layer_unpacker.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <vector>

#include "common/units.hpp"
#include "images/unpack/safe_root.hpp"
#include "images/unpack/whiteout.hpp"

namespace svc::images::unpack {

namespace {

struct ReadCtx {
  ByteSource* src = nullptr;
  std::string buf = std::string(std::size_t{256} * 1024, '\0');
  std::optional<Error> error;
};

la_ssize_t read_cb(struct archive*, void* opaque, const void** out) {
  auto* ctx = static_cast<ReadCtx*>(opaque);
  auto n = ctx->src->read(ctx->buf.data(), ctx->buf.size());
  if (!n) {
    ctx->error = n.error();
    return -1;
  }
  *out = ctx->buf.data();
  return static_cast<la_ssize_t>(*n);
}

const char* archive_err(struct archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

struct DirFixup {
  std::string path;
  mode_t mode;
  timespec times[2];
};

// Xattrs a layer may not set: overlayfs reads its own trusted.overlay.* keys from lower dirs
// (opaque, redirect, metacopy), so a layer that carried them could change what the overlay
// shows; only our whiteout conversion sets them.
bool xattr_allowed(std::string_view name) {
  return !name.starts_with("trusted.overlay.") && !name.starts_with("system.");
}

class Applier {
 public:
  Applier(SafeRoot root, const UnpackOptions& options) : root_(std::move(root)), opt_(options) {}

  Result<> entry(struct archive* a, struct archive_entry* e, UnpackStats& stats);
  Result<> finish();
  std::vector<std::string> implied_dirs() const;

 private:
  Result<> prepare_slot(int dirfd, const std::string& name, bool keep_dir);
  Result<> set_meta_fd(int fd, struct archive_entry* e, bool is_dir);
  Result<> set_xattrs_fd(int fd, struct archive_entry* e);
  Result<> write_file(struct archive* a, struct archive_entry* e, int dirfd,
                      const std::string& name, const std::string& path, UnpackStats& stats);

  SafeRoot root_;
  const UnpackOptions& opt_;
  std::vector<DirFixup> dirs_;
  std::set<std::string> explicit_dirs_;
};

std::vector<std::string> Applier::implied_dirs() const {
  std::vector<std::string> out;
  for (const auto& d : root_.created())
    if (!explicit_dirs_.count(d)) out.push_back(d);
  return out;
}

Result<> Applier::prepare_slot(int dirfd, const std::string& name, bool keep_dir) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(fmt::format("stat \"{}\"", name));
  }
  if (keep_dir && S_ISDIR(st.st_mode)) return {};
  // A later entry replaces an earlier one (tar semantics); the tree's shape changes.
  root_.invalidate();
  return remove_at(dirfd, name);
}

Result<> Applier::set_xattrs_fd(int fd, struct archive_entry* e) {
  const char* xname = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
    if (!xname || !xattr_allowed(xname)) continue;
    if (::fsetxattr(fd, xname, value, size, 0) != 0 && errno != ENOTSUP && errno != EPERM)
      return fail_errno(fmt::format("set xattr {} on \"{}\"", xname, archive_entry_pathname(e)));
  }
  return {};
}

Result<> Applier::set_meta_fd(int fd, struct archive_entry* e, bool is_dir) {
  if (opt_.preserve_owners) {
    if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)),
                 static_cast<gid_t>(archive_entry_gid(e))) != 0)
      return fail_errno(fmt::format("chown \"{}\"", archive_entry_pathname(e)));
  }
  SVC_TRY(set_xattrs_fd(fd, e));
  if (!is_dir) {
    // After chown, which clears set-uid bits.
    if (::fchmod(fd, archive_entry_mode(e) & 07777) != 0)
      return fail_errno(fmt::format("chmod \"{}\"", archive_entry_pathname(e)));
    timespec ts[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                      {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    if (!archive_entry_atime_is_set(e)) ts[0] = ts[1];
    ::futimens(fd, ts);
  }
  return {};
}

Result<> Applier::write_file(struct archive* a, struct archive_entry* e, int dirfd,
                             const std::string& name, const std::string& path, UnpackStats& stats) {
  std::int64_t size = archive_entry_size(e);
  if (size < 0 || static_cast<std::uint64_t>(size) > opt_.limits.max_file_bytes)
    return fail(Code::kResourceExhausted,
                "layer file \"{}\" is {} bytes, more than the {} allowed for one file", path, size,
                format_size_human(opt_.limits.max_file_bytes));
  UniqueFd fd(
      ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return fail_errno(fmt::format("create \"{}\"", path));
  const void* block = nullptr;
  std::size_t len = 0;
  la_int64_t offset = 0;
  std::int64_t end = 0;
  for (;;) {
    int rc = archive_read_data_block(a, &block, &len, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return fail(Code::kDataLoss, "read \"{}\" from the layer: {}", path, archive_err(a));
    if (offset + static_cast<std::int64_t>(len) > size)
      return fail(Code::kDataLoss, "layer file \"{}\" has more data than its header says", path);
    const char* p = static_cast<const char*>(block);
    while (len > 0) {
      ssize_t n = ::pwrite(fd.get(), p, len, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_errno(fmt::format("write \"{}\"", path));
      }
      p += n;
      len -= static_cast<std::size_t>(n);
      offset += n;
      stats.file_bytes += static_cast<std::uint64_t>(n);
    }
    end = std::max<std::int64_t>(end, offset);
  }
  if (end < size && ::ftruncate(fd.get(), size) != 0)  // sparse tail
    return fail_errno(fmt::format("extend \"{}\"", path));
  return set_meta_fd(fd.get(), e, false);
}

Result<> Applier::entry(struct archive* a, struct archive_entry* e, UnpackStats& stats) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) return fail(Code::kDataLoss, "layer entry without a name");
  std::string path = SVC_TRY(clean_entry_path(raw));
  EntryPlan plan = plan_entry(path);
  if (plan.kind == EntryPlan::Kind::kSkip) return {};
  if (plan.kind == EntryPlan::Kind::kOpaque) {
    root_.invalidate();
    int dirfd = SVC_TRY(root_.dir(plan.path, true));
    if (::fsetxattr(dirfd, kOpaqueXattr, "y", 1, 0) != 0)
      return fail_errno(fmt::format("mark \"{}\" opaque (xattr {})", plan.path, kOpaqueXattr));
    ++stats.opaque_dirs;
    return {};
  }
  mode_t type = archive_entry_filetype(e);
  bool whiteout_dev =
      type == AE_IFCHR && archive_entry_rdevmajor(e) == 0 && archive_entry_rdevminor(e) == 0;
  if (plan.kind == EntryPlan::Kind::kWhiteout || whiteout_dev) {
    auto [parent, name] = split_parent(plan.path);
    if (name.empty()) return fail(Code::kDataLoss, "whiteout \"{}\" names the layer root", raw);
    int dirfd = SVC_TRY(root_.dir(parent, true));
    std::string n(name);
    SVC_TRY(prepare_slot(dirfd, n, false));
    if (::mknodat(dirfd, n.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0)
      return fail_errno(fmt::format("make whiteout \"{}\"", plan.path));
    ++stats.whiteouts;
    return {};
  }

  if (path.empty()) {  // "./": the root directory's own metadata
    if (type != AE_IFDIR) return fail(Code::kDataLoss, "layer root entry is not a directory");
    timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                      {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    dirs_.push_back({path, archive_entry_mode(e) & 07777, {ts[0], ts[1]}});
    return set_meta_fd(root_.fd(), e, true);
  }
  auto [parent_view, name_view] = split_parent(path);
  std::string parent(parent_view), name(name_view);
  const char* hardlink = archive_entry_hardlink(e);
  if (hardlink) {
    std::string target = SVC_TRY(clean_entry_path(hardlink));
    if (target.empty()) return fail(Code::kDataLoss, "hard link \"{}\" to the layer root", path);
    auto [tparent, tname] = split_parent(target);
    // Resolve the target's directory first (its fd is our own copy), then the link's.
    auto tdir_r = root_.open_path(tparent);
    if (!tdir_r && tdir_r.error().sys_errno() == ENOENT)
      return fail(Code::kDataLoss,
                  "layer hard link \"{}\" points at \"{}\", which is not in the layer", path,
                  hardlink);
    UniqueFd tdir = SVC_TRY_CTX(std::move(tdir_r), "hard link \"{}\" -> \"{}\"", path, target);
    int dirfd = SVC_TRY(root_.dir(parent, true));
    SVC_TRY(prepare_slot(dirfd, name, false));
    // linkat without AT_SYMLINK_FOLLOW never follows the target's last component; both names
    // were resolved beneath the root.
    std::string tn(tname);
    if (::linkat(tdir.get(), tn.c_str(), dirfd, name.c_str(), 0) != 0) {
      if (errno == ENOENT)
        return fail(Code::kDataLoss,
                    "layer hard link \"{}\" points at \"{}\", which is not in the layer", path,
                    hardlink);
      return fail_errno(fmt::format("hard link \"{}\" -> \"{}\"", path, target));
    }
    return {};
  }

  int dirfd = SVC_TRY(root_.dir(parent, true));
  switch (type) {
    case AE_IFREG: {
      SVC_TRY(prepare_slot(dirfd, name, false));
      return write_file(a, e, dirfd, name, path, stats);
    }
    case AE_IFDIR: {
      SVC_TRY(prepare_slot(dirfd, name, true));
      if (::mkdirat(dirfd, name.c_str(), 0700) != 0 && errno != EEXIST)
        return fail_errno(fmt::format("create directory \"{}\"", path));
      UniqueFd fd(::openat(dirfd, name.c_str(), O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return fail_errno(fmt::format("open directory \"{}\"", path));
      root_.invalidate();
      explicit_dirs_.insert(path);
      // Mode and times last: a read-only directory must still take its entries, and adding
      // entries changes its mtime.
      dirs_.push_back({path,
                       archive_entry_mode(e) & 07777,
                       {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                        {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}});
      return set_meta_fd(fd.get(), e, true);
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target) return fail(Code::kDataLoss, "symlink \"{}\" has no target", path);
      SVC_TRY(prepare_slot(dirfd, name, false));
      root_.invalidate();
      // The target is stored as-is: it is only ever followed inside the sandbox's root (or
      // by our own resolution, which stays beneath the snapshot root).
      if (::symlinkat(target, dirfd, name.c_str()) != 0)
        return fail_errno(fmt::format("create symlink \"{}\"", path));
      if (opt_.preserve_owners &&
          ::fchownat(dirfd, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                     static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(fmt::format("chown symlink \"{}\"", path));
      timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                        {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
      ::utimensat(dirfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    case AE_IFIFO: {
      SVC_TRY(prepare_slot(dirfd, name, false));
      if (::mkfifoat(dirfd, name.c_str(), 0600) != 0)
        return fail_errno(fmt::format("create fifo \"{}\"", path));
      UniqueFd fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (opt_.preserve_owners && fd &&
          ::fchownat(dirfd, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                     static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(fmt::format("chown fifo \"{}\"", path));
      ::fchmodat(dirfd, name.c_str(), archive_entry_mode(e) & 07777, 0);
      return {};
    }
    case AE_IFCHR:
    case AE_IFBLK:
      return fail(Code::kPermissionDenied,
                  "layer entry \"{}\" is a {} device {}:{}: device nodes are refused in images "
                  "(a sandbox gets its /dev from the runtime)",
                  path, type == AE_IFCHR ? "character" : "block", archive_entry_rdevmajor(e),
                  archive_entry_rdevminor(e));
    case AE_IFSOCK:
      return {};  // a socket in a tar is meaningless; skip it as tar(1) does
    default:
      return fail(Code::kDataLoss, "layer entry \"{}\" has an unknown file type {:o}", path, type);
  }
}

Result<> Applier::finish() {
  // Deepest first, so setting a parent's times is not undone by fixing a child.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    root_.invalidate();
    auto fd = root_.open_path(it->path);
    if (!fd) continue;  // replaced by a later entry
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    UniqueFd dfd(::openat(fd->get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!dfd) continue;
    if (::fchmod(dfd.get(), it->mode) != 0)
      return fail_errno(fmt::format("chmod directory \"{}\"", it->path));
    ::futimens(dfd.get(), it->times);
  }
  return {};
}

}  // namespace

Result<UnpackStats> unpack_tar(ByteSource& tar_stream, const std::string& root_dir,
                               const UnpackOptions& options) {
  SafeRoot root = SVC_TRY(SafeRoot::open(root_dir));
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  ReadCtx ctx;
  ctx.src = &tar_stream;
  if (archive_read_open(a.get(), &ctx, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
    if (ctx.error) return tl::unexpected(*ctx.error);
    return fail(Code::kDataLoss, "the layer is not a tar archive: {}", archive_err(a.get()));
  }
  Applier applier(std::move(root), options);
  UnpackStats stats;
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (ctx.error) return tl::unexpected(*ctx.error);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return fail(Code::kDataLoss, "the layer's tar stream is corrupt after {} entries: {}",
                  stats.entries, archive_err(a.get()));
    if (++stats.entries > options.limits.max_entries)
      return fail(Code::kResourceExhausted,
                  "the layer has more than {} entries (the limit for one layer): refused; raise "
                  "[images] max_layer_entries if the image is real",
                  options.limits.max_entries);
    if (options.cancelled()) return fail(Code::kCancelled, "unpack cancelled");
    auto r = applier.entry(a.get(), e, stats);
    if (!r) {
      if (ctx.error) return tl::unexpected(*ctx.error);
      return tl::unexpected(std::move(r).error());
    }
  }
  SVC_TRY(applier.finish());
  stats.implied_dirs = applier.implied_dirs();
  return stats;
}

}  // namespace svc::images::unpack
