#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace svc::test {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return "";
}

std::size_t HttpResponse::count(std::string_view name) const {
  std::size_t c = 0;
  for (auto& [n, v] : headers)
    if (iequals(n, name)) ++c;
  return c;
}

HttpConnection::HttpConnection(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = std::strerror(errno);
    return;
  }
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return;
  }
  fd_ = fd;
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool HttpConnection::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  char tmp[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      error_ = "eof";
      return false;
    }
    if (n < 0) {
      error_ =
          (errno == EAGAIN || errno == EWOULDBLOCK) ? "timeout" : std::string(std::strerror(errno));
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
}

bool HttpConnection::read_line(std::string& line) {
  for (;;) {
    auto nl = buf_.find("\r\n", pos_);
    if (nl != std::string::npos) {
      line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 2;
      return true;
    }
    if (!fill()) return false;
  }
}

bool HttpConnection::read_exact(std::size_t n, std::string& out) {
  while (buf_.size() - pos_ < n)
    if (!fill()) return false;
  out.append(buf_, pos_, n);
  pos_ += n;
  return true;
}

std::optional<HttpResponse> HttpConnection::read_head() {
  HttpResponse r;
  std::string line;
  if (!read_line(line)) return std::nullopt;
  auto sp1 = line.find(' ');
  if (sp1 == std::string::npos) {
    error_ = "bad status line: " + line;
    return std::nullopt;
  }
  r.version = line.substr(0, sp1);
  auto code = line.substr(sp1 + 1, 3);
  std::from_chars(code.data(), code.data() + code.size(), r.status);
  if (line.size() > sp1 + 5) r.reason = line.substr(sp1 + 5);
  for (;;) {
    if (!read_line(line)) return std::nullopt;
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      error_ = "bad header line: " + line;
      return std::nullopt;
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  r.chunked = r.header("Transfer-Encoding").find("chunked") != std::string::npos;
  return r;
}

std::optional<HttpResponse> HttpConnection::read_response(bool head_only) {
  auto r = read_head();
  if (!r) return r;
  if (head_only || r->status < 200 || r->status == 204 || r->status == 304) return r;
  if (r->chunked) {
    for (;;) {
      std::string line;
      if (!read_line(line)) return std::nullopt;
      std::size_t size = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (ec != std::errc()) {
        error_ = "bad chunk size: " + line;
        return std::nullopt;
      }
      if (size == 0) {
        for (;;) {
          if (!read_line(line)) return std::nullopt;
          if (line.empty()) break;
        }
        break;
      }
      if (!read_exact(size, r->body)) return std::nullopt;
      std::string crlf;
      if (!read_exact(2, crlf) || crlf != "\r\n") {
        error_ = "chunk not followed by CRLF";
        return std::nullopt;
      }
    }
    return r;
  }
  auto cl = r->header("Content-Length");
  if (!cl.empty()) {
    std::size_t n = 0;
    std::from_chars(cl.data(), cl.data() + cl.size(), n);
    if (!read_exact(n, r->body)) return std::nullopt;
    return r;
  }
  r->body = read_to_eof();
  return r;
}

std::string HttpConnection::read_some(std::size_t max) {
  if (pos_ == buf_.size() && !fill()) return "";
  std::size_t n = std::min(max, buf_.size() - pos_);
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

bool HttpConnection::closed_by_peer() {
  if (pos_ < buf_.size()) return false;
  char c;
  for (;;) {
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET || errno == EPIPE;
    buf_.push_back(c);
    return false;
  }
}

std::string HttpConnection::read_to_eof() {
  while (fill()) {
  }
  std::string out = buf_.substr(pos_);
  pos_ = buf_.size();
  return out;
}

void HttpConnection::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

std::string request_bytes(std::string_view method, std::string_view host, std::string_view path,
                          std::string_view body, std::string_view extra_headers) {
  std::string out;
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  out.append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT")
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
  return out;
}

std::optional<HttpResponse> http_request(int port, std::string_view method, std::string_view host,
                                         std::string_view path, std::string_view body,
                                         std::string_view extra_headers) {
  HttpConnection c(port);
  if (!c.connected()) return std::nullopt;
  if (!c.send(request_bytes(method, host, path, body, extra_headers))) return std::nullopt;
  return c.read_response(method == "HEAD");
}

bool wait_for_line(const std::string& path, std::string_view needle,
                   std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace svc::test
