#include "isolation/rootfs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

Result<UniqueFd> clone_tree(const fs::path& source, bool recursive) {
  UniqueFd fd(::open_tree(AT_FDCWD, source.c_str(),
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
  if (!fd) return fail_errno(fmt::format("clone a mount of {} (open_tree)", source.string()));
  return fd;
}

Result<> set_attrs(int fd, unsigned attrs, int userns_fd, bool recursive, const fs::path& what) {
  if (attrs == 0) return {};
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.attr_set = attrs;
  // The kernel takes an atime mode only with the whole atime field cleared (mount_setattr(2)).
  if (attrs & MOUNT_ATTR__ATIME) attr.attr_clr = MOUNT_ATTR__ATIME;
  if (attrs & MOUNT_ATTR_IDMAP) attr.userns_fd = static_cast<__u64>(userns_fd);
  if (::mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) !=
      0) {
    int err = errno;
    std::string hint = (attrs & MOUNT_ATTR_IDMAP)
                           ? " (idmapped mounts need Linux 5.12+ and a file system that supports "
                             "them: ext4, xfs, btrfs, tmpfs...)"
                           : "";
    return fail_errno(err, fmt::format("set mount attributes on {}{}", what.string(), hint));
  }
  return {};
}

// overlayfs option values may not contain these (they separate options and layers).
Result<> check_overlay_path(const fs::path& p) {
  if (p.string().find_first_of(",:\\") != std::string::npos)
    return fail(Code::kInvalidArgument,
                "overlay path {} contains ',', ':' or '\\'; use a state dir without them",
                p.string());
  return {};
}

}  // namespace

Result<std::string> overlay_mount_data(const std::vector<std::string>& lower,
                                       const std::string& upper, const std::string& work) {
  std::string data =
      "lowerdir=" + RootfsPlan::overlay_lowerdir(lower) + ",upperdir=" + upper + ",workdir=" + work;
  if (data.size() > 4095)  // mount(2) copies one page of options (fs/namespace.c)
    return fail(Code::kInvalidArgument,
                "the overlay's options for {} layers take {} bytes, more than mount(2)'s page "
                "(4095); this kernel needs Linux 6.8's lowerdir+ for so many layers",
                lower.size(), data.size());
  return data;
}

namespace {

// The kernel explains overlay refusals in the fs context's log.
std::string fs_context_log(int fsfd) {
  char log[512] = {0};
  ssize_t n = ::read(fsfd, log, sizeof log - 1);
  std::string detail =
      n > 0 ? std::string(": ") + std::string(log, static_cast<std::size_t>(n)) : "";
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  return detail;
}

// Linux 6.8+: one fsconfig per layer. nullopt when the kernel does not know "lowerdir+" (the
// caller falls back); an error for any other refusal.
std::optional<Result<UniqueFd>> overlay_by_layers(const RootfsPlan& r,
                                                  const std::vector<std::string>& paths) {
  UniqueFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd) return Result<UniqueFd>(fail_errno("fsopen overlay (is the overlay module loaded?)"));
  auto set = [&](const char* key, const std::string& value) {
    return ::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0 ? 0 : errno;
  };
  // overlayfs(5): the first lower layer given is the top one.
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    int err = set("lowerdir+", *it);
    if (err == EINVAL && it == paths.rbegin()) return std::nullopt;  // before Linux 6.8
    if (err)
      return Result<UniqueFd>(
          fail_errno(err, fmt::format("overlay layer {}{}", *it, fs_context_log(fsfd.get()))));
  }
  if (int err = set("upperdir", r.upper.string()))
    return Result<UniqueFd>(fail_errno(err, "overlay option upperdir=" + r.upper.string()));
  if (int err = set("workdir", r.work.string()))
    return Result<UniqueFd>(fail_errno(err, "overlay option workdir=" + r.work.string()));
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    int err = errno;
    return Result<UniqueFd>(
        fail_errno(err, fmt::format("create the overlay over {} layers{}", r.lower.size(),
                                    fs_context_log(fsfd.get()))));
  }
  UniqueFd m(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0));
  if (!m) return Result<UniqueFd>(fail_errno("fsmount the overlay"));
  return Result<UniqueFd>(std::move(m));
}

