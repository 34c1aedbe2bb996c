#include "images/snapshotter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <system_error>

#include "common/fs.hpp"
#include "images/unpack/safe_root.hpp"

namespace svc::images {

namespace fs = std::filesystem;

namespace {

// Removes a tree without following symlinks (std::filesystem::remove_all does not follow them
// either, but ours works on directories whose modes deny writing, as an unpacked layer's can).
void remove_tree(const fs::path& p) {
  UniqueFd parent(::open(p.parent_path().c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!parent) return;
  (void)unpack::remove_at(parent.get(), p.filename().string());
}

}  // namespace

Snapshotter::Snapshotter(const fs::path& root, SyncFn sync)
    : dir_(root / "snapshots"), sync_(std::move(sync)) {
  if (!sync_) sync_ = [](int fd) { return ::syncfs(fd) == 0 ? 0 : errno; };
}

Result<> Snapshotter::init() {
  SVC_TRY_CTX(make_dirs(dir_, 0700), "snapshot store");
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string n = e.path().filename().string();
    if (n.starts_with(".tmp-") || n.starts_with(".trash-")) stale.push_back(e.path());
  }
  for (const auto& p : stale) remove_tree(p);
  return {};
}

fs::path Snapshotter::path(const Digest& chain_id) const { return dir_ / chain_id.hex(); }

bool Snapshotter::has(const Digest& chain_id) const {
  struct stat st {};
  return ::lstat(path(chain_id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<fs::path> Snapshotter::prepare(const Digest& chain_id) {
  fs::path tmp = dir_ / fmt::format(".tmp-{}-{}", chain_id.hex(), random_hex(6));
  if (::mkdir(tmp.c_str(), 0755) != 0)
    return fail_errno(fmt::format("create snapshot dir {}", tmp.string()));
  return tmp;
}

Result<> Snapshotter::commit(const fs::path& tmp, const Digest& chain_id) {
  fs::path dest = path(chain_id);
  {
    // The unpacker wrote and closed every file without syncing it: they reach the disk here,
    // before the snapshot has a name. The rename below is what commits it.
    UniqueFd t(::open(tmp.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!t) return fail_errno(fmt::format("open snapshot dir {}", tmp.string()));
    if (int err = sync_(t.get()); err != 0)
      return fail_errno(err, fmt::format("sync snapshot {} to disk (is the disk full or failing?)",
                                         chain_id.short_str()));
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    if ((errno == ENOTEMPTY || errno == EEXIST) && has(chain_id)) {
      discard(tmp);
      return {};
    }
    return fail_errno(fmt::format("rename snapshot into {}", dest.string()));
  }
  UniqueFd d(::open(dir_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (d) ::fsync(d.get());
  return {};
}

void Snapshotter::discard(const fs::path& tmp) { remove_tree(tmp); }

std::vector<Digest> Snapshotter::list() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    auto d = Digest::parse("sha256:" + e.path().filename().string());
    if (d) out.push_back(*d);
  }
  return out;
}

Result<std::int64_t> Snapshotter::remove(const Digest& chain_id) {
  fs::path p = path(chain_id);
  if (!has(chain_id)) return std::int64_t{0};
  std::int64_t bytes = disk_usage(p);
  fs::path trash = dir_ / fmt::format(".trash-{}-{}", chain_id.hex(), random_hex(6));
  if (::rename(p.c_str(), trash.c_str()) != 0)
    return fail_errno(fmt::format("remove snapshot {}", p.string()));
  remove_tree(trash);
  return bytes;
}

std::int64_t disk_usage(const fs::path& dir) {
  std::int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       it != end; it.increment(ec)) {
    if (ec) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += st.st_size;
  }
  return total;
}

}  // namespace svc::images
