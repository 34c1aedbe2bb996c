// svc-hello: the quickstart's demo service, the project's own small static HTTP/1.1 server,
// made into the image demo/hello by packaging/make-demo-image.sh (one file, no shell, no libc
// outside it: it is linked statically).
//
//   svc-hello [--port N]      (default: $PORT, which svc sets for a service's instance; else 8080)
//
// Every path answers 200 with one line: "$GREETING (instance HOST, request N)", GREETING being
// "hello from svc" unless the environment says otherwise; /healthz answers "ok". GET and HEAD
// only (405 otherwise). Keep-alive as HTTP/1.1 has it; a request body (Content-Length) is read
// and dropped; a chunked one is refused (411), since a demo has no use for one. One access-log
// line per request on stdout: what `svctl service logs` shows.
//
// One thread, poll(2) over non-blocking sockets, so an idle instance costs a few hundred KiB.
// SIGTERM or SIGINT (svc drains an instance with SIGTERM): stop accepting, finish the requests
// already read, close idle connections and exit 0 at once, so a scale-down or a rollout does
// not wait for the stop timeout.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;  // a larger request head gets 431
volatile sig_atomic_t g_stop = 0;

struct Connection {
  int fd = -1;
  std::string in;         // bytes read and not yet parsed
  std::string out;        // bytes to write
  std::size_t discard = 0;  // request body bytes still to drop
  bool close_after = false; // close once `out` is written
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_text(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string g_greeting = "hello from svc";
std::string g_host = "?";
unsigned long long g_requests = 0;

void respond(Connection& c, int status, std::string_view reason, std::string_view body, bool head) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Content-Type: text/plain; charset=utf-8\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (c.close_after) r += "Connection: close\r\n";
  r += "\r\n";
  if (!head) r += body;
  c.out += r;
}

// Parses and answers every complete request in c.in; one that ends the connection (an error,
// `Connection: close`, or svc-hello stopping) sets c.close_after, and nothing after it is read.
void serve(Connection& c) {
  while (!c.close_after) {
    if (c.discard > 0) {
      std::size_t n = std::min(c.discard, c.in.size());
      c.in.erase(0, n);
      c.discard -= n;
      if (c.discard > 0) return;
    }
    auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > kMaxHead) {
        c.close_after = true;
        respond(c, 431, "Request Header Fields Too Large", "request head too large\n", false);
      }
      return;
    }
    std::string_view head(c.in.data(), end);
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    std::string_view fields = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      c.close_after = true;
      respond(c, 400, "Bad Request", "malformed request line\n", false);
      return;
    }
    std::string method(line.substr(0, sp1));
    std::string target(line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::string_view version = line.substr(sp2 + 1);
    bool keep_alive = version == "HTTP/1.1";
    std::size_t length = 0;
    bool chunked = false, bad_length = false;
    while (!fields.empty()) {
      auto eol = fields.find("\r\n");
      std::string_view field = fields.substr(0, eol);
      fields = eol == std::string_view::npos ? "" : fields.substr(eol + 2);
      auto colon = field.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
      if (same_text(name, "content-length")) {
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        bad_length = ec != std::errc() || p != value.data() + value.size();
      } else if (same_text(name, "transfer-encoding")) {
        chunked = true;
      } else if (same_text(name, "connection")) {
        if (same_text(value, "close")) keep_alive = false;
        if (same_text(value, "keep-alive")) keep_alive = true;
      }
    }
    c.in.erase(0, end + 4);
    c.close_after = !keep_alive || g_stop;
    bool head_only = method == "HEAD";
    int status = 200;
    if (bad_length) {
      c.close_after = true;
      status = 400;
      respond(c, status, "Bad Request", "bad Content-Length\n", false);
    } else if (chunked) {
      c.close_after = true;
      status = 411;
      respond(c, status, "Length Required", "send a Content-Length\n", false);
    } else {
      c.discard = length;
      if (method != "GET" && !head_only) {
        status = 405;
        respond(c, status, "Method Not Allowed", "GET or HEAD\n", false);
      } else if (target == "/healthz") {
        respond(c, status, "OK", "ok\n", head_only);
      } else {
        ++g_requests;
        std::string body = g_greeting + " (instance " + g_host + ", request " +
                           std::to_string(g_requests) + ")\n";
        respond(c, status, "OK", body, head_only);
      }
    }
    std::printf("%s %s %d\n", method.c_str(), target.c_str(), status);
    std::fflush(stdout);
  }
}

void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  if (const char* p = std::getenv("PORT"); p && *p) port = std::atoi(p);
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: svc-hello [--port N]  (default: $PORT, else 8080)\n");
      return 2;
    }
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "svc-hello: port %d is not a TCP port\n", port);
    return 2;
  }
  if (const char* g = std::getenv("GREETING"); g && *g) g_greeting = g;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) g_host = host;

  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR and the loop sees g_stop
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  bool v6 = lfd >= 0;
  if (!v6) lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    std::perror("svc-hello: socket");
    return 1;
  }
  int one = 1, zero = 0;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // both families
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<std::uint16_t>(port));
    addr.sin6_addr = in6addr_any;
    rc = bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    rc = bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0 || listen(lfd, 1024) != 0) {
    std::fprintf(stderr, "svc-hello: listen on port %d: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::printf("svc-hello: listening on port %d\n", port);
  std::fflush(stdout);

  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  char buf[16 * 1024];
  for (;;) {
    if (g_stop) {
      if (lfd >= 0) {
        close(lfd);
        lfd = -1;
      }
      // Idle connections (nothing read, nothing to write) close now; a busy one gets its
      // answer with `Connection: close` (serve() sees g_stop) and closes after it.
      for (auto& c : conns) {
        if (c.fd >= 0 && c.in.empty() && c.out.empty() && c.discard == 0) {
          close(c.fd);
          c.fd = -1;
        }
      }
    }
    std::erase_if(conns, [](const Connection& c) { return c.fd < 0; });
    if (g_stop && conns.empty()) break;
    fds.clear();
    if (lfd >= 0) fds.push_back({lfd, POLLIN, 0});
    for (auto& c : conns)
      fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("svc-hello: poll");
      return 1;
    }
    std::size_t first = 0;
    if (lfd >= 0) {
      first = 1;
      if (fds[0].revents & POLLIN) {
        for (;;) {
          int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;  // EAGAIN, or a client gone before we took it
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns.push_back(Connection{cfd, {}, {}, 0, false});
        }
      }
    }
    // conns may have grown; only the ones polled have an entry in fds.
    for (std::size_t i = first; i < fds.size(); ++i) {
      Connection& c = conns[i - first];
      if (fds[i].revents == 0) continue;
      if (!c.out.empty()) {
        ssize_t n = write(c.fd, c.out.data(), c.out.size());
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          close(c.fd);
          c.fd = -1;
          continue;
        }
        if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
        if (c.out.empty() && c.close_after) {
          close(c.fd);
          c.fd = -1;
        } else if (c.out.empty()) {
          serve(c);  // requests pipelined behind the one just answered
        }
        continue;
      }
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(c.fd);
        c.fd = -1;
        continue;
      }
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        serve(c);
      }
    }
  }
  std::printf("svc-hello: stopped after %llu requests\n", g_requests);
  return 0;
}
