// svc-test-httpd: the tests' own HTTP/1.1 server, run as a service's instance (inside a
// busybox-based image, so it is linked statically) or on the host as an upstream of the ingress
// proxy's integration tests and benchmarks.
//
//   svc-test-httpd [--host 127.0.0.1] [--port 8080] [--delay-ms N] [--healthz-fail] [--id NAME]
//                  [--log-requests] [--drop-after N] [--die-with-parent] [--spin]
//   --spin burns one CPU in a background thread all its life (billing's e2e tests measure the
//   CPU idle throttle of request mode with it).
//   $PORT, $HOST, $STARTUP_DELAY_MS and $INSTANCE_ID stand in for the flags (flags win).
//   --log-requests prints "request METHOD TARGET" as each request head is read (tests wait for
//   it to know a request is in progress).
//
// Routes (any method; the request body is read and dropped unless the route uses it):
//   /                 "hello from <id or hostname> (pid N, port P)"
//   /bytes?n=1024     n bytes: byte i is 'a' + i % 26 (&chunked=1: chunked, not Content-Length)
//   /sleep?ms=N       answers after N ms
//   /echo             streams the request body back, chunked, as it arrives
//   /status?code=N    answers with status N
//   /crash            exits in the middle of the response head (&after=body: mid-body)
//   /healthz          200, or 503 while failing (?fail=1 starts failing, ?fail=0 stops)
//   /headers          the request line and headers as received, one per line
//   /conn             "conn N": which connection (numbered from 1 in accept order) carried it
//
// Prints "listening on HOST:PORT" once it accepts (tests wait for that line; --port 0 picks a
// free port). SIGTERM/SIGINT: stop accepting, let requests in progress finish (at most 10 s),
// exit 0 — what a well-behaved app does when svc drains it.
//
// Threads: the main thread accepts; one detached thread per connection (blocking I/O, small
// stacks, so hundreds of connections cost little); one thread waits for the stop signals.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kIoChunk = 64 * 1024;

std::atomic<bool> g_healthz_fail{false};
std::atomic<int> g_active{0};  // requests being served now (for the SIGTERM drain)
std::atomic<bool> g_stopping{false};
std::atomic<long> g_connections{0};
bool g_log_requests = false;
long long g_drop_after = 0;  // 0: never
std::string g_name;          // --id, or the hostname
int g_port = 0;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    auto eq = item.find('=');
    if (item.substr(0, eq) == key) return eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

long long to_number(std::string_view s, long long fallback) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return (ec == std::errc() && p == s.data() + s.size()) ? v : fallback;
}

bool write_all(int fd, const char* data, std::size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}
bool write_all(int fd, std::string_view s) { return write_all(fd, s.data(), s.size()); }

struct Request {
  std::string method, target, path, query, version;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = true;
  bool chunked = false;
  long long content_length = 0;
  bool expect_continue = false;

  std::string_view header(std::string_view name) const {
    for (auto& [n, v] : headers)
      if (iequals(n, name)) return v;
    return {};
  }
};

