#include "common/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "common/digest.hpp"
#include "common/fd.hpp"

namespace svc {

namespace fs = std::filesystem;

Result<> write_file_atomic(const fs::path& path, std::string_view data, mode_t mode, Flush flush) {
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  fs::path tmp = dir / fmt::format(".{}.tmp-{}", path.filename().string(), random_hex(6));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return fail_errno(fmt::format("create {}", tmp.string()));
  auto cleanup_on_error = [&](std::string_view what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail_errno(err, fmt::format("{} {}", what, path.string()));
  };
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return cleanup_on_error("write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return cleanup_on_error("chmod");
  if (flush == Flush::kToDisk && ::fsync(fd.get()) != 0) return cleanup_on_error("fsync");
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return cleanup_on_error("rename into");
  if (flush == Flush::kNone) return {};
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return {};
}

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(fmt::format("open {}", path.string()));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(fmt::format("read {}", path.string()));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return fail(Code::kResourceExhausted, "read {}: larger than {} bytes", path.string(),
                  max_bytes);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<> make_dirs(const fs::path& path, mode_t mode) {
  if (path.empty()) return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return fail(Code::kFailedPrecondition, "{} exists and is not a directory", path.string());
  }
  if (path.has_parent_path() && path.parent_path() != path)
    SVC_TRY(make_dirs(path.parent_path(), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return fail_errno(fmt::format("create directory {}", path.string()));
  return {};
}

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/{}XXXXXX", base && *base ? base : "/tmp", prefix);
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace svc
