#pragma once
// HTTP/1.1 message parsing for the proxy: Boost.Beast's basic_parser does the framing
// (request/status line, fields, Content-Length, chunked decoding), and these classes add what an
// edge proxy must refuse on top of it (RFC 9112 and the request-smuggling literature):
//   - obs-fold, bare LF and whitespace before the first field: 400 (Beast would fold them);
//   - Content-Length twice, or as a list, or with Transfer-Encoding: 400;
//   - any Transfer-Encoding but a single "chunked" (or one in HTTP/1.0): 400/501;
//   - bad chunk sizes and extensions: 400 (Beast);
//   - heads over Limits::max_header_bytes or with more than max_header_count fields: 431;
//   - no Host, two Hosts or an invalid one in HTTP/1.1: 400; CONNECT: 501; an Expect other than
//     100-continue: 417; a version other than 1.0/1.1: 505.
// Beast stays inside http1_parser.cpp (it costs ~20 s of compile time per file that includes it).
//
// Views in the heads and body pieces point into the bytes given; the caller keeps them in place
// until it is done with them. One parser per connection, reset per message: no allocation per
// request once the field vector has grown.
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "scheduler/ingress/message.hpp"
#include "scheduler/ingress/options.hpp"

namespace svc::ingress {

enum class Parse { kDone, kNeedMore, kError };

struct ParseError {
  int status = 0;         // what to answer (400, 417, 431, 501, 505; 502 for responses)
  std::string_view what;  // static text, for the client and the log
};

class RequestParser {
 public:
  explicit RequestParser(const Limits& limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Starts the next message.
  void reset();
  // bytes: everything buffered from the message's first byte. kDone: head() is valid and its
  // head_bytes are the ones used; kNeedMore: call again with the same bytes and more.
  Parse parse_head(std::string_view bytes);
  // bytes: buffered body bytes after the head (or after what earlier calls consumed). Appends
  // the body's pieces (views into bytes) to pieces and sets consumed; kDone once the body ended
  // (body_done()), kNeedMore when more bytes are needed to go on.
  Parse parse_body(std::string_view bytes, std::vector<std::string_view>& pieces,
                   std::size_t& consumed);
  bool body_done() const;
  // Body bytes still expected with Content-Length framing (nullopt when chunked).
  std::optional<std::uint64_t> body_remaining() const;

  RequestHead& head();
  const RequestHead& head() const;
  const ParseError& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ResponseParser {
 public:
  explicit ResponseParser(const Limits& limits);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Starts the next response; head_request: it answers a HEAD (no body, whatever it says).
  void reset(bool head_request);
  Parse parse_head(std::string_view bytes);
  Parse parse_body(std::string_view bytes, std::vector<std::string_view>& pieces,
                   std::size_t& consumed);
  // The instance closed the connection: kDone when that ends the body (until_close, or nothing
  // was pending), kError when the message was cut short.
  Parse finish_on_eof();
  bool body_done() const;

  ResponseHead& head();
  const ResponseHead& head() const;
  const ParseError& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svc::ingress
