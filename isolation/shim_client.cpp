#include "isolation/shim_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "isolation/shim/protocol.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

// Fills addr for dir/name; when the path is too long, through an O_PATH fd of dir kept in holder.
Result<socklen_t> make_addr(const fs::path& dir, std::string_view name, const fs::path& proc,
                            sockaddr_un& addr, UniqueFd& holder) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string path = (dir / name).string();
  if (path.size() >= sizeof addr.sun_path) {
    holder.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!holder) return fail_errno("open " + dir.string());
    path = (proc / "self/fd" / std::to_string(holder.get()) / name).string();
    if (path.size() >= sizeof addr.sun_path)
      return fail(Code::kInvalidArgument, "socket path {} is too long", path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

}  // namespace

Result<UniqueFd> listen_unix(const fs::path& dir, std::string_view name, const fs::path& proc) {
  sockaddr_un addr;
  UniqueFd holder;
  socklen_t len = SVC_TRY(make_addr(dir, name, proc, addr, holder));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  ::unlink((dir / name).c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return fail_errno("bind " + (dir / name).string());
  ::chmod((dir / name).c_str(), 0600);
  if (::listen(fd.get(), 64) != 0) return fail_errno("listen " + (dir / name).string());
  return fd;
}

Result<UniqueFd> connect_unix(const fs::path& dir, std::string_view name, bool nonblocking,
                              const fs::path& proc) {
  sockaddr_un addr;
  UniqueFd holder;
  socklen_t len = SVC_TRY(make_addr(dir, name, proc, addr, holder));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED)
      return fail(Code::kUnavailable, "no shim listens at {}", (dir / name).string());
    return fail_errno(e, "connect " + (dir / name).string());
  }
  return fd;
}

Result<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left < 0) left = 0;
    struct pollfd p = {fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return fail_errno("poll");
    if (rc == 0) return fail(Code::kDeadlineExceeded, "no reply from the shim");
    // Read byte-wise up to the newline only: a caller may keep reading the stream after.
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
      return fail(Code::kUnavailable, "the shim went away");
    if (n < 0) return fail_errno("read from the shim");
    if (n == 0) return out;
    std::size_t take = static_cast<std::size_t>(n);
    const char* nl = static_cast<const char*>(std::memchr(buf, '\n', take));
    if (nl) take = static_cast<std::size_t>(nl - buf) + 1;
    n = ::recv(fd, buf, take, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (!out.empty() && out.back() == '\n') {
      out.pop_back();
      return out;
    }
  }
}

Result<std::string> shim_request(const fs::path& dir, std::string_view line,
                                 std::chrono::milliseconds timeout) {
  UniqueFd fd = SVC_TRY(connect_unix(dir, shim::kSocketName));
  std::string req = std::string(line) + "\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    if (errno == EPIPE || errno == ECONNRESET)  // it exited right after our connect
      return fail(Code::kUnavailable, "the shim at {} went away", dir.string());
    return fail_errno("send to the shim");
  }
  std::string reply = SVC_TRY(read_line(fd.get(), timeout));
  if (reply.starts_with("ok")) return reply.size() > 3 ? reply.substr(3) : std::string();
  if (reply.starts_with("err ")) {
    int err = 0;
    std::from_chars(reply.data() + 4, reply.data() + reply.size(), err);
    auto sp = reply.find(' ', 4);
    std::string text = sp == std::string::npos ? reply : reply.substr(sp + 1);
    return tl::unexpected(Error(sys_error(err, "").code(), text, err));
  }
  if (reply.empty()) return fail(Code::kUnavailable, "the shim closed the connection");
  return fail(Code::kInternal, "unexpected reply from the shim: \"{}\"", reply);
}

}  // namespace svc::isolation
