#pragma once
// Terminals for sandboxed processes. The pty is made by the process itself, inside the sandbox,
// from the sandbox's own devpts (/dev/ptmx there), with the task's credentials: the task's tty
// is then /dev/pts/N of its own instance, owned by its user (and the "tty" group), and nothing
// of the host's devpts is reachable from it. The master is passed out over a socket: to the
// shim (which keeps it, so the terminal outlives svcd), or to an OCI console socket.
//
// The first three are syscall-only (no allocation, no locks): usable between clone and execve.
#include <chrono>
#include <filesystem>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

// A new pty from /dev/ptmx: *master and *slave (the slave through TIOCGPTPEER, never by path,
// so no file in the sandbox can stand in for it). rows/cols 0: the kernel's default size.
// Returns 0 or -errno.
int open_pty(int* master, int* slave, unsigned short rows, unsigned short cols) noexcept;
// Sends fd over a unix socket (SCM_RIGHTS, one byte of data). 0 or -errno.
int send_fd(int sock, int fd) noexcept;
// A new session with slave as its controlling terminal and as fds 0, 1 and 2. 0 or -errno.
int take_terminal(int slave) noexcept;

// Receives one fd sent with send_fd, waiting at most timeout. UNAVAILABLE when the peer closed
// the socket without sending one.
Result<UniqueFd> receive_fd(int sock, std::chrono::milliseconds timeout);
// Hands a pty master to the OCI console socket at path (runc's and crun's --console-socket:
// connect, send the fd with SCM_RIGHTS).
Result<> send_console(const std::filesystem::path& socket, int master);

}  // namespace svc::isolation
