#pragma once
// Path resolution beneath a snapshot root, so that no tar entry can make svc write outside it.
// Every parent directory is opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV) (Linux 5.6, openat2(2)): ".." and absolute symlinks inside the layer resolve
// as if the snapshot root were "/", so "lib -> /" followed by "lib/etc/passwd" lands in
// <root>/etc/passwd, never in the host's /etc. The last component is then created or replaced
// with *at() calls that never follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, O_EXCL).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::images::unpack {

// Lexical clean-up of a tar entry name: drops a leading "/" and "./", collapses "//" and "/./",
// and refuses ".." components (a layer that names one is hostile or broken). "" is the root.
Result<std::string> clean_entry_path(std::string_view name);

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string_view, std::string_view> split_parent(std::string_view clean_path);

// Owns the fd of the root directory (released with the object) and one cached parent dir fd.
class SafeRoot {
 public:
  static Result<SafeRoot> open(const std::string& dir);

  int fd() const { return root_.get(); }

  // Opens the directory at rel (a cleaned path, "" = the root), resolved in the root. With
  // create, missing directories are made (mode 0755; the tar's own entry fixes it later).
  // Returns a borrowed fd valid until the next call or invalidate().
  Result<int> dir(std::string_view rel, bool create);

  // Directories dir(…, create=true) had to make because the tar never named them ("implied").
  const std::vector<std::string>& created() const { return created_; }

  // Opens rel itself as O_PATH without following a final symlink.
  Result<UniqueFd> open_path(std::string_view rel);

  // Marks the cached directory stale: call after anything that changes the tree's shape. The
  // fd stays open (a caller may still hold it) until the next dir() call replaces it.
  void invalidate() { stale_ = true; }

 private:
  explicit SafeRoot(UniqueFd root) : root_(std::move(root)) {}
  Result<UniqueFd> resolve(std::string_view rel, int flags) const;
  UniqueFd root_;
  UniqueFd cached_;
  std::string cached_path_;
  bool stale_ = true;
  std::vector<std::string> created_;
};

// Removes name in dirfd: a file, a symlink, or a whole directory tree, never following a symlink
// out of it (every step is an *at() call on an fd opened with O_NOFOLLOW).
Result<> remove_at(int dirfd, const std::string& name);

}  // namespace svc::images::unpack