// Before Linux 6.8: mount(2) with the options in one page, in a child with a mount namespace
// of its own (it dies with the child), which clones the result detached into our fd table
// (CLONE_FILES) before it exits. The child only makes syscalls: it is a copy of a possibly
// multi-threaded process.
struct MountDataJob {
  const char* data = nullptr;
  const char* target = nullptr;
  unsigned long flags = 0;
  int result_fd = -1;  // written by the child
  int err = 0;
  const char* step = "";
};

int mount_data_child(void* arg) {
  auto* job = static_cast<MountDataJob*>(arg);
  if (::unshare(CLONE_NEWNS) != 0) {
    job->err = errno;
    job->step = "unshare the helper's mount namespace";
    return 1;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    job->err = errno;
    job->step = "make the helper's mounts private";
    return 1;
  }
  if (::mount("overlay", job->target, "overlay", job->flags, job->data) != 0) {
    job->err = errno;
    job->step = "mount the overlay (mount(2))";
    return 1;
  }
  job->result_fd = ::open_tree(AT_FDCWD, job->target, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (job->result_fd < 0) {
    job->err = errno;
    job->step = "clone the overlay (open_tree)";
    return 1;
  }
  return 0;
}

Result<UniqueFd> overlay_by_mount_data(const RootfsPlan& r, const std::vector<std::string>& paths) {
  // The child resolves the /proc/self/fd links in its own fd table, which is ours (CLONE_FILES).
  std::string data = SVC_TRY(overlay_mount_data(paths, r.upper.string(), r.work.string()));
  std::string target = r.staging.string();
  MountDataJob job;
  job.data = data.c_str();
  job.target = target.c_str();
  constexpr std::size_t kStack = 64UL * 1024;
  std::vector<char> stack(kStack);
  // CLONE_VM|CLONE_VFORK: the child writes job in our memory and we wait for it, as
  // posix_spawn does; CLONE_FILES: its open_tree fd lands in our table.
  // No handler of this process may run in the child (it shares our memory): block every
  // signal across the clone, as launch.cpp does.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(mount_data_child, stack.data() + stack.size(),
                      CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &job);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return fail_errno(clone_errno, "clone the overlay helper");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (job.result_fd < 0)
    return fail_errno(job.err ? job.err : EIO, fmt::format("create the overlay over {} layers: {}",
                                                           r.lower.size(), job.step));
  return UniqueFd(job.result_fd);
}

}  // namespace

Result<UniqueFd> prepare_rootfs(const RootfsPlan& r, int userns_fd, const fs::path& proc,
                                OverlayLayers how) {
  // Read-only roots are made read-only by the sandbox once its mount points exist (an image
  // may lack /proc or /dev, and a read-only root could not get them).
  const unsigned idmap = r.idmap ? MOUNT_ATTR_IDMAP : 0u;
  if (!r.overlay) {
    UniqueFd root = SVC_TRY(clone_tree(r.lower.at(0), true));
    SVC_TRY(set_attrs(root.get(), idmap, userns_fd, true, r.lower[0]));
    return root;
  }
  std::vector<UniqueFd> layers;
  std::vector<std::string> paths;
  for (const auto& lower : r.lower) {
    UniqueFd l = SVC_TRY(clone_tree(lower, false));
    SVC_TRY(set_attrs(l.get(), idmap, userns_fd, false, lower));
    // overlayfs resolves the magic link to the detached, idmapped clone.
    paths.push_back((proc / "self/fd" / std::to_string(l.get())).string());
    layers.push_back(std::move(l));
  }
  SVC_TRY(check_overlay_path(r.upper));
  SVC_TRY(check_overlay_path(r.work));
  if (how == OverlayLayers::kAuto) {
    if (auto m = overlay_by_layers(r, paths)) return std::move(*m);
  }
  return overlay_by_mount_data(r, paths);
}

Result<UniqueFd> prepare_bind(const BindSource& b, int userns_fd) {
  UniqueFd m = SVC_TRY(clone_tree(b.source, b.recursive));
  unsigned attrs =
      b.attrs | (b.readonly ? MOUNT_ATTR_RDONLY : 0u) | (b.idmap ? MOUNT_ATTR_IDMAP : 0u);
  SVC_TRY(set_attrs(m.get(), attrs, userns_fd, b.recursive, b.source));
  return m;
}

}  // namespace svc::isolation
