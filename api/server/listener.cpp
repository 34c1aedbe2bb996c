#include "api/server/listener.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace svc::api {

namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Is something answering on this unix socket path?
bool socket_is_live(const std::filesystem::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

Result<UniqueFd> bind_unix(const std::filesystem::path& path, const std::string& group) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(Code::kFailedPrecondition,
                  "{} exists and is not a socket: move it away (svcd will not delete it)",
                  path.string());
    if (socket_is_live(path))
      return fail(Code::kAlreadyExists,
                  "another svcd is already listening on {}: stop it, or give this one another "
                  "--run-dir",
                  path.string());
    ::unlink(path.c_str());  // stale socket from a svcd that did not stop cleanly
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path)
    return fail(Code::kInvalidArgument, "socket path {} is too long", path.string());
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  // Bind with a umask that already excludes "other", so there is no window in which the socket
  // is world-connectable before the chmod below.
  mode_t old = ::umask(0117);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::umask(old);
  if (rc != 0) return fail_errno(err, fmt::format("bind {}", path.string()));
  if (::chmod(path.c_str(), 0660) != 0) return fail_errno(fmt::format("chmod {}", path.string()));
  if (struct group* g = ::getgrnam(group.c_str())) {
    if (::chown(path.c_str(), 0, g->gr_gid) != 0)
      spdlog::warn("api: chown {} to group {}: {}", path.string(), group, std::strerror(errno));
  }
  if (::listen(fd.get(), 512) != 0) return fail_errno(fmt::format("listen {}", path.string()));
  return fd;
}

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  return false;
}

// Until svcd speaks TLS, the TCP API stays on this machine: a bearer token sent in clear text
// over a network is a token given away.
Result<> require_loopback(const Address& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(a.port);
  if (int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(Code::kInvalidArgument, "resolve {}: {}", a.host, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (is_loopback(ai->ai_addr)) continue;
    return fail(Code::kInvalidArgument,
                "{} is not a loopback address, and this svcd has no TLS yet: a token and every "
                "call would cross the network in clear text. Listen on 127.0.0.1:{} (or [::1]) "
                "and reach it from elsewhere through an SSH tunnel (ssh -L {}:127.0.0.1:{} "
                "NODE)",
                a.str(), a.port, a.port, a.port);
  }
  return {};
}

Result<UniqueFd> bind_tcp(const Address& a, std::uint16_t* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(a.port);
  if (int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(Code::kInvalidArgument, "resolve {}: {}", a.host, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket(TCP)");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0)
    return fail_errno(fmt::format("bind {}", a.str()));
  if (::listen(fd.get(), 512) != 0) return fail_errno(fmt::format("listen {}", a.str()));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

// Peeks at the first bytes: true for the HTTP/2 client preface (gRPC), false for anything else.
// Waits at most a few seconds for a client that connects and says nothing.
Result<bool> sniff_http2(int fd) {
  char buf[kHttp2Preface.size()];
  for (int waited = 0; waited < 10'000;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return fail(Code::kCancelled, "closed before a request");
    if (n > 0) {
      std::string_view got(buf, static_cast<std::size_t>(n));
      if (!kHttp2Preface.starts_with(got)) return false;
      if (got.size() == kHttp2Preface.size()) return true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return fail_errno("recv");
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 50);
    waited += 50;
  }
  return fail(Code::kDeadlineExceeded, "no request within 10 s");
}

}  // namespace

ApiServer::ApiServer(const Dispatcher& dispatcher, Authenticator authenticator, MetricsFn metrics)
    : dispatcher_(dispatcher),
      grpc_(dispatcher, authenticator),
      rest_(dispatcher, authenticator, std::move(metrics)) {}

ApiServer::~ApiServer() { stop(std::chrono::milliseconds(0)); }

Result<> ApiServer::start(const Options& options) {
  if (options.tcp) SVC_TRY_CTX(require_loopback(*options.tcp), "api.tcp");
  max_connections_[1] = options.max_unix_connections;
  max_connections_[0] = options.max_tcp_connections;
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) return fail_errno("eventfd");
  unix_fd_ = SVC_TRY(bind_unix(options.unix_socket, options.socket_group));
  socket_path_ = options.unix_socket;
  if (options.tcp) {
    std::uint16_t port = 0;
    auto tcp = bind_tcp(*options.tcp, &port);
    if (!tcp) {
      ::unlink(socket_path_.c_str());
      return tl::unexpected(std::move(tcp).error().context("api.tcp"));
    }
    tcp_fd_ = std::move(*tcp);
    tcp_port_ = port;
  }
  SVC_TRY(grpc_.start(options.calls));
  started_ = true;
  acceptors_.emplace_back([this] { accept_loop(unix_fd_.get(), true); });
  if (tcp_fd_) acceptors_.emplace_back([this] { accept_loop(tcp_fd_.get(), false); });
  return {};
}

void ApiServer::accept_loop(int listen_fd, bool trusted) {
  while (!stopping_.load()) {
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("api: poll: {}", std::strerror(errno));
      return;
    }
    if (stopping_.load() || (p[1].revents & POLLIN)) return;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        spdlog::warn("api: accept: {}; refusing connections for 100 ms", std::strerror(errno));
        ::usleep(100'000);
      }
      continue;
    }
    std::lock_guard lock(mu_);
    reap_locked();
    if (open_connections_locked(trusted) >= max_connections_[trusted]) {
      // Full: close it now rather than let it wait unanswered in the backlog.
      ::close(fd);
      auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log_ > std::chrono::seconds(10)) {
        last_refusal_log_ = now;
        spdlog::warn("api: {} connections open on the {} listener (its limit): refusing more",
                     max_connections_[trusted], trusted ? "unix" : "tcp");
      }
      continue;
    }
    connections_.emplace_back();
    Connection* conn = &connections_.back();
    conn->fd = fd;
    conn->trusted = trusted;
    conn->thread = std::thread([this, conn, trusted] { handle(conn, trusted); });
  }
}

