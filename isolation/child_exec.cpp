// The sandbox's first process. Everything here runs between clone() and execve() in a copy of a
// multi-threaded program: only syscalls and reads of the (already built) plan. No allocation,
// no stdio, no exceptions; errors leave as a fixed-size ChildMessage.
#include "isolation/child_exec.hpp"

#include "isolation/terminal.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/syscall.hpp"

namespace svc::isolation {

namespace {

constexpr int kMaxFds = 250;  // SCM_MAX_FD is 253

// A fixed-size text builder for error messages.
struct Text {
  char* buf;
  std::size_t cap;
  std::size_t len = 0;
  Text(char* b, std::size_t c) : buf(b), cap(c) { buf[0] = 0; }
  Text& add(const char* s) {
    while (s && *s && len + 1 < cap) buf[len++] = *s++;
    buf[len] = 0;
    return *this;
  }
  Text& num(long v) {
    char tmp[24];
    int i = 0;
    bool neg = v < 0;
    unsigned long u = neg ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      tmp[i++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u && i < 22);
    if (neg) tmp[i++] = '-';
    while (i > 0 && len + 1 < cap) buf[len++] = tmp[--i];
    buf[len] = 0;
    return *this;
  }
};

struct Child {
  const ChildArgs& a;
  const Plan& plan;
  int sync = -1;
  int root = -1;
  int recvd[kMaxFds] = {};
  int nrecvd = 0;
};

void send_message(int fd, std::uint32_t kind, int err, const char* what, const char* target) {
  ChildMessage m;
  m.kind = kind;
  m.err = err;
  Text t(m.text, sizeof m.text);
  t.add(what);
  if (target && *target) t.add(" ").add(target);
  if (fd >= 0) {
    ssize_t ignored = ::send(fd, &m, sizeof m, MSG_NOSIGNAL);
    (void)ignored;
  }
}

[[noreturn]] void die(const Child& c, const char* what, const char* target = nullptr,
                      int err = errno) {
  send_message(c.sync, ChildMessage::kError, err, what, target);
  ::_exit(1);
}

// The raw credential syscalls. glibc's setresuid/setgroups change every thread of the process
// (a signal broadcast under glibc's thread-list lock); this process is a clone of a
// multi-threaded one whose copied thread list names threads that do not exist here, and whose
// lock another thread may have held at the clone: the wrappers can hang forever. The kernel's
// calls change only the calling thread, which here is the whole process.
int sys_setresuid(uid_t u) { return static_cast<int>(::syscall(SYS_setresuid, u, u, u)); }
int sys_setresgid(gid_t g) { return static_cast<int>(::syscall(SYS_setresgid, g, g, g)); }
int sys_setgroups(std::size_t n, const gid_t* groups) {
  return static_cast<int>(::syscall(SYS_setgroups, n, groups));
}

// Opens path under root (never leaving it: ".." and absolute symlinks stay inside) as O_PATH.
int open_in_root(int root, const char* path, bool no_symlinks) {
  std::uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (no_symlinks) resolve |= RESOLVE_NO_SYMLINKS;
  return sys::openat2(root, path, O_PATH | O_CLOEXEC, resolve);
}

// Opens path under root, creating missing directories (and, when file, an empty file as the
// last component). Every step is resolved from the root fd, so no symlink in the image can
// point a step at the host; creation uses the parent's fd and a single name.
int make_target(int root, const char* path, bool file, bool no_symlinks) {
  int fd = open_in_root(root, path, no_symlinks);
  if (fd != -ENOENT) return fd;
  char prefix[4096];
  std::size_t n = std::strlen(path);
  if (n >= sizeof prefix) return -ENAMETOOLONG;
  int dir = open_in_root(root, "/", true);
  if (dir < 0) return dir;
  std::size_t i = 0;
  while (i < n) {
    while (i < n && path[i] == '/') ++i;
    if (i >= n) break;
    std::size_t start = i;
    while (i < n && path[i] != '/') ++i;
    std::size_t end = i;
    std::size_t rest = i;
    while (rest < n && path[rest] == '/') ++rest;
    bool last = rest >= n;
    std::memcpy(prefix, path, end);
    prefix[end] = 0;
    int next = open_in_root(root, prefix, no_symlinks);
    if (next == -ENOENT) {
      char name[256];
      std::size_t len = end - start;
      if (len >= sizeof name) {
        ::close(dir);
        return -ENAMETOOLONG;
      }
      std::memcpy(name, path + start, len);
      name[len] = 0;
      if (last && file) {
        int f = ::openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) {
          int e = errno;
          ::close(dir);
          return -e;
        }
        if (f >= 0) ::close(f);
      } else if (::mkdirat(dir, name, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        ::close(dir);
        return -e;
      }
      next = open_in_root(root, prefix, no_symlinks);
    }
    ::close(dir);
    if (next < 0) return next;
    dir = next;
  }
  return dir;
}

int attach(int mount_fd, int target_fd) {
  return ::move_mount(mount_fd, "", target_fd, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int target_or_die(const Child& c, const ChildStep& s, bool file) {
  int fd = make_target(c.root, s.target.c_str(), file, s.no_symlinks);
  if (fd < 0) die(c, "resolve mount point", s.target.c_str(), -fd);
  return fd;
}

using Options = std::vector<std::pair<std::string, std::string>>;
const Options kCgroupTmpfs = {{"mode", "755"}};  // made before main: the child never allocates

// Propagation (MS_SHARED, ...) of an attached mount, through its fd.
void set_propagation(const Child& c, int mfd, unsigned long propagation, const char* what) {
  if (propagation == 0) return;
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.propagation = propagation & ~static_cast<unsigned long>(MS_REC);
  unsigned flags = AT_EMPTY_PATH | ((propagation & MS_REC) ? AT_RECURSIVE : 0u);
  if (::mount_setattr(mfd, "", flags, &attr, sizeof attr) != 0)
    die(c, "set the propagation of", what);
}

void mount_fs(const Child& c, const char* type, const Options* options, unsigned attrs, int target,
              const char* what, const char* source = nullptr, unsigned long propagation = 0) {
  int fs = ::fsopen(type, FSOPEN_CLOEXEC);
  if (fs < 0) die(c, "fsopen", type);
  // What mountinfo shows as the source ("proc", "shm"); without it the kernel says "none".
  if (source && *source && ::fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) != 0)
    die(c, "fsconfig source for", what);
  if (options) {
    for (const auto& [key, value] : *options) {
      int rc = value.empty() ? ::fsconfig(fs, FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                             : ::fsconfig(fs, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
      if (rc != 0) die(c, "fsconfig option", key.c_str());
    }
  }
  if (::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    die(c, "create file system", type);
  int m = ::fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  if (m < 0) die(c, "fsmount", type);
  ::close(fs);
  if (attach(m, target) != 0) die(c, "attach mount at", what);
  set_propagation(c, m, propagation, what);
  ::close(m);
}

void set_attrs(const Child& c, int mfd, unsigned attrs, bool recursive, const char* what) {
  if (attrs == 0) return;
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.attr_set = attrs;
  // The kernel takes an atime mode only with the whole atime field cleared (mount_setattr(2)).
  if (attrs & MOUNT_ATTR__ATIME) attr.attr_clr = MOUNT_ATTR__ATIME;
  if (::mount_setattr(mfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
                      sizeof attr) != 0)
    die(c, "set mount attributes on", what);
}

void bind_clone(const Child& c, int src_dir, const char* src_path, int target, unsigned attrs,
                bool recursive, const char* what) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0u);
  if (!*src_path) flags |= AT_EMPTY_PATH;
  int m = ::open_tree(src_dir, src_path, flags);
  if (m < 0) die(c, "clone mount", what);
  set_attrs(c, m, attrs, recursive, what);
  if (attach(m, target) != 0) die(c, "attach bind mount at", what);
  ::close(m);
}

// The parent directory of an absolute path under the root (created when missing) and the last
// component's offset in path.
int parent_dir(const Child& c, const char* path, const char** name) {
  const char* slash = std::strrchr(path, '/');
  char parent[4096];
  std::size_t plen = static_cast<std::size_t>(slash - path);
  if (plen >= sizeof parent) die(c, "path too long", path, ENAMETOOLONG);
  std::memcpy(parent, path, plen);
  parent[plen] = 0;
  if (plen == 0) {
    parent[0] = '/';
    parent[1] = 0;
  }
  int d = make_target(c.root, parent, false, true);
  if (d < 0) die(c, "resolve the directory of", path, -d);
  *name = slash + 1;
  return d;
}

// A node the spec lists (OCI linux.devices). mknod needs CAP_MKNOD in the initial user
// namespace for character and block devices; in a user namespace the host's node at the same
// path is bound instead (runc's rootless rule), which shows the host's owner and mode.
void make_device(const Child& c, const ChildStep& s) {
  const char* name = nullptr;
  int d = parent_dir(c, s.target.c_str(), &name);
  ::unlinkat(d, name, 0);  // a node or file already there (the image's /dev) is replaced
  if (::mknodat(d, name, s.mode, s.dev) == 0) {
    // mknod applies the umask and makes the node root's: set what the spec says.
    if (::fchmodat(d, name, s.mode & 07777, 0) != 0) die(c, "chmod device", s.target.c_str());
    if (::fchownat(d, name, s.uid, s.gid, AT_SYMLINK_NOFOLLOW) != 0)
      die(c, "chown device", s.target.c_str());
    ::close(d);
    return;
  }
  if (errno != EPERM || S_ISFIFO(s.mode)) die(c, "mknod", s.target.c_str());
  ::close(d);
  int t = target_or_die(c, s, true);
  bind_clone(c, AT_FDCWD, s.source.c_str(), t, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false,
             s.target.c_str());
  ::close(t);
}

// The sandbox's cgroups at the target: a cgroup2 mount (rooted at the sandbox's cgroup by its
// cgroup namespace), or on v1 a tmpfs with each hierarchy's directory bound below it.
void mount_cgroups(const Child& c, const ChildStep& s) {
  const CgroupFsPlan& cg = c.plan.child.cgroup_fs;
  unsigned ro = cg.readonly ? MOUNT_ATTR_RDONLY : 0u;
  int t = target_or_die(c, s, false);
  if (cg.v2) {
    if (c.plan.child.clone_flags & CLONE_NEWCGROUP) {
      mount_fs(c, "cgroup2", nullptr, s.attrs | ro, t, s.target.c_str(), "cgroup2");
    } else if (!cg.hierarchies.empty()) {
      // Without a cgroup namespace a new cgroup2 mount would show the host's whole tree.
      bind_clone(c, AT_FDCWD, cg.hierarchies[0].host_dir.c_str(), t, s.attrs | ro, false,
                 s.target.c_str());
    }
    ::close(t);
    return;
  }
  mount_fs(c, "tmpfs", &kCgroupTmpfs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, t,
           s.target.c_str(), "tmpfs");
  ::close(t);
  char path[4096];
  for (const auto& h : cg.hierarchies) {
    Text p(path, sizeof path);
    p.add(s.target.c_str()).add("/").add(h.name.c_str());
    int sub = make_target(c.root, path, false, true);
    if (sub < 0) die(c, "make the cgroup mount point", path, -sub);
    bind_clone(c, AT_FDCWD, h.host_dir.c_str(), sub,
               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | ro, false, path);
    ::close(sub);
  }
  int dir = make_target(c.root, s.target.c_str(), false, true);
  if (dir < 0) die(c, "resolve", s.target.c_str(), -dir);
  for (const auto& [link, to] : cg.links)
    if (::symlinkat(to.c_str(), dir, link.c_str()) != 0 && errno != EEXIST)
      die(c, "link cgroup hierarchy", link.c_str());
  if (cg.readonly) set_attrs(c, dir, MOUNT_ATTR_RDONLY, false, s.target.c_str());
  ::close(dir);
}

void run_step(Child& c, const ChildStep& s) {
  switch (s.kind) {
    case StepKind::kMountFs: {
      int t = target_or_die(c, s, false);
      mount_fs(c, s.source.c_str(), &s.options, s.attrs, t, s.target.c_str(), s.fs_source.c_str(),
               s.propagation);
      ::close(t);
      return;
    }
    case StepKind::kDevice:
      make_device(c, s);
      return;
    case StepKind::kCgroupFs:
      mount_cgroups(c, s);
      return;
    case StepKind::kBindHost: {
      // The host path is resolved in this process's (copied) mount namespace before the pivot.
      int t = target_or_die(c, s, s.target_is_file);
      bind_clone(c, AT_FDCWD, s.source.c_str(), t, s.attrs, s.recursive, s.target.c_str());
      ::close(t);
      return;
    }
    case StepKind::kBindPrepared: {
      if (s.index < 0 || s.index + 1 >= c.nrecvd)
        die(c, "no prepared mount for", s.target.c_str(), EINVAL);
      int src = c.recvd[s.index + 1];
      struct stat st;
      if (::fstat(src, &st) != 0) die(c, "stat bind source for", s.target.c_str());
      int t = target_or_die(c, s, !S_ISDIR(st.st_mode));
      if (attach(src, t) != 0) die(c, "attach bind mount at", s.target.c_str());
      int m = src;
      // mountinfo lists mounts by id (Linux 6.8+), and the prepared mount's id is older than
      // those of the mounts made here before it: replaced by a copy made now (attributes and
      // idmap included), the table shows the spec's order, as with runc and crun. A kernel
      // that cannot copy it keeps the prepared one.
      int fresh =
          ::open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
      if (fresh >= 0) {
        char self[40];  // the attached prepared mount, through the host's /proc (still ours)
        std::snprintf(self, sizeof self, "/proc/self/fd/%d", src);
        if (::umount2(self, MNT_DETACH) == 0) {
          // The prepared mount is gone: the copy must go in.
          if (attach(fresh, t) != 0) die(c, "attach the copy of bind mount at", s.target.c_str());
          m = fresh;
        }
      }
      set_propagation(c, m, s.propagation, s.target.c_str());
      if (fresh >= 0) ::close(fresh);
      ::close(t);
      return;
    }
    case StepKind::kMask: {
      int t = open_in_root(c.root, s.target.c_str(), true);
      if (t == -ENOENT) return;
      if (t < 0) die(c, "resolve masked path", s.target.c_str(), -t);
      struct stat st;
      if (::fstat(t, &st) != 0) die(c, "stat masked path", s.target.c_str());
      if (S_ISDIR(st.st_mode)) {
        mount_fs(c, "tmpfs", nullptr,
                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, t,
                 s.target.c_str());
      } else {
        bind_clone(c, AT_FDCWD, s.source.c_str(), t, 0, false, s.target.c_str());
      }
      ::close(t);
      return;
    }
    case StepKind::kReadonly: {
      int t = open_in_root(c.root, s.target.c_str(), true);
      if (t == -ENOENT) return;
      if (t < 0) die(c, "resolve read-only path", s.target.c_str(), -t);
      bind_clone(c, t, "", t,
                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, true,
                 s.target.c_str());
      ::close(t);
      return;
    }
    case StepKind::kSymlink: {
      const char* name = nullptr;
      int d = parent_dir(c, s.target.c_str(), &name);
      if (::symlinkat(s.source.c_str(), d, name) != 0 && errno != EEXIST)
        die(c, "symlink", s.target.c_str());
      ::close(d);
      return;
    }
  }
}

void receive_go(Child& c) {
  ChildMessage m;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  struct iovec iov = {&m, sizeof m};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(c.sync, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) ::_exit(1);  // the runtime gave up: nothing to report to
  if (m.kind != ChildMessage::kGo) die(c, "unexpected message from the runtime", nullptr, EPROTO);
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int count = static_cast<int>((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count && c.nrecvd < kMaxFds; ++i)
      std::memcpy(&c.recvd[c.nrecvd++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
  }
  if (msg.msg_flags & MSG_CTRUNC) die(c, "too many mount fds", nullptr, EMSGSIZE);
  if (c.nrecvd < 1 || static_cast<std::uint32_t>(c.nrecvd) != m.nfds)
    die(c, "the runtime sent the wrong number of mounts", nullptr, EPROTO);
}

void write_sysctl(const Child& c, const char* path, const std::string& value) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(c, "open sysctl", path);
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    die(c, "write sysctl", path);
  ::close(fd);
}

void reset_signals() {
  // Handlers of the runtime's process must never run here, and the task starts with the
  // default dispositions and an empty mask (a blocked SIGTERM would make stop() wait out the
  // grace period).
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &sa, nullptr);  // fails harmlessly for the reserved RT signals
  }
  sigset_t none;
  sigemptyset(&none);
  // The raw call: glibc's wrapper treats this copy as the multi-threaded process it came from.
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, _NSIG / 8);
}

void loopback_up(const Child& c) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die(c, "socket for loopback");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die(c, "read flags of lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die(c, "bring lo up");
  ::close(s);
}

void drop_privileges(const Child& c) {
  const ChildPlan& p = c.plan.child;
  for (int cap = 0; cap <= p.cap_last_cap && cap < 64; ++cap)
    if (!(p.caps.bounding & (1ull << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
        errno != EINVAL)
      die(c, "drop capability from the bounding set");
  static_assert(sizeof(gid_t) == sizeof(std::uint32_t));
  if (sys_setgroups(p.groups.size(), reinterpret_cast<const gid_t*>(p.groups.data())) != 0)
    die(c, "setgroups");
  if (sys_setresgid(p.gid) != 0) die(c, "setresgid");
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die(c, "prctl(PR_SET_KEEPCAPS)");
  if (sys_setresuid(p.uid) != 0) die(c, "setresuid");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<std::uint32_t>(p.caps.effective >> (32 * i));
    data[i].permitted = static_cast<std::uint32_t>(p.caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<std::uint32_t>(p.caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) die(c, "capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    die(c, "clear ambient capabilities");
  for (int cap = 0; cap < 64; ++cap)
    if ((p.caps.ambient & (1ull << cap)) &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      die(c, "raise ambient capability");
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  // A credential change clears these; set them again.
  if (c.a.kill_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

[[noreturn]] void exec_failed(int fd, const char* what, const char* target, int err) {
  ChildMessage m;
  m.kind = ChildMessage::kError;
  m.err = err;
  Text t(m.text, sizeof m.text);
  t.add(what);
  if (target) t.add(" ").add(target);
  ssize_t ignored = ::write(fd, &m, sizeof m);  // < PIPE_BUF: atomic
  (void)ignored;
  ::_exit(127);
}

// execvpe without allocation: PATH from the task's environment, not the runtime's.
[[noreturn]] void exec_task(const ChildArgs& a) {
  const char* file = a.argv[0];
  int err = ENOENT;
  if (std::strchr(file, '/')) {
    ::execve(file, const_cast<char* const*>(a.argv), const_cast<char* const*>(a.envp));
    err = errno;
  } else {
    const char* path = a.plan->child.path.c_str();
    bool eacces = false;
    char buf[4096];
    std::size_t flen = std::strlen(file);
    for (const char* p = path;;) {
      const char* colon = std::strchr(p, ':');
      std::size_t dlen = colon ? static_cast<std::size_t>(colon - p) : std::strlen(p);
      if (dlen + flen + 2 < sizeof buf) {
        std::memcpy(buf, p, dlen);  // NOLINT(bugprone-not-null-terminated-result): the file
        std::size_t k = dlen;       // name's copy below brings the NUL
        if (k == 0) buf[k++] = '.';
        buf[k++] = '/';
        std::memcpy(buf + k, file, flen + 1);
        ::execve(buf, const_cast<char* const*>(a.argv), const_cast<char* const*>(a.envp));
        if (errno == EACCES)
          eacces = true;
        else if (errno != ENOENT && errno != ENOTDIR) {
          err = errno;
          break;
        }
      }
      if (!colon) {
        err = eacces ? EACCES : ENOENT;
        break;
      }
      p = colon + 1;
    }
  }
  exec_failed(a.fds.execerr_w, "exec", file, err);
}

}  // namespace

[[noreturn]] void child_main(const ChildArgs& a) {
  Child c{a, *a.plan};
  const LaunchFds& f = a.fds;
  c.sync = f.sync_child;
  reset_signals();
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (a.kill_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Ends that belong to the runtime or the shim: holding them would hide an EOF they wait for.
  for (int fd : {f.report_w, f.ctl_listen, f.out_r, f.err_r, f.start_w, f.execerr_r, f.pidfd_slot,
                 f.console_r, f.stdin_w})
    if (fd >= 0) ::close(fd);
  for (int i = 0; i < f.n_shim_procs; ++i) ::close(f.shim_procs[i]);
  for (int i = 0; i < f.n_sandbox_procs; ++i) ::close(f.sandbox_procs[i]);
  // Opened while this process still has the host root's uid (it owns the state dirs), in its
  // own mount namespace.
  int sandbox_dir = ::open(f.sandbox_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (sandbox_dir < 0) die(c, "open the sandbox dir", f.sandbox_dir);

  // The runtime writes our uid/gid maps, then sends the root mount and the bind sources.
  receive_go(c);
  if (sys_setgroups(0, nullptr) != 0) die(c, "setgroups");
  if (sys_setresgid(0) != 0) die(c, "become root in the user namespace (setresgid)");
  if (sys_setresuid(0) != 0) die(c, "become root in the user namespace (setresuid)");
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::umask(022);

  const ChildPlan& p = c.plan.child;
  // Nothing mounted from here on may propagate to the host. Without a mount namespace of its
  // own the sandbox is set up in the runtime's, whose propagation is not ours to change.
  if (!p.chroot && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    die(c, "make mounts private");
  if (::move_mount(c.recvd[0], "", sandbox_dir, "rootfs", MOVE_MOUNT_F_EMPTY_PATH) != 0)
    die(c, "attach the root file system");
  ::close(c.recvd[0]);
  c.root = ::openat(sandbox_dir, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (c.root < 0) die(c, "open the root file system");
  ::close(sandbox_dir);

  for (const ChildStep& s : c.plan.child.steps) run_step(c, s);
  for (int i = 1; i < c.nrecvd; ++i) ::close(c.recvd[i]);

  if (!p.hostname.empty() && ::sethostname(p.hostname.data(), p.hostname.size()) != 0)
    die(c, "sethostname");
  if (p.loopback_up) loopback_up(c);
  // Through the host's /proc, still in view: its /proc/sys shows this process's namespaces.
  for (const auto& [path, value] : p.sysctls) write_sysctl(c, path.c_str(), value);

  if (::fchdir(c.root) != 0) die(c, "chdir to the root file system");
  if (p.chroot) {
    if (::chroot(".") != 0) die(c, "chroot");
  } else {
    if (::syscall(SYS_pivot_root, ".", ".") != 0) die(c, "pivot_root");
    if (::umount2(".", MNT_DETACH) != 0) die(c, "detach the old root");
  }
  if (::chdir("/") != 0) die(c, "chdir /");
  ::close(c.root);
  if (!p.chroot && p.root_propagation != (MS_PRIVATE | MS_REC)) {
    // pivot_root needs a private root; what the spec asks for is set once inside.
    struct mount_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.propagation = p.root_propagation & ~static_cast<unsigned long>(MS_REC);
    unsigned flags = (p.root_propagation & MS_REC) ? AT_RECURSIVE : 0u;
    if (::mount_setattr(AT_FDCWD, "/", flags, &attr, sizeof attr) != 0)
      die(c, "set the root's propagation");
  }
  if (p.readonly_rootfs) {
    struct mount_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0)
      die(c, "make the root file system read-only");
  }

  for (const Rlimit& r : p.rlimits) {
    struct rlimit rl = {r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource_t>(r.resource), &rl) != 0) die(c, "setrlimit");
  }

  int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die(c, "open /");
  int cwd = make_target(root, p.cwd.c_str(), false, false);
  if (cwd < 0) die(c, "resolve the working directory", p.cwd.c_str(), -cwd);
  struct statfs sfs;
  if (::fstatfs(cwd, &sfs) != 0) die(c, "statfs the working directory", p.cwd.c_str());
  if (sfs.f_type == PROC_SUPER_MAGIC)  // a cwd on procfs is a path to a host fd
    die(c, "working directory is on procfs; refused:", p.cwd.c_str(), EPERM);
  if (::fchdir(cwd) != 0) die(c, "chdir", p.cwd.c_str());
  ::close(cwd);
  ::close(root);

  for (int i = 0; i < 3; ++i) {
    if (f.stdio[i] == i) {
      ::fcntl(i, F_SETFD, 0);
    } else if (::dup2(f.stdio[i], i) != i) {
      die(c, "set up stdio");
    }
  }
  // Only 0, 1, 2 survive the exec (every other fd is close-on-exec from here on).
  if (::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0) die(c, "close_range");
  // Without no_new_privs the kernel takes a filter only from a holder of CAP_SYS_ADMIN: load it
  // before the capabilities go (runc does the same); the filter must then allow the rest of
  // the set-up (setresuid, capset, prctl, sendto, read, close, execve), as Docker-style
  // profiles do.
  if (!p.no_new_privs && a.seccomp) {
    int rc = seccomp::load(*a.seccomp);
    if (rc != 0) die(c, "load the seccomp filter (before dropping privileges)", nullptr, -rc);
  }
  drop_privileges(c);
  if (f.console_w >= 0) {
    // With the task's credentials, in its own devpts: the slave belongs to the task's user.
    int master = -1, slave = -1;
    int rc = open_pty(&master, &slave, a.console_rows, a.console_cols);
    if (rc != 0) die(c, "open a terminal (/dev/ptmx)", nullptr, -rc);
    rc = send_fd(f.console_w, master);
    if (rc != 0) die(c, "send the terminal to the shim", nullptr, -rc);
    ::close(master);
    ::close(f.console_w);
    rc = take_terminal(slave);
    if (rc != 0) die(c, "make the terminal the controlling one", nullptr, -rc);
  }

  send_message(c.sync, ChildMessage::kReady, 0, "", nullptr);
  ::close(c.sync);
  c.sync = -1;

  char go = 0;
  ssize_t n;
  do {
    n = ::read(f.start_r, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(0);  // the shim went away (deleted before start): never run the task
  ::close(f.start_r);

  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    exec_failed(f.execerr_w, "prctl(PR_SET_NO_NEW_PRIVS)", nullptr, errno);
  // Last before execve, so the filter need not allow anything the set-up uses.
  if (a.seccomp && p.no_new_privs) {
    int rc = seccomp::load(*a.seccomp);
    if (rc != 0) exec_failed(f.execerr_w, "load the seccomp filter", nullptr, -rc);
  }
  exec_task(a);
}

}  // namespace svc::isolation
