#include "tests/support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace svc::test {

namespace {

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads until the end of the header block; leftover body bytes stay in `extra`.
bool read_head(int fd, std::string& head, std::string& extra) {
  char buf[8192];
  std::string data;
  for (;;) {
    auto end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      head = data.substr(0, end + 4);
      extra = data.substr(end + 4);
      return true;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > 1 << 20) return false;
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string header_value(const std::string& head, const std::string& name) {
  std::string l = lower(head);
  auto p = l.find("\r\n" + name + ":");
  if (p == std::string::npos) return "";
  p += name.size() + 3;
  auto e = head.find("\r\n", p);
  std::string v = head.substr(p, e - p);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

int connect_local(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port, std::size_t blob_threshold)
    : upstream_port_(upstream_port), threshold_(blob_threshold) {}

FaultProxy::~FaultProxy() { stop(); }

void FaultProxy::start() {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fault proxy: bind/listen failed");
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

void FaultProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(stop_pipe_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int& fd : stop_pipe_)
    if (fd >= 0) ::close(fd);
  listen_fd_ = -1;
}

bool FaultProxy::wait_stop(int ms) {
  pollfd p{stop_pipe_[0], POLLIN, 0};
  return ::poll(&p, 1, ms) > 0 || stopping_;
}

void FaultProxy::accept_loop() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, c] {
      handle(c);
      ::close(c);
    });
  }
}

void FaultProxy::handle(int client) {
  std::string head, extra;
  if (!read_head(client, head, extra)) return;
  std::string line = head.substr(0, head.find("\r\n"));
  bool blob = line.starts_with("GET ") && line.find("/blobs/sha256:") != std::string::npos;
  if (blob) {
    ++blob_requests_;
    if (!header_value(head, "range").empty()) ++range_requests_;
  }
  Mode mode = mode_;
  if (blob && mode == Mode::k503Once && !fault_used_.exchange(true)) {
    ++faults_;
    std::string r =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(client, r.data(), r.size());
    return;
  }
  if (blob && mode == Mode::kRedirectBlob) {
    ++faults_;
    std::string path = line.substr(4, line.rfind(' ') - 4);
    std::string r = "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:" +
                    std::to_string(upstream_port_) + path +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(client, r.data(), r.size());
    return;
  }
  int up = connect_local(upstream_port_);
  if (up < 0) return;
  // One request per upstream connection, so the body ends when the registry closes.
  std::string fwd;
  std::size_t pos = 0;
  while (pos < head.size()) {
    auto e = head.find("\r\n", pos);
    std::string h = head.substr(pos, e - pos);
    pos = e + 2;
    if (h.empty()) break;
    if (lower(h).starts_with("connection:")) continue;
    fwd += h + "\r\n";
  }
  fwd += "Connection: close\r\n\r\n" + extra;
  send_all(up, fwd.data(), fwd.size());
  std::string rhead, rextra;
  if (!read_head(up, rhead, rextra)) {
    ::close(up);
    return;
  }
  std::size_t length = std::strtoull(header_value(rhead, "content-length").c_str(), nullptr, 10);
  bool faulty = blob && length >= threshold_ && rhead.starts_with("HTTP/1.1 20");
  if (faulty && mode == Mode::kHangBlob) {
    ++faults_;
    while (!wait_stop(100)) {
    }
    ::close(up);
    return;
  }
  bool corrupt = faulty && mode == Mode::kCorruptBlob;
  bool cut = faulty && mode == Mode::kCutBlobOnce && !fault_used_.exchange(true);
  if (corrupt || cut) ++faults_;
  send_all(client, rhead.data(), rhead.size());
  std::size_t sent = 0;
  std::size_t corrupt_at = length / 2, cut_at = length / 2;
  auto relay = [&](std::string chunk) {
    if (corrupt && sent <= corrupt_at && corrupt_at < sent + chunk.size())
      chunk[corrupt_at - sent] = static_cast<char>(chunk[corrupt_at - sent] ^ 0x5a);
    if (cut && sent + chunk.size() > cut_at) {
      chunk.resize(cut_at - sent);
      send_all(client, chunk.data(), chunk.size());
      sent += chunk.size();
      return false;
    }
    bool ok = send_all(client, chunk.data(), chunk.size());
    sent += chunk.size();
    return ok;
  };
  bool go = rextra.empty() || relay(rextra);
  char buf[65536];
  while (go) {
    ssize_t n = ::recv(up, buf, sizeof buf, 0);
    if (n <= 0) break;
    go = relay(std::string(buf, static_cast<std::size_t>(n)));
  }
  ::close(up);
}

}  // namespace svc::test
