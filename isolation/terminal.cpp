#include "isolation/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace svc::isolation {

int open_pty(int* master, int* slave, unsigned short rows, unsigned short cols) noexcept {
  int m = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return -errno;
  int unlock = 0;
  if (::ioctl(m, TIOCSPTLCK, &unlock) != 0) {
    int e = errno;
    ::close(m);
    return -e;
  }
  // A master of a devpts mount: TIOCGPTN fails on anything else a path could lead to.
  unsigned n = 0;
  if (::ioctl(m, TIOCGPTN, &n) != 0) {
    int e = errno;
    ::close(m);
    return -e;
  }
  int s = ::ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    int e = errno;
    ::close(m);
    return -e;
  }
  if (rows > 0 && cols > 0) {
    struct winsize ws;
    std::memset(&ws, 0, sizeof ws);
    ws.ws_row = rows;
    ws.ws_col = cols;
    ::ioctl(s, TIOCSWINSZ, &ws);
  }
  *master = m;
  *slave = s;
  return 0;
}

int send_fd(int sock, int fd) noexcept {
  char byte = 'm';
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  std::memset(cbuf, 0, sizeof cbuf);
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -errno;
}

int take_terminal(int slave) noexcept {
  if (::setsid() < 0) return -errno;
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) return -errno;
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) != i) return -errno;
  if (slave > 2) ::close(slave);
  return 0;
}

Result<UniqueFd> receive_fd(int sock, std::chrono::milliseconds timeout) {
  struct pollfd p = {sock, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return fail(Code::kDeadlineExceeded, "no terminal within {} ms", timeout.count());
  char byte;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("receive the terminal");
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return UniqueFd(fd);
  }
  return fail(Code::kUnavailable, "the process ended before it made its terminal");
}

Result<> send_console(const std::filesystem::path& socket, int master) {
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string path = socket.string();
  if (path.size() >= sizeof addr.sun_path)
    return fail(Code::kInvalidArgument, "--console-socket {}: the path is too long", path);
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return fail_errno("connect to the console socket " + path);
  if (int rc = send_fd(fd.get(), master); rc != 0)
    return fail_errno(-rc, "send the terminal to the console socket " + path);
  return {};
}

}  // namespace svc::isolation
