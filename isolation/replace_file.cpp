#include "isolation/replace_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include <fmt/format.h>

#include "common/fd.hpp"

namespace svc::isolation {

Result<> replace_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp =
      path.parent_path() /
      fmt::format(".{}.{}-{}.tmp", path.filename().string(), ::getpid(), counter.fetch_add(1));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return fail_errno("create " + tmp.string());
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return fail_errno(err, "write " + tmp.string());
    }
    off += static_cast<std::size_t>(n);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail_errno(err, "rename into " + path.string());
  }
  return {};
}

}  // namespace svc::isolation
