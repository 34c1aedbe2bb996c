#pragma once
// Message heads as the proxy core sees them, whatever codec read them (HTTP/1.1 now, HTTP/2
// next): the method, target and fields as views into the codec's read buffer (nothing is
// copied per request), plus the framing facts the codec established while validating.
// A head is valid while its codec's buffer stays put: until the exchange has sent it on.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace svc::ingress {

struct Field {
  std::string_view name;   // as received (case preserved)
  std::string_view value;  // without surrounding whitespace
};

struct RequestHead {
  std::string_view method;
  std::string_view target;     // as received
  std::string_view path;       // origin-form: "/a/b?q" (of an absolute-form target too), or "*"
  std::string_view authority;  // the Host (or absolute-form authority) the request is routed by
  int version = 11;            // 10 or 11 (HTTP/2 streams: 20)
  std::vector<Field> fields;   // in order, repeated names kept
  std::optional<std::uint64_t> content_length;
  bool chunked = false;          // body in chunked framing
  bool keep_alive = true;        // the client allows another request on this connection
  bool expect_continue = false;  // Expect: 100-continue
  bool upgrade = false;          // asks for a protocol upgrade (WebSocket, h2c): next issue
  std::size_t head_bytes = 0;    // bytes of the head on the wire

  bool has_body() const { return chunked || (content_length && *content_length > 0); }
  // The path without its query string (for logs and metrics).
  std::string_view path_only() const { return path.substr(0, path.find('?')); }
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version = 11;
  std::vector<Field> fields;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool until_close = false;  // the body ends when the instance closes the connection
  bool no_body = false;      // a response to HEAD, or 1xx/204/304
  bool keep_alive = true;    // the instance allows another request on this connection
  std::size_t head_bytes = 0;
};

// How a response body is framed towards the client.
enum class Framing {
  kNone,        // no body (HEAD, 1xx, 204, 304)
  kLength,      // Content-Length as the instance sent it
  kChunked,     // re-chunked (instance sent chunked, or until-close to an HTTP/1.1 client)
  kUntilClose,  // raw until the connection closes (an HTTP/1.0 client)
};

struct ResponseOut {
  const ResponseHead* head = nullptr;  // status, reason and the instance's fields
  Framing framing = Framing::kLength;
  std::string_view server_timing;  // "" or the phases of the cold start it paid for
  bool close = false;              // the client connection ends after this response
};

}  // namespace svc::ingress
