#pragma once
// The thin syscall seam isolation/ and images/ stand on: the calls glibc 2.36 wraps badly or not
// at all, in one place. Each is one syscall, async-signal-safe and allocation-free (usable
// between clone() and execve()), and returns the result or -errno instead of setting errno, so
// callers in a forked child need no errno juggling.
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace svc::sys {

// openat2(2) (Linux 5.6): the kernel resolves path under dirfd with the RESOLVE_* rules, so a
// symlink or ".." in a tree we do not trust cannot lead outside it. glibc 2.36 has no wrapper.
// Returns an fd (close-on-exec only when flags say so) or -errno.
inline int openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve,
                   std::uint64_t mode = 0) noexcept {
  struct open_how how {};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// pidfd_open(2) (Linux 5.3): glibc 2.36's <sys/pidfd.h> lacks extern "C". An fd or -errno.
inline int pidfd_open(pid_t pid, unsigned flags = 0) noexcept {
  long fd = ::syscall(SYS_pidfd_open, pid, flags);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// pidfd_send_signal(2): signals the process the pidfd names, never a reused pid. 0 or -errno.
inline int pidfd_send_signal(int pidfd, int sig) noexcept {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? 0 : -errno;
}

}  // namespace svc::sys
