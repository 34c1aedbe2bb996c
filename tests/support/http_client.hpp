#pragma once
// A blocking HTTP/1.1 client for tests, on a raw socket, so a test can send exactly the bytes it
// means (pipelined requests, smuggling attempts, a body that stops half-way) and read exactly
// what came back (interim 100 responses, chunked framing, a connection closed by the peer).
// Owns its socket; every read has a timeout so a hung server fails the test instead of ctest.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace svc::test {

struct HttpResponse {
  int status = 0;
  std::string version;  // "HTTP/1.1"
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  // "" when absent; the first one when repeated.
  std::string header(std::string_view name) const;
  std::size_t count(std::string_view name) const;
};

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit HttpConnection(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  // Reads one response (interim 1xx ones too: the caller sees "100 Continue" as a response).
  // head_only: a response to HEAD (no body whatever the headers say). nullopt on EOF, error,
  // timeout or a response this client cannot parse; last_error() says which.
  std::optional<HttpResponse> read_response(bool head_only = false);
  // Reads only the status line and headers; then read_some() takes body bytes as they come.
  std::optional<HttpResponse> read_head();
  // Up to max bytes already buffered or read now ("" on EOF/timeout).
  std::string read_some(std::size_t max = 65536);
  // True when the peer closed (EOF or reset) within the timeout, with no more bytes to read
  // first; false when bytes came or the timeout passed.
  bool closed_by_peer();
  // Everything until EOF (for responses delimited by the connection's end).
  std::string read_to_eof();
  void shutdown_write();
  const std::string& last_error() const { return error_; }
  int fd() const { return fd_; }

 private:
  bool fill();
  bool read_line(std::string& line);
  bool read_exact(std::size_t n, std::string& out);

  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

// One request on a fresh connection: METHOD path with Host host (and body, Content-Length).
std::optional<HttpResponse> http_request(int port, std::string_view method, std::string_view host,
                                         std::string_view path, std::string_view body = {},
                                         std::string_view extra_headers = {});

// "GET path HTTP/1.1\r\nHost: host\r\n<extra>\r\n" with a body and its Content-Length if any.
std::string request_bytes(std::string_view method, std::string_view host, std::string_view path,
                          std::string_view body = {}, std::string_view extra_headers = {});

// Waits for a line containing needle in the file at path (a process's log); false on timeout.
bool wait_for_line(const std::string& path, std::string_view needle,
                   std::chrono::milliseconds timeout);

}  // namespace svc::test