// One client connection: a read buffer and the request it is on. Owned by its thread.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd), number_(++g_connections), buf_(kIoChunk * 2) {}
  ~Connection() { ::close(fd_); }

  void serve() {
    for (long long served = 0;; ++served) {
      Request req;
      if (!read_head(req)) return;
      if (g_drop_after > 0 && served == g_drop_after) {
        if (g_log_requests) {
          std::printf("dropped %s %s\n", req.method.c_str(), req.target.c_str());
          std::fflush(stdout);
        }
        return;
      }
      g_active.fetch_add(1);
      bool again = handle(req);
      g_active.fetch_sub(1);
      if (!again || !req.keep_alive || g_stopping.load()) return;
    }
  }

 private:
  // More bytes into the buffer; false on EOF or error.
  bool fill() {
    if (start_ > 0 && start_ == end_) start_ = end_ = 0;
    if (end_ == buf_.size()) {
      if (start_ == 0) return false;  // full: the caller's limit
      std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    for (;;) {
      ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      end_ += static_cast<std::size_t>(n);
      return true;
    }
  }

  bool read_line(std::string& line) {
    for (;;) {
      std::string_view avail(buf_.data() + start_, end_ - start_);
      auto nl = avail.find("\r\n");
      if (nl != std::string_view::npos) {
        line.assign(avail.substr(0, nl));
        start_ += nl + 2;
        return true;
      }
      if (avail.size() > 1024 || !fill()) return false;
    }
  }

  bool read_head(Request& req) {
    std::size_t head_end = 0;
    for (;;) {
      std::string_view avail(buf_.data() + start_, end_ - start_);
      auto pos = avail.find("\r\n\r\n");
      if (pos != std::string_view::npos) {
        head_end = pos;
        break;
      }
      if (avail.size() > kMaxHead) {
        write_all(fd_,
                  "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n");
        return false;
      }
      if (!fill()) return false;
    }
    std::string_view head(buf_.data() + start_, head_end);
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return bad_request();
    req.method.assign(line.substr(0, sp1));
    req.target.assign(line.substr(sp1 + 1, sp2 - sp1 - 1));
    req.version.assign(line.substr(sp2 + 1));
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    std::string_view rest =
        line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
    while (!rest.empty()) {
      auto e = rest.find("\r\n");
      auto field = rest.substr(0, e);
      auto colon = field.find(':');
      if (colon == std::string_view::npos) return bad_request();
      auto value = field.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      req.headers.emplace_back(std::string(field.substr(0, colon)), std::string(value));
      if (e == std::string_view::npos) break;
      rest.remove_prefix(e + 2);
    }
    start_ += head_end + 4;
    if (g_log_requests) {
      std::printf("request %s %s\n", req.method.c_str(), req.target.c_str());
      std::fflush(stdout);
    }

    auto connection = req.header("Connection");
    if (req.version == "HTTP/1.0")
      req.keep_alive = contains_token(connection, "keep-alive");
    else
      req.keep_alive = !contains_token(connection, "close");
    req.chunked = contains_token(req.header("Transfer-Encoding"), "chunked");
    auto cl = req.header("Content-Length");
    if (!cl.empty()) {
      req.content_length = to_number(cl, -1);
      if (req.content_length < 0) return bad_request();
    }
    req.expect_continue = iequals(req.header("Expect"), "100-continue");
    body_left_ = req.chunked ? 0 : req.content_length;
    chunked_ = req.chunked;
    chunk_left_ = 0;
    body_done_ = !req.chunked && req.content_length == 0;
    return true;
  }

  bool bad_request() {
    write_all(fd_, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return false;
  }

  // Up to max bytes of the request body into out; 0 at its end, -1 on error.
  long read_body(char* out, std::size_t max) {
    if (body_done_) return 0;
    if (chunked_ && chunk_left_ == 0) {
      std::string line;
      if (!read_line(line)) return -1;
      unsigned long long size = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (ec != std::errc() || p == line.data()) return -1;
      if (size == 0) {
        for (;;) {  // trailers up to the empty line
          if (!read_line(line)) return -1;
          if (line.empty()) break;
        }
        body_done_ = true;
        return 0;
      }
      chunk_left_ = static_cast<long long>(size);
    }
    long long& left = chunked_ ? chunk_left_ : body_left_;
    if (start_ == end_ && !fill()) return -1;
    std::size_t n = std::min<std::size_t>({max, end_ - start_, static_cast<std::size_t>(left)});
    std::memcpy(out, buf_.data() + start_, n);
    start_ += n;
    left -= static_cast<long long>(n);
    if (chunked_ && left == 0) {
      std::string crlf;
      if (!read_line(crlf) || !crlf.empty()) return -1;
    } else if (!chunked_ && left == 0) {
      body_done_ = true;
    }
    return static_cast<long>(n);
  }

  bool send_continue(const Request& req) {
    if (!req.expect_continue || continue_sent_) return true;
    continue_sent_ = true;
    return write_all(fd_, "HTTP/1.1 100 Continue\r\n\r\n");
  }

  bool drain_body(const Request& req) {
    if (body_done_) return true;
    if (!send_continue(req)) return false;
    std::vector<char> sink(kIoChunk);
    for (;;) {
      long n = read_body(sink.data(), sink.size());
      if (n < 0) return false;
      if (n == 0) return true;
    }
  }

  bool respond(const Request& req, int status, std::string_view reason, std::string_view body,
               std::string_view extra = {}) {
    if (!drain_body(req)) return false;
    bool no_body = status == 204 || status == 304;  // RFC 9110 15.3.5, 15.4.5
    std::string out;
    out.reserve(160 + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason;
    out += "\r\nContent-Type: text/plain\r\n";
    if (!no_body) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!req.keep_alive) out += "Connection: close\r\n";
    out += extra;
    out += "\r\n";
    if (req.method != "HEAD" && !no_body) out += body;
    return write_all(fd_, out);
  }

  bool handle(Request& req) {
    continue_sent_ = false;
    const std::string& path = req.path;
    if (path == "/") {
      std::string body = "hello from " + g_name + " (pid " + std::to_string(::getpid()) +
                         ", port " + std::to_string(g_port) + ")\n";
      return respond(req, 200, "OK", body);
    }
    if (path == "/bytes") return bytes(req);
    if (path == "/sleep") {
      long long ms = to_number(query_param(req.query, "ms"), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return respond(req, 200, "OK", "slept " + std::to_string(ms) + " ms\n");
    }
    if (path == "/echo") return echo(req);
    if (path == "/status") {
      long long code = to_number(query_param(req.query, "code"), 200);
      if (code < 200 || code > 599) code = 400;
      return respond(req, static_cast<int>(code), "Status",
                     "status " + std::to_string(code) + "\n");
    }
    if (path == "/crash") {
      if (!drain_body(req)) return false;
      if (query_param(req.query, "after") == "body") {
        write_all(fd_, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial body");
      } else {
        write_all(fd_, "HTTP/1.1 200 OK\r\nContent-Len");
      }
      std::fflush(stdout);
      ::_exit(3);
    }
    if (path == "/healthz") {
      auto fail = query_param(req.query, "fail");
      if (fail == "1") g_healthz_fail = true;
      if (fail == "0") g_healthz_fail = false;
      if (!fail.empty()) return respond(req, 200, "OK", g_healthz_fail ? "failing\n" : "ok\n");
      if (g_healthz_fail) return respond(req, 503, "Service Unavailable", "unhealthy\n");
      return respond(req, 200, "OK", "ok\n");
    }
    if (path == "/conn") return respond(req, 200, "OK", "conn " + std::to_string(number_) + "\n");
    if (path == "/headers") {
      std::string body = req.method + " " + req.target + " " + req.version + "\n";
      for (auto& [n, v] : req.headers) body += n + ": " + v + "\n";
      return respond(req, 200, "OK", body);
    }
    return respond(req, 404, "Not Found", "no route " + path + "\n");
  }

  bool bytes(const Request& req) {
    if (!drain_body(req)) return false;
    long long n = std::max(0LL, to_number(query_param(req.query, "n"), 1024));
    bool chunked = query_param(req.query, "chunked") == "1";
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n";
    if (chunked)
      head += "Transfer-Encoding: chunked\r\n";
    else
      head += "Content-Length: " + std::to_string(n) + "\r\n";
    if (!req.keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    // A whole number of alphabets, so byte i of the body is always 'a' + i % 26.
    static const std::string pattern = [] {
      std::string p(26 * 2520, '\0');
      for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>('a' + i % 26);
      return p;
    }();
    if (req.method == "HEAD") return write_all(fd_, head);
    // Small bodies go out with the head in one write (what a real server's buffering does).
    if (!chunked && n <= 4096) return write_all(fd_, head + pattern.substr(0, n));
    if (!write_all(fd_, head)) return false;
    while (n > 0) {
      std::size_t k = std::min<std::size_t>(n, pattern.size());
      if (chunked) {
        char size_line[32];
        int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", k);
        if (!write_all(fd_, size_line, static_cast<std::size_t>(len))) return false;
      }
      if (!write_all(fd_, pattern.data(), k)) return false;
      if (chunked && !write_all(fd_, "\r\n")) return false;
      n -= static_cast<long long>(k);
    }
    return !chunked || write_all(fd_, "0\r\n\r\n");
  }

  bool echo(Request& req) {
    bool http10 = req.version == "HTTP/1.0";
    if (http10) req.keep_alive = false;  // no chunked for 1.0: the body ends with the connection
    if (!send_continue(req)) return false;
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n";
    head += http10 ? "Connection: close\r\n\r\n" : "Transfer-Encoding: chunked\r\n\r\n";
    if (!write_all(fd_, head)) return false;
    std::vector<char> piece(kIoChunk);
    for (;;) {
      long n = read_body(piece.data(), piece.size());
      if (n < 0) return false;
      if (n == 0) break;
      if (!http10) {
        char size_line[32];
        int len = std::snprintf(size_line, sizeof size_line, "%lx\r\n", n);
        if (!write_all(fd_, size_line, static_cast<std::size_t>(len))) return false;
      }
      if (!write_all(fd_, piece.data(), static_cast<std::size_t>(n))) return false;
      if (!http10 && !write_all(fd_, "\r\n")) return false;
    }
    return http10 || write_all(fd_, "0\r\n\r\n");
  }

  int fd_;
  long number_;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0;
  bool chunked_ = false, body_done_ = true, continue_sent_ = false;
  long long body_left_ = 0, chunk_left_ = 0;
};

void* connection_main(void* arg) {
  int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
  Connection(fd).serve();
  return nullptr;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "svc-test-httpd: %s\nusage: svc-test-httpd [--host ADDR] [--port N] [--delay-ms N] "
               "[--healthz-fail] [--id NAME] [--log-requests] [--drop-after N] "
               "[--die-with-parent] [--spin]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = std::getenv("HOST") ? std::getenv("HOST") : "127.0.0.1";
  long long port = std::getenv("PORT") ? to_number(std::getenv("PORT"), -1) : 8080;
  long long delay_ms =
      std::getenv("STARTUP_DELAY_MS") ? to_number(std::getenv("STARTUP_DELAY_MS"), -1) : 0;
  if (std::getenv("INSTANCE_ID")) g_name = std::getenv("INSTANCE_ID");
  bool die_with_parent = false;
  bool spin = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--host")
      host = value();
    else if (a == "--port")
      port = to_number(value(), -1);
    else if (a == "--delay-ms")
      delay_ms = to_number(value(), -1);
    else if (a == "--healthz-fail")
      g_healthz_fail = true;
    else if (a == "--id")
      g_name = value();
    else if (a == "--log-requests")
      g_log_requests = true;
    else if (a == "--drop-after")
      g_drop_after = to_number(value(), -1);
    else if (a == "--die-with-parent")
      die_with_parent = true;
    else if (a == "--spin")
      spin = true;
    else
      return usage(("unknown argument " + std::string(a)).c_str());
  }
  if (port < 0 || port > 65535) return usage("--port (or $PORT) must be 0..65535");
  if (delay_ms < 0) return usage("--delay-ms (or $STARTUP_DELAY_MS) must be a number of ms");
  if (g_drop_after < 0) return usage("--drop-after must be a number of requests");
  // The parent may have ended between fork and here: then getppid() is no longer it.
  if (die_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() == 1)) return 1;
  if (g_name.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    g_name = name;
  }

  // The stop signals go to one thread only; connection threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return usage(("--host must be an IPv4 address, not " + host).c_str());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 4096) != 0) {
    std::fprintf(stderr, "svc-test-httpd: listen on %s:%lld: %s\n", host.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  g_port = ntohs(addr.sin_port);
  if (spin) {
    std::thread([] {
      volatile unsigned long n = 0;
      while (!g_stopping.load(std::memory_order_relaxed)) n = n + 1;
    }).detach();
  }
  std::printf("listening on %s:%d\n", host.c_str(), g_port);
  std::fflush(stdout);

  std::thread([lfd, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    g_stopping = true;
    ::shutdown(lfd, SHUT_RDWR);  // wakes accept()
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (g_active.load() > 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::printf("stopped on signal %d\n", sig);
    std::fflush(stdout);
    ::_exit(0);
  }).detach();

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (g_stopping) pause();  // the signal thread exits the process
      std::fprintf(stderr, "svc-test-httpd: accept: %s\n", std::strerror(errno));
      return 1;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t thread;
    if (pthread_create(&thread, &attr, connection_main,
                       reinterpret_cast<void*>(static_cast<std::intptr_t>(fd))) != 0)
      ::close(fd);
  }
}
