#include "images/unpack/safe_root.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "common/syscall.hpp"

namespace svc::images::unpack {

namespace {

constexpr std::uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

}  // namespace

Result<std::string> clean_entry_path(std::string_view name) {
  std::string out;
  std::size_t i = 0;
  while (i <= name.size()) {
    auto slash = name.find('/', i);
    std::string_view comp = name.substr(i, slash == std::string_view::npos ? slash : slash - i);
    if (comp == "..")
      return fail(Code::kPermissionDenied,
                  "layer entry \"{}\" has a \"..\" component: a layer may not name paths outside "
                  "itself",
                  name);
    if (comp.find('\0') != std::string_view::npos)
      return fail(Code::kInvalidArgument, "layer entry has a NUL byte in its name");
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  if (out.size() > 4095)
    return fail(Code::kInvalidArgument, "layer entry name is longer than PATH_MAX");
  return out;
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view p) {
  auto slash = p.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), p};
  return {p.substr(0, slash), p.substr(slash + 1)};
}

Result<SafeRoot> SafeRoot::open(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail_errno(fmt::format("open snapshot root {}", dir));
  return SafeRoot(std::move(fd));
}

Result<UniqueFd> SafeRoot::resolve(std::string_view rel, int flags) const {
  std::string path = rel.empty() ? std::string(".") : std::string(rel);
  int fd = sys::openat2(root_.get(), path.c_str(), static_cast<std::uint64_t>(flags | O_CLOEXEC),
                        kResolve);
  if (fd < 0) return fail_errno(-fd, fmt::format("open \"{}\" in the layer", rel));
  return UniqueFd(fd);
}

Result<int> SafeRoot::dir(std::string_view rel, bool create) {
  if (!stale_ && cached_ && cached_path_ == rel) return cached_.get();
  auto fd = resolve(rel, O_DIRECTORY | O_RDONLY);
  if (!fd && fd.error().sys_errno() == ENOENT && create) {
    // Walk from the root, making each missing component. Each prefix is resolved in the root
    // again, so a symlink made by an earlier entry is followed only within the root.
    std::size_t pos = 0;
    while (true) {
      auto slash = rel.find('/', pos);
      std::string_view prefix = rel.substr(0, slash);
      auto step = resolve(prefix, O_DIRECTORY | O_RDONLY);
      if (!step && step.error().sys_errno() == ENOENT) {
        auto [parent, name] = split_parent(prefix);
        auto pfd = SVC_TRY(resolve(parent, O_DIRECTORY | O_RDONLY));
        if (::mkdirat(pfd.get(), std::string(name).c_str(), 0755) == 0)
          created_.emplace_back(prefix);
        else if (errno != EEXIST)
          return fail_errno(fmt::format("create directory \"{}\" in the layer", prefix));
        step = resolve(prefix, O_DIRECTORY | O_RDONLY);
      }
      if (!step) return tl::unexpected(std::move(step).error());
      if (slash == std::string_view::npos) {
        fd = std::move(step);
        break;
      }
      pos = slash + 1;
    }
  }
  if (!fd) return tl::unexpected(std::move(fd).error());
  cached_ = std::move(*fd);
  cached_path_ = std::string(rel);
  stale_ = false;
  return cached_.get();
}

Result<UniqueFd> SafeRoot::open_path(std::string_view rel) {
  return resolve(rel, O_PATH | O_NOFOLLOW);
}

Result<> remove_at(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(fmt::format("stat \"{}\"", name));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
      return fail_errno(fmt::format("remove \"{}\"", name));
    return {};
  }
  int sub = ::openat(dirfd, name.c_str(), O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return fail_errno(fmt::format("open directory \"{}\"", name));
  DIR* d = ::fdopendir(sub);
  if (!d) {
    ::close(sub);
    return fail_errno(fmt::format("read directory \"{}\"", name));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  Result<> r;
  for (const auto& n : names) {
    r = remove_at(::dirfd(d), n);
    if (!r) break;
  }
  ::closedir(d);
  if (!r) return r;
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("remove directory \"{}\"", name));
  return {};
}

}  // namespace svc::images::unpack