std::size_t ApiServer::open_connections_locked(bool trusted) {
  std::size_t n = 0;
  for (const auto& c : connections_)
    if (c.trusted == trusted && !c.done.load()) ++n;
  std::erase_if(handed_, [](const Handed& h) {
    struct stat st {};
    return ::fstat(h.fd, &st) != 0 || st.st_dev != h.dev || st.st_ino != h.ino;
  });
  for (const auto& h : handed_)
    if (h.trusted == trusted) ++n;
  return n;
}

void ApiServer::handle(Connection* conn, bool trusted) {
  int fd = conn->fd;
  auto is_h2 = sniff_http2(fd);
  if (is_h2 && *is_h2) {
    {
      std::lock_guard lock(mu_);
      conn->fd = -1;  // gRPC owns the fd from here; stop() must not touch the number
      struct stat st {};
      if (::fstat(fd, &st) == 0)
        handed_.push_back({fd, trusted, static_cast<std::uint64_t>(st.st_dev),
                           static_cast<std::uint64_t>(st.st_ino)});
    }
    grpc_.adopt(fd, trusted);
  } else if (is_h2) {
    rest_.serve(fd, trusted, stopping_);
  }
  std::lock_guard lock(mu_);
  // Closed under the lock, so stop() never shuts down a number the kernel reused.
  if (conn->fd >= 0) ::close(conn->fd);
  conn->fd = -1;
  conn->done = true;
}

void ApiServer::reap_locked() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done.load()) {
      if (it->thread.joinable()) it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void ApiServer::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
  (void)ignored;
  for (auto& t : acceptors_)
    if (t.joinable()) t.join();
  unix_fd_.reset();
  tcp_fd_.reset();
  ::unlink(socket_path_.c_str());
  {
    // Wake every REST connection blocked in read or write.
    std::lock_guard lock(mu_);
    for (auto& c : connections_)
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
  }
  grpc_.shutdown(grace);
  std::list<Connection> rest;
  {
    std::lock_guard lock(mu_);
    rest.splice(rest.begin(), connections_);
  }
  for (auto& c : rest)
    if (c.thread.joinable()) c.thread.join();
}

}  // namespace svc::api
