#include "isolation/rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
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

Result<UniqueFd> prepare_rootfs(const RootfsPlan& r, int userns_fd, const fs::path& proc) {
  if (!r.overlay) {
    UniqueFd root = SVC_TRY(clone_tree(r.lower.at(0), true));
    SVC_TRY(set_attrs(root.get(), MOUNT_ATTR_IDMAP | (r.readonly ? MOUNT_ATTR_RDONLY : 0u),
                      userns_fd, true, r.lower[0]));
    return root;
  }
  std::vector<UniqueFd> layers;
  std::vector<std::string> paths;
  for (const auto& lower : r.lower) {
    UniqueFd l = SVC_TRY(clone_tree(lower, false));
    SVC_TRY(set_attrs(l.get(), MOUNT_ATTR_IDMAP, userns_fd, false, lower));
    // overlayfs resolves the magic link to the detached, idmapped clone.
    paths.push_back((proc / "self/fd" / std::to_string(l.get())).string());
    layers.push_back(std::move(l));
  }
  SVC_TRY(check_overlay_path(r.upper));
  SVC_TRY(check_overlay_path(r.work));
  UniqueFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd) return fail_errno("fsopen overlay (is the overlay module loaded?)");
  auto set = [&](const char* key, const std::string& value) -> Result<> {
    if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0)
      return fail_errno(fmt::format("overlay option {}={}", key, value));
    return {};
  };
  SVC_TRY(set("lowerdir", RootfsPlan::overlay_lowerdir(paths)));
  SVC_TRY(set("upperdir", r.upper.string()));
  SVC_TRY(set("workdir", r.work.string()));
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    int err = errno;
    char log[512] = {0};  // the kernel explains overlay refusals in the fs context's log
    ssize_t n = ::read(fsfd.get(), log, sizeof log - 1);
    std::string detail =
        n > 0 ? std::string(": ") + std::string(log, static_cast<std::size_t>(n)) : "";
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    return fail_errno(err,
                      fmt::format("create the overlay over {} layers{}", r.lower.size(), detail));
  }
  UniqueFd m(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, r.readonly ? MOUNT_ATTR_RDONLY : 0));
  if (!m) return fail_errno("fsmount the overlay");
  return m;
}

Result<UniqueFd> prepare_bind(const BindSource& b, int userns_fd) {
  UniqueFd m = SVC_TRY(clone_tree(b.source, b.recursive));
  unsigned attrs =
      b.attrs | (b.readonly ? MOUNT_ATTR_RDONLY : 0u) | (b.idmap ? MOUNT_ATTR_IDMAP : 0u);
  SVC_TRY(set_attrs(m.get(), attrs, userns_fd, b.recursive, b.source));
  return m;
}

}  // namespace svc::isolation
