#include "daemon/uploads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "common/digest.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

UploadStore::Taken::~Taken() {
  std::error_code ec;
  fs::remove(path_, ec);
}

Result<std::unique_ptr<UploadStore>> UploadStore::open(Options options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return fail(Code::kInternal, "create {}: {}", options.dir.string(), ec.message());
  if (::chmod(options.dir.c_str(), 0700) != 0)
    return fail_errno(fmt::format("chmod {}", options.dir.string()));
  for (const auto& e : fs::directory_iterator(options.dir, ec)) {
    spdlog::info("uploads: removing {} (left by a previous svcd)", e.path().filename().string());
    fs::remove_all(e.path(), ec);
  }
  return std::unique_ptr<UploadStore>(new UploadStore(std::move(options)));
}

fs::path UploadStore::path_of(std::string_view id) const {
  return options_.dir / (std::string(id) + ".part");
}

void UploadStore::expire_locked() {
  auto now = options_.now();
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (!it->second.busy && now - it->second.touched > options_.idle_expiry) {
      spdlog::info("uploads: {} idle for more than {} s, removed", it->first,
                   std::chrono::duration_cast<std::chrono::seconds>(options_.idle_expiry).count());
      std::error_code ec;
      fs::remove(path_of(it->first), ec);
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<std::string> UploadStore::create() {
  std::lock_guard lock(mu_);
  expire_locked();
  if (uploads_.size() >= options_.max_open)
    return fail(Code::kResourceExhausted,
                "{} uploads are in progress already (the limit): finish or abandon one (an idle "
                "upload is dropped after {} s), then retry",
                uploads_.size(),
                std::chrono::duration_cast<std::chrono::seconds>(options_.idle_expiry).count());
  std::string id = random_hex(16);
  fs::path path = path_of(id);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return fail_errno(fmt::format("create {}", path.string()));
  Upload& u = uploads_[id];
  u.fd = std::move(fd);
  u.touched = options_.now();
  return id;
}

Result<std::int64_t> UploadStore::append(std::string_view id, std::int64_t offset,
                                         std::string_view data) {
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    expire_locked();
    auto it = uploads_.find(id);
    if (it == uploads_.end())
      return fail(Code::kNotFound,
                  "no upload {}: it was finished, or abandoned for too long; start a new one", id);
    Upload& u = it->second;
    if (u.busy)
      return fail(Code::kAborted, "upload {}: another chunk is being written; send one at a time",
                  id);
    if (offset != u.size)
      return fail(Code::kFailedPrecondition,
                  "upload {}: a chunk at offset {}, but {} bytes were received: send from there",
                  id, offset, u.size);
    u.busy = true;
    fd = u.fd.get();
  }
  // Written outside the lock (a chunk is megabytes); busy keeps the upload from expiring or
  // being taken meanwhile.
  std::size_t done = 0;
  int err = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  std::lock_guard lock(mu_);
  Upload& u = uploads_.find(id)->second;
  u.busy = false;
  u.touched = options_.now();
  if (err != 0) {
    // A partial write is cut back, so the caller may send the same chunk again.
    if (::ftruncate(fd, static_cast<off_t>(u.size)) != 0)
      spdlog::warn("uploads: truncate {}: {}", id, std::strerror(errno));
    return fail_errno(err, fmt::format("upload {}: write to {}", id, path_of(id).string()));
  }
  u.size += static_cast<std::int64_t>(data.size());
  return u.size;
}

Result<std::unique_ptr<UploadStore::Taken>> UploadStore::take(std::string_view id) {
  std::lock_guard lock(mu_);
  expire_locked();
  auto it = uploads_.find(id);
  if (it == uploads_.end())
    return fail(Code::kNotFound,
                "no upload {}: it was imported already, or abandoned for too long; upload the "
                "archive again",
                id);
  if (it->second.busy) return fail(Code::kAborted, "upload {}: a chunk is still being written", id);
  auto taken = std::make_unique<Taken>(path_of(id));
  uploads_.erase(it);  // closes the fd; the file stays until taken is destroyed
  return taken;
}

std::size_t UploadStore::open_count() {
  std::lock_guard lock(mu_);
  expire_locked();
  return uploads_.size();
}

}  // namespace svc::daemon
